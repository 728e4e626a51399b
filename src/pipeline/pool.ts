// The piscina worker pool of an index run: scan tasks (workers/scan.ts) and site tasks (workers/sites.ts),
// each result handed back as it completes.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { SitesDone, SitesTask } from '../sites/types.js';
import type { IndexTask, IndexedObject } from '../scan/result.js';

const SCAN_WORKER = new URL('../../workers/scan.js', import.meta.url).href;
const SITES_WORKER = new URL('../../workers/sites.js', import.meta.url).href;

export function defaultJobs(): number {
  return availableParallelism();
}

/** The worker threads of an index run: each reads objects and writes their rows to a shard of its own. */
export class WorkerPool {
  private pool: Piscina;

  constructor(jobs: number) {
    this.pool = new Piscina({ filename: SCAN_WORKER, minThreads: jobs, maxThreads: jobs, idleTimeout: 1000 });
  }

  /**
   * Scans every object, handing each result to `onResult` as soon as it arrives (in completion order). `order`
   * lists the indexes to scan, in the order to start them (default: all, as given).
   */
  scanAll(tasks: readonly IndexTask[], onResult: (index: number, o: IndexedObject) => void, order?: readonly number[]): Promise<void> {
    return this.each(tasks, { filename: SCAN_WORKER, name: 'default' }, onResult, order);
  }

  async buildIds(paths: string[]): Promise<(string | null)[]> {
    const ids: (string | null)[] = new Array(paths.length).fill(null);
    await this.each(paths, { filename: SCAN_WORKER, name: 'buildId' }, (i, id: string | null) => { ids[i] = id; });
    return ids;
  }

  /** One object's sites; queued behind the scans already submitted. */
  sites(task: SitesTask): Promise<SitesDone> {
    return this.pool.run(task, { filename: SITES_WORKER, name: 'default' }) as Promise<SitesDone>;
  }

  /**
   * Runs one task per item with at most a few results in flight, so memory stays bounded however large
   * the tree is; results are handed over in completion order. After a failure no task starts, and the ones
   * running finish before it is thrown: a worker must not be terminated inside SQLite (better-sqlite3 aborts
   * the process when an error meets a terminating thread).
   */
  private async each<I, R>(items: readonly I[], target: { filename: string; name: string }, onResult: (index: number, r: R) => void,
    order?: readonly number[]): Promise<void> {
    const window = Math.max(2, this.pool.options.maxThreads * 3);
    const count = order ? order.length : items.length;
    let next = 0;
    let failure: { error: unknown } | null = null;
    const lane = async (): Promise<void> => {
      while (next < count && !failure) {
        const i = order ? order[next++] : next++;
        try {
          onResult(i, (await this.pool.run(items[i], target)) as R);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
    if (failure) throw (failure as { error: unknown }).error;
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
