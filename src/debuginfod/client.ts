// debuginfod client: the debug file of a GNU build-id from the servers in DEBUGINFOD_URLS (or --debuginfod),
// cached where elfutils' client caches it (shared with gdb, perf, systemtap...), verified before it lands there.
import { createWriteStream, existsSync, fchmodSync, mkdirSync, openSync, closeSync, rmSync, statSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { FatalError } from '../errors.js';
import { commitTemp, removeStaleTemps, tempPathFor } from '../io/atomic.js';
import { TOOL_VERSION } from '../version.js';
import { checkDebugFile } from './verify.js';

export interface DebuginfodConfig {
  readonly urls: readonly string[];
  /** `$DEBUGINFOD_CACHE_PATH`, else `$XDG_CACHE_HOME/debuginfod_client`, else `~/.cache/debuginfod_client`. */
  readonly cacheDir: string;
  /** `$DEBUGINFOD_TIMEOUT` seconds (default 90): a server that sends nothing for this long is given up. */
  readonly timeoutMs: number;
}

/** What asking for one build-id's debug file gave. */
export type DebugFile = Found | Missing;
interface Found { readonly status: 'cached' | 'fetched'; readonly path: string; readonly bytes: number }
interface Missing { readonly status: 'not-found' | 'failed'; readonly message: string }

export function found(r: DebugFile): r is Found {
  return r.status === 'cached' || r.status === 'fetched';
}

const DEFAULT_TIMEOUT_S = 90;
const MAX_REDIRECTS = 5;
/** Downloads at once: the servers' answer times, not our bandwidth, dominate for modules. */
const PARALLEL = 4;

/**
 * The servers from `--debuginfod URL` (given, they replace the environment's) or `$DEBUGINFOD_URLS`, both
 * space-separated lists as elfutils reads them; null when none is configured: then nothing touches the network.
 */
export function debuginfodConfig(option: readonly string[] | undefined, env: NodeJS.ProcessEnv = process.env): DebuginfodConfig | null {
  const urls = (option?.length ? option.join(' ') : env.DEBUGINFOD_URLS ?? '').split(/\s+/).filter(Boolean).map((u) => u.replace(/\/+$/, ''));
  if (!urls.length) return null;
  for (const u of urls) {
    if (!/^https?:\/\/[^/]/.test(u)) throw new FatalError(`debuginfod server ${u}: expected an http:// or https:// URL`);
  }
  const timeout = env.DEBUGINFOD_TIMEOUT;
  const seconds = timeout === undefined || timeout === '' ? DEFAULT_TIMEOUT_S : Number(timeout);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new FatalError(`DEBUGINFOD_TIMEOUT=${timeout}: expected a number of seconds above 0`);
  const cacheDir = env.DEBUGINFOD_CACHE_PATH || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'debuginfod_client');
  return { urls, cacheDir, timeoutMs: seconds * 1000 };
}

/** Counts for the run's summary line. */
export interface DebuginfodSummary {
  readonly urls: readonly string[];
  readonly cacheDir: string;
  readonly fetched: number;
  readonly fetchedBytes: number;
  readonly cached: number;
  readonly cachedBytes: number;
  readonly notFound: number;
  readonly failed: number;
}

export class DebuginfodClient {
  private active = 0;
  private queue: (() => void)[] = [];
  private known = new Map<string, Promise<DebugFile>>();
  private counts = { fetched: 0, fetchedBytes: 0, cached: 0, cachedBytes: 0, notFound: 0, failed: 0 };
  /** Downloads in flight: label, bytes so far, bytes announced. */
  private inFlight = new Map<string, { label: string; done: number; total: number | null }>();

  constructor(readonly config: DebuginfodConfig) {}

  /** The debug file of `buildId` (hex); `label` names the object in progress lines. Never rejects. */
  debuginfo(buildId: string, label: string): Promise<DebugFile> {
    let p = this.known.get(buildId);
    if (!p) {
      p = this.lookup(buildId, label).catch((e: unknown) => ({ status: 'failed' as const, message: `${buildId}: ${(e as Error).message}` }));
      p.then((r) => this.count(r));
      this.known.set(buildId, p);
    }
    return p;
  }

  summary(): DebuginfodSummary {
    return { urls: this.config.urls, cacheDir: this.config.cacheDir, ...this.counts };
  }

  /** One line on the downloads in flight (`vmlinux 120.3/587.8 MB`), '' when none. */
  status(): string {
    const parts = [...this.inFlight.values()].map((d) => `${d.label} ${mb(d.done)}${d.total ? `/${mb(d.total)}` : ''} MB`);
    return parts.join(', ');
  }

