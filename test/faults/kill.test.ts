// kill -9 at random moments of `index` and of `apply` over a tree of real modules. After each kill: the
// previous index is byte-identical and opens; every module is byte-identical to its original or to the
// fully applied file, and `verify` says which; a re-run of apply, or `apply --revert`, reaches one
// consistent state; the next run leaves no temporary file. KSYMTREE_FAULT_KILLS trials of each (default 6).
import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SQLITE_PACKAGE } from '../../src/db/sqlite.js';
import { CLI } from '../helpers/cli.js';
import { copyTree, faultCount, prng, queryIndex, runCli, seedModules, tempFiles } from './helpers.js';

const require = createRequire(import.meta.url);
const TRIALS = faultCount('KSYMTREE_FAULT_KILLS', 6);
const SEEDS = 12;
/** Debian 6.1 modules of 150 KB–1.5 MB that have in-object duplicates (so apply rewrites them). */
const WITH_ALIASES = ['sha512-ssse3.ko', 'sr_mod.ko', 'dm-zoned.ko', 'autofs4.ko'];
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Starts `ksymtree ARGS` and SIGKILLs it after `delayMs` (or lets it finish first); resolves when it is gone. */
function killAfter(args: readonly string[], delayMs: number): Promise<{ killed: boolean; status: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', status });
    });
  });
}

/** What an index holds, independent of SQLite's page layout: objects, statuses and row counts. */
function contentOf(db: string): string {
  const objects = queryIndex<{ path: string; status: string; symbol_count: number }>(db, 'SELECT path, status, symbol_count FROM objects ORDER BY path');
  const counts = ['symbols', 'sites', 'aliases', 'errors'].map((table) => queryIndex<{ n: number }>(db, `SELECT count(*) AS n FROM ${table}`)[0].n);
  return JSON.stringify({ objects, counts });
}

