// debuginfod (issue 17) on fixtures: the installed (stripped) fixture modules plus a vmlinuz whose debug vmlinux
// carries DWARF and a build-id. Fetched through elfutils' own server, the aliases equal byte for byte those of
// `--debug-dir`; a scripted server gives the faults (404, another build-id's file, a cut download, a server that
// stops, one that never answers). Build-ids come from readelf, the copies' order from nm -n.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { debuginfodConfig } from '../src/debuginfod/client.js';
import { buildFixtures } from './helpers/build-fixtures.js';
import { buildKallsymsFixtures } from './helpers/build-kallsyms-fixtures.js';
import { CLI, ksymtree } from './helpers/cli.js';
import { type Answer, type RunningServer, debuginfodMissing, startDebuginfod, startScriptedServer } from './helpers/debuginfod-server.js';

const work = mkdtempSync(join(tmpdir(), 'ksymtree-debuginfod-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));
let runs = 0;

interface Setup {
  installed: string;
  vmlinuz: string;
  debugDir: string;
  /** build-id → debug file, for the objects that have in-object duplicates (vmlinux, foo.ko) and one that has none. */
  ids: { vmlinux: string; foo: string; bar: string };
  files: Map<string, string>;
  /** `aliases --format tsv` of the --debug-dir run without the debug tree's own vmlinux, and of a run without DWARF. */
  expected: string;
  weak: string;
}

function buildIdOf(file: string): string {
  const m = /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', file], { encoding: 'utf8' }));
  if (!m) throw new Error(`readelf -n ${file}: no build-id`);
  return m[1];
}

async function aliasesTsv(db: string): Promise<string> {
  const r = await ksymtree(['aliases', '--db', db, '--format', 'tsv']);
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
}

/** Lines of one object (first column) in an aliases TSV. */
function rowsOf(tsv: string, object: string): string[] {
  return tsv.split('\n').filter((l) => l.startsWith(`${object}\t`));
}

const setup: Promise<Setup> = (async () => {
  const [fx, kx] = await Promise.all([buildFixtures(), buildKallsymsFixtures()]);
  if (!kx.debugKernel) throw new Error('the x86_64 kallsyms fixtures (gcc) could not be built: no debug kernel');
  const debugDir = join(work, 'debug');
  mkdirSync(debugDir);
  symlinkSync(join(fx.debug.root, 'kernel'), join(debugDir, 'kernel'));
  symlinkSync(kx.debugKernel.vmlinux, join(debugDir, 'vmlinux'));
  const [foo, bar] = ['foo.ko', 'bar.ko'].map((m) => fx.debug.modules.find((p) => p.endsWith(`/${m}`))!);
  const ids = { vmlinux: buildIdOf(kx.debugKernel.vmlinux), foo: buildIdOf(foo), bar: buildIdOf(bar) };
  const files = new Map([[ids.vmlinux, kx.debugKernel.vmlinux], [ids.foo, foo], [ids.bar, bar]]);
  const base = { installed: fx.installed.root, vmlinuz: kx.debugKernel.vmlinuz, debugDir, ids, files, expected: '', weak: '' };
  const withDebugDir = await index(base, {}, ['--debug-dir', debugDir]);
  if (withDebugDir.status !== 0) throw new Error(withDebugDir.stderr);
  const without = await index(base, {});
  if (without.status !== 0) throw new Error(without.stderr);
  const debugVmlinux = `${join(debugDir, 'vmlinux')}\t`;
  return { ...base, expected: withDebugDir.tsv.split('\n').filter((l) => !l.startsWith(debugVmlinux)).join('\n'), weak: without.tsv };
})();

/** `index INSTALLED VMLINUZ` into a fresh index with its own debuginfod cache (unless given), then its aliases. */
async function index(s: Pick<Setup, 'installed' | 'vmlinuz'>, env: Record<string, string | undefined>, args: string[] = [], cache = join(work, `cache-${++runs}`)) {
  const db = join(work, `index-${++runs}.db`);
  const r = await ksymtree(['index', s.installed, s.vmlinuz, '--db', db, '--quiet', ...args], { env: { DEBUGINFOD_CACHE_PATH: cache, ...env } });
  return { ...r, db, cache, server: env.DEBUGINFOD_URLS ?? '', tsv: r.status === 2 ? '' : await aliasesTsv(db) };
}

/** `index` with `server` as DEBUGINFOD_URLS; the server is stopped after it, however it ends. */
async function through(server: RunningServer, s: Setup, env: Record<string, string> = {}, args: string[] = [], cache?: string) {
  try {
    return await index(s, { DEBUGINFOD_URLS: server.url, ...env }, args, cache);
  } finally {
    await server.stop();
  }
}

/** Serves each build-id's debug file, except where `special` answers instead. */
function serving(files: Map<string, string>, special: Record<string, Answer> = {}): Answer {
  return (id, res, socket) => {
    if (special[id]) return special[id](id, res, socket);
    const file = files.get(id);
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(readFileSync(file));
  };
}

const missing = debuginfodMissing();
(missing ? test.skip : test.serial)(`elfutils' debuginfod serving the debug tree: aliases byte for byte those of --debug-dir, only objects with duplicates fetched, the cache then serves a rerun with the server gone${missing ? ` [skipped: ${missing}]` : ''}`, async (t) => {
  const s = await setup;
  const r = await through(await startDebuginfod(s.debugDir, 60_000), s);
  t.is(r.status, 0, r.stderr);
  t.is(r.tsv, s.expected);
  t.regex(r.stderr, /debuginfod \(http:\/\/127\.0\.0\.1:\d+\): 2 debug files fetched \([\d.]+ MB\), 0 from the cache/);
  // vmlinux and foo.ko have in-object duplicates; bar.ko and baz-qux.ko have none and are not asked for.
  t.deepEqual(readdirSync(r.cache).sort(), [s.ids.vmlinux, s.ids.foo].sort());
  for (const id of [s.ids.vmlinux, s.ids.foo]) {
    t.deepEqual(readdirSync(join(r.cache, id)), ['debuginfo']);
    t.true(readFileSync(join(r.cache, id, 'debuginfo')).equals(readFileSync(s.files.get(id)!)), `${id}: the cached file is the debug file`);
  }
  const again = await index(s, { DEBUGINFOD_URLS: r.server }, [], r.cache);
  t.is(again.status, 0, again.stderr);
  t.is(again.tsv, s.expected);
  t.regex(again.stderr, /0 debug files fetched \(0\.0 MB\), 2 from the cache/);
  t.true(readFileSync(again.db).equals(readFileSync(r.db)), 'fetched or cached, the same index file byte for byte');
});

test.serial('without a debuginfod URL nothing is fetched; the vmlinuz copies still get NAME@SYMPOS aliases in nm -n order', async (t) => {
  const s = await setup;
  const r = await index(s, {});
  t.is(r.status, 0, r.stderr);
  t.false(existsSync(r.cache), 'no cache directory: no debuginfod client ran');
  t.false(/ksymtree: debuginfod/.test(r.stderr), r.stderr);
  const nm = execFileSync('nm', ['-n', (await buildKallsymsFixtures()).debugKernel!.vmlinux], { encoding: 'utf8' });
  for (const name of ['helper', 'duplicate_data']) {
    const addresses = nm.split('\n').filter((l) => l.endsWith(` ${name}`)).map((l) => l.split(' ')[0]);
    t.is(addresses.length, 2);
    const rows = rowsOf(r.tsv, s.vmlinuz).map((l) => l.split('\t')).filter((c) => c[2] === name).sort((a, b) => Number(a[4]) - Number(b[4]));
    t.deepEqual(rows.map((c) => [c[3], c[4], c[6]]), addresses.map((a, k) => [`${name}@${k + 1}`, String(k + 1), a]));
  }
});

test.serial('--debuginfod URL replaces DEBUGINFOD_URLS, symbolize reads the fetched file; a non-HTTP URL is a usage error', async (t) => {
  const s = await setup;
  const server = await startScriptedServer(serving(s.files));
  try {
    const r = await index(s, { DEBUGINFOD_URLS: 'http://127.0.0.1:1' }, ['--debuginfod', server.url]);
    t.is(r.status, 0, r.stderr);
    t.is(r.tsv, s.expected);
    t.deepEqual(server.requests.sort(), [s.ids.vmlinux, s.ids.foo].map((id) => `/buildid/${id}/debuginfo`).sort());
    // symbolize reads the fetched file too: each copy's address, as llvm-symbolizer-19 places it in the debug vmlinux.
    const vmlinux = s.files.get(s.ids.vmlinux)!;
    const copies = execFileSync('nm', ['-n', vmlinux], { encoding: 'utf8' }).split('\n').filter((l) => l.endsWith(' t helper'));
    t.is(copies.length, 2);
    for (const line of copies) {
      const address = `0x${line.split(' ')[0]}`;
      const [fn, where] = execFileSync('llvm-symbolizer-19', [`--obj=${vmlinux}`, address], { encoding: 'utf8' }).split('\n');
      const [file, lineNo] = where.split(':');
      const ours = await ksymtree(['symbolize', '--db', r.db, address]);
      t.is(ours.status, 0, ours.stderr);
      t.is(fn, 'helper');
      t.regex(ours.stdout, new RegExp(`^${address} helper@\\S+ (\\S+):${lineNo}\n$`));
      t.true(file.endsWith(`/${/ (\S+):\d+\n$/.exec(ours.stdout)![1]}`), `${ours.stdout} vs ${where}`);
    }
  } finally {
    await server.stop();
  }
  const bad = await index(s, {}, ['--debuginfod', 'ftp://example.org']);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /ftp:\/\/example\.org: expected an http:\/\/ or https:\/\/ URL/);
});

test.serial('a 404 for one build-id: a warning naming the object, its weaker aliases, everything else as with --debug-dir', async (t) => {
  const s = await setup;
  const r = await through(await startScriptedServer(serving(s.files, { [s.ids.foo]: (_, res) => void res.writeHead(404).end() })), s);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /\/foo\.ko: no debug file on any debuginfod server/);
  t.regex(r.stderr, /1 debug files fetched .*1 not found, 0 failed/);
  const foo = rowsOf(s.weak, join(s.installed, 'kernel/drivers/foo/foo.ko'));
  t.true(foo.length > 0);
  t.deepEqual(rowsOf(r.tsv, foo[0].split('\t')[0]), foo, 'foo.ko: the aliases of a run without DWARF');
  t.deepEqual(rowsOf(r.tsv, s.vmlinuz), rowsOf(s.expected, s.vmlinuz));
  t.false(existsSync(join(r.cache, s.ids.foo, 'debuginfo')));
});

