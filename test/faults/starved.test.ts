// Starved and contended runs: a full disk (a small tmpfs) during index and apply, two runs at once on one
// index or tree, unreadable files and directories, a read-only tree for apply. Each gets a clear error or
// error rows; the old index stays intact, no module is truncated, no temporary file is left.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { acquireLock } from '../../src/db/lock.js';
import { CLI } from '../helpers/cli.js';
import { copyTree, queryIndex, runCli, seedModules, tempFiles } from './helpers.js';

const WITH_ALIASES = ['sha512-ssse3.ko', 'sr_mod.ko', 'dm-zoned.ko', 'autofs4.ko'];
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const isRoot = process.getuid?.() === 0;

function scratchTree(t: import('ava').ExecutionContext, count = 8) {
  const scratch = mkdtempSync(join(tmpdir(), 'ksymtree-faults-starved-'));
  t.teardown(() => {
    execFileSync('chmod', ['-R', 'u+rwX', scratch]);
    rmSync(scratch, { recursive: true, force: true });
  });
  const { source, modules } = seedModules(scratch, count, WITH_ALIASES);
  const tree = join(scratch, 'tree');
  const files = copyTree(modules, tree);
  t.log(`tree: ${files.length} modules from ${source}`);
  return { scratch, tree, files };
}

/** Mounts a tmpfs of `size` on `dir` (root), or says why not; unmounted at teardown. */
function smallDisk(t: import('ava').ExecutionContext, dir: string, size: string): string | null {
  mkdirSync(dir, { recursive: true });
  if (!isRoot) return 'mounting a tmpfs needs root';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    return `mount -t tmpfs failed: ${(e as Error).message.split('\n')[0]}`;
  }
  t.teardown(() => execFileSync('umount', ['-l', dir]));
  return null;
}

const canMount = isRoot;
/** Without root the disk-full tests are skipped, and their titles say why. */
const diskTest = (title: string) => (canMount ? title : `${title} (SKIPPED: mounting a tmpfs needs root)`);
(canMount ? test : test.skip)(diskTest('disk full during index: a clear error, exit 2, the old index intact, no temporary file'), async (t) => {
  const { scratch, tree, files } = scratchTree(t);
  // An old index of one module, then an index of the whole tree (--all-sites: every symbol's site) on a
  // disk that holds the old one and half of the new one, as measured on a roomy disk first.
  const small = join(scratch, 'small');
  mkdirSync(small);
  cpSync(files[0], join(small, 'first.ko'));
  const sizeOf = async (input: string, extra: string[]) => {
    const probe = join(scratch, 'probe.db');
    await runCli(['index', input, '--db', probe, '--quiet', ...extra], { timeoutMs: 300_000 });
    const n = statSync(probe).size;
    rmSync(probe);
    return n;
  };
  const oldSize = await sizeOf(small, []);
  const newSize = await sizeOf(tree, ['--all-sites']);
  const disk = join(scratch, 'disk');
  const why = smallDisk(t, disk, String(Math.ceil((oldSize + newSize / 2) / 4096) * 4096));
  if (why) return t.fail(why);
  t.log(`old index ${oldSize} bytes, new ${newSize} bytes`);
  const db = join(disk, 'index.db');
  const first = await runCli(['index', small, '--db', db, '--quiet'], { timeoutMs: 300_000 });
  t.is(first.status, 0, first.stderr);
  const before = sha(db);
  const r = await runCli(['index', tree, '--db', db, '--all-sites', '--quiet'], { timeoutMs: 600_000 });
  t.is(r.status, 2, `exit 2; stderr: ${r.stderr}`);
  t.regex(r.stderr, /ENOSPC|no space|full/i, 'the error says the disk is full');
  t.notRegex(r.stderr, /\n\s+at /, 'a message, not a stack trace');
  t.is(sha(db), before, 'the old index is byte-identical');
  t.is(queryIndex<{ n: number }>(db, 'SELECT count(*) AS n FROM objects')[0].n, 1, 'and opens');
  t.deepEqual(tempFiles(disk), [], 'no temporary file left on the full disk');
});

