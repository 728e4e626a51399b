// Installing anywhere a kernel is built: no direct dependency is tied to one platform, and npm resolves a
// native part for linux arm64 and musl from package-lock.json alone (npm ci --dry-run, offline).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { SQLITE_PACKAGE, openDatabase } from '../src/db/sqlite.js';
import { REPO_ROOT } from './helpers/repo.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as
  { dependencies: Record<string, string>; optionalDependencies: Record<string, string>; engines: { node: string } };
const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as
  { packages: Record<string, { version: string; optional?: boolean; engines?: { node?: string } }> };
const nodeMajor = Number(process.versions.node.split('.')[0]);
const manifest = (name: string) => JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as
  { os?: string[]; cpu?: string[]; optionalDependencies?: Record<string, string>; gypfile?: boolean; engines?: { node?: string } };

test('no direct dependency is a per-platform package; native ones bring theirs as optional dependencies or build from source', (t) => {
  for (const name of Object.keys(pkg.dependencies)) {
    const m = manifest(name);
    t.falsy(m.os ?? m.cpu, `${name} is tied to ${m.os}/${m.cpu}`);
  }
  // The native packages: their per-platform binaries are optional dependencies, better-sqlite3 builds with node-gyp.
  t.true(Object.keys(manifest('lz4-napi').optionalDependencies ?? {}).some((d) => d.endsWith('linux-arm64-gnu')));
  t.true(manifest('better-sqlite3').gypfile !== false);
});

test('engines names the Node lines that are tested (the default node and those test-node-versions.sh runs), and the running node is one of them', (t) => {
  const lines = (pkg.engines.node as string).split(' || ').map((l) => l.replace(/\.x$/, ''));
  t.deepEqual(lines, ['20', '22', '24']);
  const script = readFileSync(join(REPO_ROOT, 'scripts/test-node-versions.sh'), 'utf8');
  t.deepEqual(/\|\| majors=\(([^)]*)\)/.exec(script)?.[1].split(' '), lines.slice(1), 'the other lines are the ones npm test runs');
  t.true(lines.includes(String(nodeMajor)));
});

test('better-sqlite3 13 (Node-API) opens indexes from Node 22 on, 12 on Node 20, where npm leaves 13 out', (t) => {
  // 12 on Node 24 aborts when a GC finalizes a statement (README, Node versions): 13 must be the one loaded.
  t.regex(pkg.optionalDependencies['better-sqlite3-napi'], /^npm:better-sqlite3@\^13\./);
  const napi = lock.packages['node_modules/better-sqlite3-napi'];
  t.true(napi.optional);
  t.is(napi.engines?.node, '>=22', 'npm skips an optional package whose engines exclude the running node: that keeps 13 off Node 20');
  t.is(existsSync(join(REPO_ROOT, 'node_modules/better-sqlite3-napi')), nodeMajor >= 22);
  t.is(SQLITE_PACKAGE, nodeMajor >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3');
  const loaded = createRequire(join(REPO_ROOT, 'package.json'))(`${SQLITE_PACKAGE}/package.json`) as { version: string };
  t.is(loaded.version.split('.')[0], nodeMajor >= 22 ? '13' : '12');
  const db = openDatabase(':memory:');
  t.is(db.prepare('SELECT 41 + 1').pluck().get(), 42);
  db.close();
});

function dryRun(cpu: string, libc: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'ksymtree-npm-'));
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(REPO_ROOT, f), join(dir, f));
  const r = spawnSync('npm', ['ci', '--dry-run', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', `--cpu=${cpu}`, '--os=linux', `--libc=${libc}`],
    { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm ci --dry-run --cpu=${cpu} --libc=${libc}: ${r.stderr}`);
  return r.stdout.split('\n').map((l) => /^add (\S+) /.exec(l)?.[1]).filter((n): n is string => !!n);
}

for (const [cpu, libc] of [['arm64', 'glibc'], ['arm64', 'musl'], ['x64', 'musl']] as const) {
  test(`npm ci resolves every native part for linux-${cpu}-${libc} from the lockfile`, (t) => {
    const added = dryRun(cpu, libc);
    const suffix = `linux-${cpu}-${libc === 'glibc' ? 'gnu' : 'musl'}`;
    // Each package with per-platform optional binaries gets exactly the one for this platform.
    t.true(added.includes(`@antoniomuso/lz4-napi-${suffix}`), added.filter((a) => a.includes('lz4')).join(' '));
    t.true(added.includes(`@napi-rs/nice-${suffix}`), added.filter((a) => a.includes('nice')).join(' '));
    t.deepEqual(added.filter((a) => /-(linux|darwin|win32|android|freebsd)-/.test(a) && !a.endsWith(suffix)), []);
    t.true(added.includes('better-sqlite3') && added.includes('xz-decompress'));
  });
}