/** Each fault on one object: its error row, its weaker aliases, the other object's full ones, no cache entry. */
async function faultCase(t: import('ava').ExecutionContext, victim: 'vmlinux' | 'foo', answer: (s: Setup) => Answer, message: RegExp,
  env: Record<string, string> = {}) {
  const s = await setup;
  const r = await through(await startScriptedServer(serving(s.files, { [s.ids[victim]]: answer(s) })), s, env);
  t.is(r.status, 1, r.stderr);
  const objectOf = { vmlinux: s.vmlinuz, foo: join(s.installed, 'kernel/drivers/foo/foo.ko') };
  const errors = JSON.parse((await ksymtree(['errors', '--db', r.db, '--format', 'json'])).stdout) as { path: string; kind: string; message: string }[];
  t.deepEqual(errors.map((e) => [e.path, e.kind]), [[objectOf[victim], 'debuginfod']]);
  t.regex(errors[0].message, message);
  t.true(errors[0].message.includes(s.ids[victim]), 'the message names the build-id');
  const other = victim === 'vmlinux' ? 'foo' : 'vmlinux';
  t.deepEqual(rowsOf(r.tsv, objectOf[victim]), rowsOf(s.weak, objectOf[victim]), `${victim}: the aliases of a run without DWARF`);
  t.deepEqual(rowsOf(r.tsv, objectOf[other]), rowsOf(s.expected, objectOf[other]), `${other}: unaffected`);
  const entry = join(r.cache, s.ids[victim]);
  t.deepEqual(existsSync(entry) ? readdirSync(entry) : [], [], 'nothing landed in the cache, no temporary file left');
}