(canMount ? test : test.skip)(diskTest('disk full during apply: modules untouched or fully applied, never truncated; no temporary file'), async (t) => {
  const { scratch, tree, files } = scratchTree(t);
  const db = join(scratch, 'index.db');
  const idx = await runCli(['index', tree, '--db', db, '--quiet'], { timeoutMs: 300_000 });
  t.true(idx.status === 0 || idx.status === 1, idx.stderr);
  // The tree on a tmpfs just larger than itself: the first rewrites fit, later ones do not.
  const disk = join(scratch, 'disk');
  const total = files.reduce((n, f) => n + statSync(f).size, 0);
  const why = smallDisk(t, disk, `${Math.ceil((total + (64 << 10)) / 4096) * 4096}`);
  if (why) return t.fail(why);
  cpSync(tree, join(disk, 'tree'), { recursive: true });
  const moved = join(disk, 'tree');
  // The index knows the modules by their old paths; apply TREE finds them under the copy.
  const original = new Map(files.map((f) => [f, sha(f)]));
  const r = await runCli(['apply', moved, '--db', db, '--strip-signature', '--quiet'], { timeoutMs: 600_000 });
  t.log(r.stdout);
  t.is(r.status, 1, `exit 1: some modules failed; stderr ${r.stderr}`);
  t.regex(r.stdout, /failed\t\d+\t.*(ENOSPC|no space)/i, 'the failed module says the disk is full');
  const failed = r.stdout.split('\n').filter((l) => l.startsWith('failed\t')).map((l) => l.split('\t')[2]);
  for (const f of failed) t.is(sha(f), original.get(join(tree, f.slice(moved.length)))!, `${f}: untouched`);
  t.deepEqual(tempFiles(disk), [], 'no temporary file left');
  const v = await runCli(['verify', moved, '--db', db], { timeoutMs: 300_000 });
  for (const f of failed) t.true(v.stdout.includes(`not-applied\t${f}`), `verify says ${f} is not applied`);
});

/** Starts `ksymtree ARGS`; resolves with its exit status and stderr. */
function start(args: readonly string[]): { done: Promise<{ status: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => err.push(b));
  return { done: new Promise((resolve) => child.on('close', (status) => resolve({ status, stderr: Buffer.concat(err).toString() }))) };
}

test('two index runs on one --db, two apply runs on one tree, revert while index: the second waits for the first; nothing corrupt', async (t) => {
  const { scratch, tree, files } = scratchTree(t);
  const db = join(scratch, 'index.db');
  const ok = (s: number | null) => s === 0 || s === 1;
  const waited = (rs: { stderr: string }[]) => rs.filter((r) => /waiting for another ksymtree run/.test(r.stderr)).length;
  let waits = 0;
  // Two indexes at once.
  const [a, b] = await Promise.all([start(['index', tree, '--db', db, '--quiet']).done, start(['index', tree, '--db', db, '--quiet']).done]);
  t.true(ok(a.status) && ok(b.status), `both indexes ran: ${a.stderr} ${b.stderr}`);
  waits += waited([a, b]);
  t.true(queryIndex<{ n: number }>(db, 'SELECT count(*) AS n FROM symbols')[0].n > 0, 'the index is complete and opens');
  // Two applies at once: one rewrites, the other then finds every module applied.
  const original = new Map(files.map((f) => [f, sha(f)]));
  const [c, d] = await Promise.all([start(['apply', tree, '--db', db, '--strip-signature', '--quiet']).done,
    start(['apply', tree, '--db', db, '--strip-signature', '--quiet']).done]);
  t.true(c.status === 0 && d.status === 0, `both applies ran: ${c.stderr} ${d.stderr}`);
  waits += waited([c, d]);
  const v = await runCli(['verify', tree, '--db', db], { timeoutMs: 300_000 });
  t.is(v.status, 0, `verify after the concurrent applies: ${v.stdout}`);
  // Revert while an index runs.
  const [e, f] = await Promise.all([start(['apply', tree, '--db', db, '--revert', '--quiet']).done, start(['index', tree, '--db', db, '--quiet']).done]);
  t.true(e.status === 0 && ok(f.status), `revert and index ran: ${e.stderr} ${f.stderr}`);
  waits += waited([e, f]);
  t.true(queryIndex<{ n: number }>(db, 'SELECT count(*) AS n FROM symbols')[0].n > 0, 'the index opens after index-while-revert');
  for (const file of files) t.is(sha(file), original.get(file)!, `${file}: reverted exactly`);
  t.deepEqual(tempFiles(scratch), [], 'no temporary file left');
  t.log(`${waits} of 3 pairs overlapped (the second run said it was waiting)`);
});