  private count(r: DebugFile): void {
    if (r.status === 'fetched') {
      this.counts.fetched++;
      this.counts.fetchedBytes += r.bytes;
    } else if (r.status === 'cached') {
      this.counts.cached++;
      this.counts.cachedBytes += r.bytes;
    } else if (r.status === 'not-found') this.counts.notFound++;
    else this.counts.failed++;
  }

  private async lookup(buildId: string, label: string): Promise<DebugFile> {
    if (!/^[0-9a-f]{2,128}$/.test(buildId)) return { status: 'failed', message: `build-id ${buildId}: expected hex digits` };
    const dir = join(this.config.cacheDir, buildId);
    const target = join(dir, 'debuginfo');
    // An empty file is another client's note that a server had nothing (elfutils' negative cache): asked again.
    if (existsSync(target) && statSync(target).size > 0 && checkDebugFile(target, buildId) === null) {
      return { status: 'cached', path: target, bytes: statSync(target).size };
    }
    await this.slot();
    try {
      mkdirSync(dir, { recursive: true });
      removeStaleTemps(target);
      const problems: string[] = [];
      let missing = 0;
      for (const server of this.config.urls) {
        const url = `${server}/buildid/${buildId}/debuginfo`;
        const got = await this.download(url, target, buildId, label);
        if (found(got)) return got;
        if (got.status === 'not-found') missing++;
        problems.push(got.message);
      }
      return { status: missing === this.config.urls.length ? 'not-found' : 'failed', message: problems.join('; ') };
    } finally {
      this.release();
    }
  }

  /** One server: into a temporary file beside the cache entry, renamed into place only once it checks out. */
  private async download(url: string, target: string, buildId: string, label: string): Promise<DebugFile> {
    const tmp = tempPathFor(target);
    const key = `${buildId} ${url}`;
    try {
      const res = await this.request(url);
      if (res.statusCode === 404) {
        res.resume();
        return { status: 'not-found', message: `${url}: 404 not found` };
      }
      if (res.statusCode !== 200) {
        res.resume();
        return { status: 'failed', message: `${url}: expected HTTP 200, got ${res.statusCode} ${res.statusMessage ?? ''}`.trim() };
      }
      const length = res.headers['content-length'];
      const announced = length === undefined ? null : Number(length);
      const progress = { label, done: 0, total: announced };
      this.inFlight.set(key, progress);
      res.on('data', (b: Buffer) => {
        progress.done += b.length;
      });
      // Opened here, not by the stream: a stream still opening when the download fails would create the file
      // after the clean-up below removed it.
      await pipeline(res, createWriteStream(tmp, { fd: openSync(tmp, 'w', 0o600) }));
      if (!res.complete || (announced !== null && progress.done !== announced)) {
        throw new Error(`the download ended after ${progress.done} of ${announced ?? 'an unknown number of'} bytes`);
      }
      const problem = checkDebugFile(tmp, buildId);
      if (problem) throw new Error(problem);
      const fd = openSync(tmp, 'r');
      try {
        fchmodSync(fd, 0o444 & ~process.umask());
      } finally {
        closeSync(fd);
      }
      commitTemp(tmp, target);
      return { status: 'fetched', path: target, bytes: progress.done };
    } catch (e) {
      rmSync(tmp, { force: true });
      return { status: 'failed', message: `${url}: ${(e as Error).message}` };
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** GET with redirects followed; the timeout covers the wait for the answer and every pause in the body. */
  private request(url: string, redirects = 0): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const get = url.startsWith('https:') ? httpsGet : httpGet;
      const req = get(url, { headers: { 'User-Agent': `ksymtree/${TOOL_VERSION}`, Accept: '*/*' } }, (res) => {
        const location = res.headers.location;
        if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location) {
          res.resume();
          if (redirects >= MAX_REDIRECTS) reject(new Error(`more than ${MAX_REDIRECTS} redirects`));
          else this.request(new URL(location, url).href, redirects + 1).then(resolve, reject);
          return;
        }
        resolve(res);
      });
      req.setTimeout(this.config.timeoutMs, () => req.destroy(new Error(`no data for ${this.config.timeoutMs / 1000} s (DEBUGINFOD_TIMEOUT)`)));
      req.on('error', reject);
    });
  }

  private slot(): Promise<void> {
    if (this.active < PARALLEL) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.active--;
  }
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}