test.serial('a server answering with another build-id\'s file: an error row, nothing cached', (t) =>
  faultCase(t, 'foo', (s) => (_, res) => void res.writeHead(200).end(readFileSync(s.files.get(s.ids.bar)!)), /expected build-id [0-9a-f]+, the file has [0-9a-f]+/));

test.serial('a download cut short (the server dies halfway through the vmlinux debug file): an error row, nothing cached', (t) =>
  faultCase(t, 'vmlinux', (s) => (_, res, socket) => {
    const bytes = readFileSync(s.files.get(s.ids.vmlinux)!);
    res.writeHead(200, { 'Content-Length': bytes.length });
    res.write(bytes.subarray(0, bytes.length >> 1), () => socket.destroy());
  }, /aborted|socket hang up|ECONNRESET|ended after/));

test.serial('a truncated file sent as if whole (Content-Length of the short file): caught by the ELF check, nothing cached', (t) =>
  faultCase(t, 'vmlinux', (s) => (_, res) => void res.writeHead(200).end(readFileSync(s.files.get(s.ids.vmlinux)!).subarray(0, 3000)), /truncated|expected/));

test.serial('a server that never answers: given up after DEBUGINFOD_TIMEOUT, an error row', (t) =>
  faultCase(t, 'foo', () => () => undefined, /no data for 1 s \(DEBUGINFOD_TIMEOUT\)/, { DEBUGINFOD_TIMEOUT: '1' }));