const seeded = (t: import('ava').ExecutionContext) => {
  const scratch = mkdtempSync(join(tmpdir(), 'ksymtree-faults-kill-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  const { source, modules } = seedModules(scratch, SEEDS, WITH_ALIASES);
  const tree = join(scratch, 'tree');
  const files = copyTree(modules, tree);
  t.log(`tree: ${files.length} modules from ${source}`);
  return { scratch, tree, files };
};

test(`kill -9 during index (${TRIALS} trials): the previous index stays byte-identical and opens`, async (t) => {
  t.timeout(TRIALS * 120_000 + 300_000);
  const { scratch, tree } = seeded(t);
  const db = join(scratch, 'index.db');
  const first = await runCli(['index', tree, '--db', db, '--quiet'], { timeoutMs: 600_000 });
  t.true(first.status === 0 || first.status === 1, first.stderr);
  const content = contentOf(db);
  const full = first.seconds * 1000;
  const rnd = prng(0x9);
  let killed = 0;
  let beforeCommit = 0;
  for (let i = 0; i < TRIALS; i++) {
    const previous = sha(db);
    const r = await killAfter(['index', tree, '--db', db, '--quiet'], Math.floor(full * (0.15 + 0.8 * rnd())));
    if (r.killed) killed++;
    // Killed before its rename: the previous file, byte for byte. After it: the new index, complete (the
    // index's bytes are not reproducible, its content is).
    if (r.killed && sha(db) === previous) beforeCommit++;
    t.deepEqual(contentOf(db), content, `trial ${i}: the index opens, passes integrity_check and holds everything`);
  }
  t.log(`${killed} of ${TRIALS} runs killed (${beforeCommit} before their commit left the old file byte-identical); full run ${first.seconds.toFixed(1)} s`);
  t.true(killed > 0, 'some run was killed');
  const last = await runCli(['index', tree, '--db', db, '--quiet'], { timeoutMs: 600_000 });
  t.true(last.status === 0 || last.status === 1, last.stderr);
  t.deepEqual(tempFiles(scratch), [], 'the next run removed what the killed ones left');
});

test(`kill -9 during apply (${TRIALS} trials): every module original or fully applied, verify says which, re-run or revert converge`, async (t) => {
  t.timeout(TRIALS * 180_000 + 300_000);
  const { scratch, tree, files } = seeded(t);
  const db = join(scratch, 'index.db');
  const indexed = await runCli(['index', tree, '--db', db, '--quiet'], { timeoutMs: 600_000 });
  t.true(indexed.status === 0 || indexed.status === 1, indexed.stderr);
  const original = new Map(files.map((f) => [f, sha(f)]));
  // The reference: a whole apply on a copy.
  const ref = join(scratch, 'ref');
  cpSync(tree, ref, { recursive: true });
  const refDb = join(scratch, 'ref.db');
  cpSync(db, refDb);
  const full = await runCli(['apply', ref, '--db', refDb, '--strip-signature', '--quiet', '--jobs', '1'], { timeoutMs: 600_000 });
  t.is(full.status, 0, full.stderr);
  const applied = new Map(files.map((f) => [f, sha(join(ref, f.slice(tree.length)))]));
  const changed = files.filter((f) => applied.get(f) !== original.get(f));
  t.true(changed.length > 0, 'apply rewrites some module of the seed tree');
  t.log(`${changed.length} of ${files.length} modules get aliases; full apply ${full.seconds.toFixed(1)} s`);

  const rnd = prng(0x42);
  let killed = 0;
  let midway = 0;
  for (let i = 0; i < TRIALS; i++) {
    const work = join(scratch, `trial${i}`);
    cpSync(tree, join(work, 'tree'), { recursive: true });
    cpSync(db, join(work, 'index.db'));
    const wt = join(work, 'tree');
    const wdb = join(work, 'index.db');
    const at = (f: string) => join(wt, f.slice(tree.length));
    const r = await killAfter(['apply', wt, '--db', wdb, '--strip-signature', '--quiet', '--jobs', '1'], Math.floor(full.seconds * 1000 * (0.15 + 0.8 * rnd())));
    if (r.killed) killed++;
    const state = new Map<string, 'original' | 'applied'>();
    for (const f of files) {
      const h = sha(at(f));
      const s = h === original.get(f) ? 'original' : h === applied.get(f) ? 'applied' : null;
      t.not(s, null, `trial ${i}: ${f.slice(tree.length)} is neither its original nor the applied file`);
      if (s) state.set(f, s);
    }
    const appliedNow = changed.filter((f) => state.get(f) === 'applied').length;
    if (appliedNow > 0 && appliedNow < changed.length) midway++;
    // verify names every module that is not applied-and-recorded, and only those.
    const v = await runCli(['verify', wt, '--db', wdb], { timeoutMs: 300_000 });
    t.true(v.status === 0 || v.status === 1, `trial ${i}: verify ran: ${v.stderr}`);
    const said = new Map(v.stdout.split('\n').filter(Boolean).map((l) => {
      const [what, path] = l.split('\t');
      return [path, what];
    }));
    for (const f of changed) {
      const what = said.get(at(f));
      if (state.get(f) === 'original') t.is(what, 'not-applied', `trial ${i}: verify on an original module`);
      else t.true(what === undefined || what === 'unrecorded', `trial ${i}: verify on an applied module says ${what}`);
    }
    // Half the trials finish by re-running apply, half by reverting: each reaches one state.
    const revert = i % 2 === 1;
    const fin = await runCli(['apply', wt, '--db', wdb, ...(revert ? ['--revert'] : ['--strip-signature']), '--quiet'], { timeoutMs: 600_000 });
    t.is(fin.status, 0, fin.stderr);
    for (const f of files) t.is(sha(at(f)), (revert ? original : applied).get(f)!, `trial ${i}: ${revert ? 'revert' : 're-run'} converges for ${f.slice(tree.length)}`);
    const after = await runCli(['verify', wt, '--db', wdb], { timeoutMs: 300_000 });
    if (!revert) t.is(after.status, 0, `trial ${i}: verify after the re-run: ${after.stdout}`);
    t.deepEqual(tempFiles(work), [], `trial ${i}: no temporary file left after the finishing run`);
  }
  t.log(`${killed} of ${TRIALS} applies killed, ${midway} with the tree half-applied`);
  t.true(killed > 0, 'some apply was killed');
});

test('an index write killed mid-transaction (a hot journal) is rolled back: read commands and verify still open the index', async (t) => {
  const { scratch, tree } = seeded(t);
  const db = join(scratch, 'index.db');
  const indexed = await runCli(['index', tree, '--db', db, '--quiet'], { timeoutMs: 600_000 });
  t.true(indexed.status === 0 || indexed.status === 1, indexed.stderr);
  const content = contentOf(db);
  // What apply's recording does, killed with a page of the index already overwritten.
  const script = `const D = require(${JSON.stringify(require.resolve(SQLITE_PACKAGE))}); const d = new D(${JSON.stringify(db)});
    d.pragma('cache_size = 1'); d.exec('BEGIN');
    const st = d.prepare("INSERT INTO errors (object_id, path, offset, kind, message) VALUES (NULL, ?, 0, 'format', ?)");
    for (let i = 0; i < 20000; i++) st.run('p' + i, 'x'.repeat(200));
    process.kill(process.pid, 'SIGKILL');`;
  await new Promise((resolve) => spawn(process.execPath, ['-e', script], { stdio: 'ignore' }).on('close', resolve));
  t.true(existsSync(`${db}-journal`), 'the killed writer left a hot journal');
  const v = await runCli(['verify', tree, '--db', db], { timeoutMs: 300_000 });
  t.true(v.status === 0 || v.status === 1, `verify opens the index: ${v.stderr}`);
  t.is(contentOf(db), content, 'the half-written transaction is gone');
});
