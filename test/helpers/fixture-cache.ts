// The fixture builders' cache: a build keyed by a hash of its inputs, made in a private directory, renamed into
// test/.fixtures/<name>-<hash>/ and reused while the key holds; concurrent test processes share one build.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { repoPath } from './repo.js';

export const CACHE_DIR = repoPath('test', '.fixtures');

export interface CachedBuildSpec<T> {
  /** The cache entry's name: test/.fixtures/<name>-<hash>/. */
  readonly name: string;
  /** Files and directories (read recursively) the build depends on: its sources and the builder's own .ts. */
  readonly files: readonly string[];
  /** Anything else it depends on, as JSON: tool versions, flag tables. */
  readonly facts?: unknown;
  /**
   * Builds into `tmp`, which is renamed to `final` once done, and returns the manifest; paths under `tmp` in
   * it are rewritten to `final`.
   */
  build(tmp: string, final: string): Promise<T>;
  /** Whether a cached manifest must be rebuilt all the same (a missing compiler has appeared since). */
  outdated?(cached: T): Promise<boolean>;
}

export interface CachedBuild<T> {
  readonly dir: string;
  readonly key: string;
  readonly manifest: T;
}

/** Reuses the build of `spec` when its key is in the cache, else builds it (one builder at a time per key). */
export async function cachedBuild<T>(spec: CachedBuildSpec<T>): Promise<CachedBuild<T>> {
  await fs.mkdir(CACHE_DIR, { recursive: true });
  const key = cacheKey(spec);
  const dir = path.join(CACHE_DIR, `${spec.name}-${key}`);
  const ready = async (): Promise<T | null> => {
    const m = readManifest<T>(dir);
    if (m === null || !(await spec.outdated?.(m))) return m;
    await fs.rm(dir, { recursive: true, force: true });
    return null;
  };
  const manifest = await withLock(`${dir}.lock`, ready, () => buildAndRename(spec, dir));
  return { dir, key, manifest };
}

function cacheKey(spec: CachedBuildSpec<unknown>): string {
  const h = createHash('sha256');
  for (const file of spec.files) {
    for (const rel of listFiles(file)) {
      h.update(`file ${path.basename(file)}/${rel}\n`);
      h.update(readFileSync(path.join(file, rel)));
    }
  }
  h.update(JSON.stringify(spec.facts ?? null));
  return h.digest('hex').slice(0, 16);
}

/** The files below `p`, relative and sorted; [''] for a file itself. */
function listFiles(p: string, base = p): string[] {
  if (!statSync(p).isDirectory()) return [path.relative(base, p)];
  return readdirSync(p, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => (e.isDirectory() || e.isFile() ? listFiles(path.join(p, e.name), base) : []));
}

function readManifest<T>(dir: string): T | null {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as T;
  } catch {
    return null;
  }
}

async function buildAndRename<T>(spec: CachedBuildSpec<T>, dir: string): Promise<T> {
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(tmp);
  try {
    const built = await spec.build(tmp, dir);
    const text = JSON.stringify(built, null, 1).split(tmp).join(dir);
    await fs.writeFile(path.join(tmp, 'manifest.json'), text);
    try {
      await fs.rename(tmp, dir);
    } catch (e) {
      // A builder that took over a lock it thought abandoned finished first: its build is as good.
      const theirs = readManifest<T>(dir);
      if (theirs === null) throw e;
      return theirs;
    }
    await pruneOthers(spec.name, dir);
    return JSON.parse(text) as T;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A build that has held its lock this long is taken for hung, whatever its process. */
const LOCK_LIMIT_MS = 15 * 60_000;

/** Whether the process that made `lock` is gone (its pid file names a dead process, or it never wrote one). */
function abandoned(lock: string): boolean {
  try {
    if (Date.now() - statSync(lock).mtimeMs > LOCK_LIMIT_MS) return true;
    const pid = Number(readFileSync(path.join(lock, 'pid'), 'utf8'));
    process.kill(pid, 0);
    return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPERM') return false;
    // No pid file yet: abandoned only when it has been missing for a while.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return Date.now() - statSync(lock).mtimeMs > 10_000;
    return true;
  }
}

async function withLock<T>(lock: string, ready: () => Promise<T | null>, build: () => Promise<T>): Promise<T> {
  for (;;) {
    const done = await ready();
    if (done !== null) return done;
    try {
      await fs.mkdir(lock);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Another process builds: wait for its manifest, or take over a lock its owner left behind.
      try {
        if (abandoned(lock)) await fs.rm(lock, { recursive: true, force: true });
      } catch { /* the owner just finished */ }
      await sleep(150);
      continue;
    }
    try {
      await fs.writeFile(path.join(lock, 'pid'), String(process.pid));
      return (await ready()) ?? (await build());
    } finally {
      await fs.rm(lock, { recursive: true, force: true });
    }
  }
}

/** Removes this builder's entries for other keys (older sources or tools), unless locked or used within the hour. */
async function pruneOthers(name: string, current: string): Promise<void> {
  const pattern = new RegExp(`^${name}-[0-9a-f]{16}(\\.tmp-.*)?$`);
  for (const entry of readdirSync(CACHE_DIR)) {
    const p = path.join(CACHE_DIR, entry);
    if (p === current || !pattern.test(entry) || existsSync(`${p}.lock`)) continue;
    try {
      if (Date.now() - statSync(p).mtimeMs > 3_600_000) await fs.rm(p, { recursive: true, force: true });
    } catch { /* removed concurrently */ }
  }
}