test.serial('the server stops after its first answer: the object it answered has its full aliases, the other an error row', async (t) => {
  const s = await setup;
  let first: string | null = null;
  const server = await startScriptedServer((id, res) => {
    if (first) return void res.socket?.destroy();
    first = id;
    res.writeHead(200).end(readFileSync(s.files.get(id)!), () => void server.stop());
  });
  const r = await through(server, s);
  t.is(r.status, 1, r.stderr);
  const served = first === s.ids.vmlinux ? s.vmlinuz : join(s.installed, 'kernel/drivers/foo/foo.ko');
  const refused = served === s.vmlinuz ? join(s.installed, 'kernel/drivers/foo/foo.ko') : s.vmlinuz;
  t.deepEqual(rowsOf(r.tsv, served), rowsOf(s.expected, served));
  t.deepEqual(rowsOf(r.tsv, refused), rowsOf(s.weak, refused));
  const errors = JSON.parse((await ksymtree(['errors', '--db', r.db, '--format', 'json'])).stdout) as { path: string; kind: string }[];
  t.deepEqual(errors.map((e) => [e.path, e.kind]), [[refused, 'debuginfod']]);
});

test.serial('a corrupt file another client left in the cache is fetched again and replaced', async (t) => {
  const s = await setup;
  const cache = join(work, 'corrupt-cache');
  mkdirSync(join(cache, s.ids.vmlinux), { recursive: true });
  writeFileSync(join(cache, s.ids.vmlinux, 'debuginfo'), 'not an ELF file');
  const r = await through(await startScriptedServer(serving(s.files)), s, {}, [], cache);
  t.is(r.status, 0, r.stderr);
  t.is(r.tsv, s.expected);
  t.true(readFileSync(join(cache, s.ids.vmlinux, 'debuginfo')).equals(readFileSync(s.files.get(s.ids.vmlinux)!)));
});

const findMissing = spawnSync('debuginfod-find', ['--help']).error ? 'debuginfod-find is not installed (Debian package debuginfod)' : null;
(findMissing ? test.skip : test.serial)(`the cache is elfutils' own: index takes what debuginfod-find fetched, debuginfod-find finds what index fetched, both with the server gone${findMissing ? ` [skipped: ${findMissing}]` : ''}`, async (t) => {
  const s = await setup;
  // Asynchronously: the scripted server answers from this process.
  const find = (id: string, url: string, cache: string) => new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile('debuginfod-find', ['debuginfo', id], { encoding: 'utf8', env: { ...process.env, DEBUGINFOD_URLS: url, DEBUGINFOD_CACHE_PATH: cache } },
      (err, stdout, stderr) => resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
  });
  const theirs = join(work, 'elfutils-cache');
  const first = await startScriptedServer(serving(s.files));
  try {
    for (const id of [s.ids.vmlinux, s.ids.foo]) t.is((await find(id, first.url, theirs)).stdout.trim(), join(theirs, id, 'debuginfo'));
  } finally {
    await first.stop();
  }
  const ours = await index(s, { DEBUGINFOD_URLS: first.url }, [], theirs);
  t.is(ours.status, 0, ours.stderr);
  t.is(ours.tsv, s.expected);
  t.regex(ours.stderr, /0 debug files fetched \(0\.0 MB\), 2 from the cache/);

  const second = await startScriptedServer(serving(s.files));
  const fetched = await through(second, s);
  t.is(fetched.status, 0, fetched.stderr);
  const found = await find(s.ids.vmlinux, second.url, fetched.cache);
  t.is(found.status, 0, found.stderr);
  t.is(found.stdout.trim(), join(fetched.cache, s.ids.vmlinux, 'debuginfo'));
});

