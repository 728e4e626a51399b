// The fault tier's shared pieces: seed modules (real Debian modules, else the example tree), a seeded
// mutator, running the CLI under a deadline with its peak RSS, and reading an index with SQLite directly.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { openDatabase } from '../../src/db/sqlite.js';
import { CLI } from '../helpers/cli.js';
import { corpus61 } from '../helpers/corpus.js';
import { REPO_ROOT } from '../helpers/repo.js';

export { prng } from '../helpers/prng.js';

/** A count for a fault test: the environment variable when set (CI raises it for long runs), else `small`. */
export function faultCount(name: string, small: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : small;
}

export interface SeedModule {
  readonly path: string;
  /** Path relative to the tree it came from, kept in copies. */
  readonly relPath: string;
}

/**
 * Real modules with DWARF from the Debian 6.1 debug tree (those named in `prefer`, then every `step`-th
 * module of 150 KB–1.5 MB, sorted by path), else the example tree's modules built into `scratch`. `source`
 * says which, for test titles.
 */
export function seedModules(scratch: string, count: number, prefer: readonly string[] = []): { source: string; modules: SeedModule[] } {
  const c = corpus61();
  if (c) {
    const root = join(c.debug, 'kernel');
    const all: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ko')) {
          const size = statSync(p).size;
          if (size >= 150 << 10 && size <= 1536 << 10) all.push(p);
        }
      }
    };
    walk(root);
    const step = Math.max(1, Math.floor(all.length / count));
    const preferred = all.filter((p) => prefer.includes(basename(p)));
    const rest = all.filter((p, i) => i % step === 0 && !preferred.includes(p));
    const modules = [...preferred, ...rest].slice(0, count).map((p) => ({ path: p, relPath: relative(root, p) }));
    return { source: 'Debian 6.1 cloud-amd64 debug modules', modules };
  }
  const build = join(scratch, 'examples-build');
  execFileSync('make', ['-s', '-C', join(REPO_ROOT, 'examples'), `B=${build}`], { stdio: 'ignore' });
  const modules: SeedModule[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ko(\.xz)?$/.test(e.name)) modules.push({ path: p, relPath: relative(build, p) });
    }
  };
  walk(build);
  return { source: 'the example tree (no Debian corpus here)', modules: modules.sort((a, b) => a.relPath.localeCompare(b.relPath)) };
}

/** Copies seed modules into `tree` under their relative paths. */
export function copyTree(modules: readonly SeedModule[], tree: string): string[] {
  return modules.map((m) => {
    const to = join(tree, m.relPath);
    mkdirSync(join(to, '..'), { recursive: true });
    copyFileSync(m.path, to);
    return to;
  });
}

export interface ElfSectionExtent {
  readonly name: string;
  readonly type: string;
  readonly offset: number;
  readonly size: number;
}

/** Section headers as readelf shows them (the oracle, not our parser). */
export function readelfSections(path: string): ElfSectionExtent[] {
  const text = execFileSync('readelf', ['-SW', path], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const out: ElfSectionExtent[] = [];
  for (const line of text.split('\n')) {
    const m = /\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(line);
    if (m) out.push({ name: m[1], type: m[2], offset: parseInt(m[3], 16), size: parseInt(m[4], 16) });
  }
  return out;
}

export interface RunResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Peak resident set of the process (main thread and workers), KB; null without GNU time. */
  readonly maxRssKb: number | null;
  readonly timedOut: boolean;
  readonly seconds: number;
}

const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

/** `ksymtree ARGS` with a deadline (SIGKILL when it passes) and its peak RSS measured by GNU time. */
export function runCli(args: readonly string[], opts: { timeoutMs: number; cwd?: string; env?: NodeJS.ProcessEnv; prefix?: readonly string[] }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const cmd = [...(opts.prefix ?? []), ...(GNU_TIME ? [GNU_TIME, '-f', 'KSYMTREE_MAXRSS %M'] : []), process.execPath, CLI, ...args];
    const child = spawn(cmd[0], cmd.slice(1), { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      let stderr = Buffer.concat(err).toString();
      const m = /(?:Command (?:exited with non-zero status \d+|terminated by signal \d+)\n)?KSYMTREE_MAXRSS (\d+)\n?$/.exec(stderr);
      if (m) stderr = stderr.slice(0, m.index);
      resolve({ status, signal, stdout: Buffer.concat(out).toString(), stderr, maxRssKb: m ? Number(m[1]) : null, timedOut, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** Rows of an index, read with SQLite directly (an index that does not open fails the caller). */
export function queryIndex<T>(db: string, sql: string): T[] {
  const d = openDatabase(db, { readonly: true, fileMustExist: true });
  try {
    const check = d.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new Error(`${db}: integrity_check says ${String(check)}`);
    return d.prepare(sql).all() as T[];
  } finally {
    d.close();
  }
}

/** Files left in `dir` whose names say they are temporary (ours: `.NAME.tmp-PID`). */
export function tempFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.tmp-\d+/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}
