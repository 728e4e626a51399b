import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { SiteResult, SitesTask } from '../sites/types.js';
import type { ScanTask, ScannedObject } from './result.js';

const SCAN_WORKER = new URL('../../workers/scan.js', import.meta.url).href;
const SITES_WORKER = new URL('../../workers/sites.js', import.meta.url).href;

export function defaultJobs(): number {
  return availableParallelism();
}


/** The worker threads that read objects; the caller's thread stays the only SQLite writer. */
export class WorkerPool {
  private pool: Piscina;

  constructor(jobs: number) {
    this.pool = new Piscina({ filename: SCAN_WORKER, minThreads: jobs, maxThreads: jobs, idleTimeout: 1000 });
  }

  /**
   * Scans every object, handing each result to `onResult` as soon as it arrives (in completion order). `order`
   * lists the indexes to scan, in the order to start them (default: all, as given).
   */
  scanAll(tasks: readonly ScanTask[], onResult: (index: number, o: ScannedObject) => void, order?: readonly number[]): Promise<void> {
    return this.each(tasks, { filename: SCAN_WORKER, name: 'default' }, onResult, order);
  }

  async buildIds(paths: string[]): Promise<(string | null)[]> {
    const ids: (string | null)[] = new Array(paths.length).fill(null);
    await this.each(paths, { filename: SCAN_WORKER, name: 'buildId' }, (i, id: string | null) => { ids[i] = id; });
    return ids;
  }

  /** One object's sites; queued behind the scans already submitted. */
  sites(task: SitesTask): Promise<SiteResult> {
    return this.pool.run(task, { filename: SITES_WORKER, name: 'default' }) as Promise<SiteResult>;
  }

  /**
   * Runs one task per item with at most a few results in flight, so memory stays bounded however large
   * the tree is; results are handed over in completion order.
   */
  private async each<I, R>(items: readonly I[], target: { filename: string; name: string }, onResult: (index: number, r: R) => void,
    order?: readonly number[]): Promise<void> {
    const window = Math.max(2, this.pool.options.maxThreads * 3);
    const count = order ? order.length : items.length;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < count) {
        const i = order ? order[next++] : next++;
        onResult(i, (await this.pool.run(items[i], target)) as R);
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