test('debuginfodConfig: DEBUGINFOD_URLS or --debuginfod, the cache path and the timeout as elfutils reads them', (t) => {
  t.is(debuginfodConfig([], {}), null, 'nothing configured: no client');
  t.is(debuginfodConfig(undefined, { DEBUGINFOD_URLS: '  ' }), null);
  t.deepEqual(debuginfodConfig([], { DEBUGINFOD_URLS: 'http://a/ https://b' }),
    { urls: ['http://a', 'https://b'], cacheDir: join(homedir(), '.cache/debuginfod_client'), timeoutMs: 90_000 });
  t.deepEqual(debuginfodConfig(['http://c'], { DEBUGINFOD_URLS: 'http://a', XDG_CACHE_HOME: '/x', DEBUGINFOD_TIMEOUT: '5' }),
    { urls: ['http://c'], cacheDir: '/x/debuginfod_client', timeoutMs: 5000 });
  t.is(debuginfodConfig([], { DEBUGINFOD_URLS: 'http://a', XDG_CACHE_HOME: '/x', DEBUGINFOD_CACHE_PATH: '/c' })!.cacheDir, '/c');
  t.throws(() => debuginfodConfig([], { DEBUGINFOD_URLS: 'http://a', DEBUGINFOD_TIMEOUT: 'soon' }), { message: /DEBUGINFOD_TIMEOUT=soon: expected a number of seconds/ });
});

const noScript = spawnSync('script', ['--version']).error ? 'script (util-linux) is not installed' : null;
(noScript ? test.skip : test.serial)(`on a terminal a progress line shows the download in flight; with --quiet or no terminal, none${noScript ? ` [skipped: ${noScript}]` : ''}`, async (t) => {
  const s = await setup;
  // The vmlinux debug file in ten pieces a quarter of a second apart: long enough for the line to be drawn.
  const slow: Answer = (id, res) => {
    const bytes = readFileSync(s.files.get(id)!);
    res.writeHead(200, { 'Content-Length': bytes.length });
    let piece = 0;
    const step = Math.ceil(bytes.length / 10);
    const next = () => (piece * step >= bytes.length ? void res.end() : void res.write(bytes.subarray(piece * step, ++piece * step), () => setTimeout(next, 250)));
    next();
  };
  const server = await startScriptedServer(serving(s.files, { [s.ids.vmlinux]: slow }));
  try {
    const cmd = (quiet: string) => `${process.execPath} ${CLI} index ${s.installed} ${s.vmlinuz} --db ${join(work, `tty${quiet}.db`)} ${quiet}`;
    const run = (quiet: string) => new Promise<string>((resolve) => {
      execFile('script', ['-qec', cmd(quiet), '/dev/null'], { encoding: 'utf8', env: { ...process.env, DEBUGINFOD_URLS: server.url, DEBUGINFOD_CACHE_PATH: join(work, `tty-cache${quiet}`) } },
        (_, stdout) => resolve(stdout));
    });
    const shown = await run('');
    t.regex(shown, /\rdebuginfod vmlinuz\.gzip [\d.]+\/[\d.]+ MB/, 'the download, with its size, under the label debuginfod');
    t.false(/\rdebuginfod /.test(await run('--quiet')), '--quiet: no progress line');
  } finally {
    await server.stop();
  }
  const piped = await index(s, { DEBUGINFOD_URLS: 'http://127.0.0.1:1' });
  t.false(/\r/.test(piped.stderr), 'stderr not a terminal: no progress line');
});