test('a held lock and KSYMTREE_LOCK_TIMEOUT=0: index, apply and revert on that index exit 2 naming it; the index is untouched', async (t) => {
  const { scratch, tree } = scratchTree(t, 4);
  const db = join(scratch, 'index.db');
  const first = await runCli(['index', tree, '--db', db, '--quiet'], { timeoutMs: 300_000 });
  t.true(first.status === 0 || first.status === 1, first.stderr);
  const before = sha(db);
  const lock = acquireLock(`${db}.lock`, 'the test');
  try {
    for (const args of [['index', tree], ['apply', tree, '--strip-signature'], ['apply', tree, '--revert']]) {
      const r = await runCli([...args, '--db', db, '--quiet'], { timeoutMs: 300_000, env: { ...process.env, KSYMTREE_LOCK_TIMEOUT: '0' } });
      t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      t.regex(r.stderr, /another ksymtree run is writing .*index\.db.*index\.db\.lock/, args.join(' '));
    }
  } finally {
    lock.release();
  }
  t.is(sha(db), before, 'the index is untouched');
  const after = await runCli(['index', tree, '--db', db, '--quiet'], { timeoutMs: 300_000 });
  t.true(after.status === 0 || after.status === 1, `released: index runs again: ${after.stderr}`);
});

/** Runs as nobody when root (root reads anything); as ourselves otherwise. */
const asUser = isRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] : [];

test('unreadable files and directories: error rows naming them, everything else indexed', async (t) => {
  const { scratch, tree, files } = scratchTree(t, 6);
  execFileSync('chmod', ['-R', 'a+rX', scratch]);
  chmodSync(scratch, 0o777);
  const [hidden, ...rest] = files;
  chmodSync(hidden, 0o000);
  const closedDir = join(tree, 'closed');
  mkdirSync(closedDir);
  cpSync(rest[0], join(closedDir, 'inside.ko'));
  chmodSync(closedDir, 0o000);
  const db = join(scratch, 'perm.db');
  const r = await runCli(['index', tree, '--db', db, '--quiet'], { timeoutMs: 300_000, prefix: asUser });
  t.is(r.status, 1, r.stderr);
  const errors = queryIndex<{ path: string; message: string }>(db, 'SELECT path, message FROM errors');
  t.true(errors.some((e) => e.path === hidden && /EACCES|permission/i.test(e.message)), `the unreadable file is named: ${JSON.stringify(errors)}`);
  t.true(errors.some((e) => e.path.startsWith(closedDir) && /EACCES|permission/i.test(e.message)), 'the unreadable directory is named');
  const indexed = queryIndex<{ path: string }>(db, "SELECT path FROM objects WHERE status = 'ok'").map((o) => o.path);
  for (const f of rest) t.true(indexed.includes(f), `${f} indexed`);
});

test('apply on a read-only tree: each module fails with a clear reason, nothing changes, no temporary file', async (t) => {
  const { scratch, tree, files } = scratchTree(t);
  execFileSync('chmod', ['-R', 'a+rX', scratch]);
  chmodSync(scratch, 0o777);
  const db = join(scratch, 'ro.db');
  const idx = await runCli(['index', tree, '--db', db, '--quiet'], { timeoutMs: 300_000 });
  t.true(idx.status === 0 || idx.status === 1, idx.stderr);
  chmodSync(db, 0o666);
  writeFileSync(`${db}.lock`, '');
  chmodSync(`${db}.lock`, 0o666);
  const original = new Map(files.map((f) => [f, sha(f)]));
  for (const d of new Set(files.map((f) => dirname(f)))) chmodSync(d, 0o555);
  const r = await runCli(['apply', tree, '--db', db, '--strip-signature', '--quiet'], { timeoutMs: 300_000, prefix: asUser });
  t.log(r.stdout);
  t.is(r.status, 1, r.stderr);
  t.regex(r.stdout, /failed\t\d+\t.*(EACCES|permission|read-only)/i, 'the reason says why');
  for (const f of files) t.is(sha(f), original.get(f)!, `${f} unchanged`);
  t.deepEqual(tempFiles(scratch), [], 'no temporary file left');
});
