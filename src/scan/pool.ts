import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { ScannedObject } from './result.js';

const SCAN_WORKER = new URL('../../workers/scan.js', import.meta.url).href;

export function defaultJobs(): number {
  return availableParallelism();
}

/** The worker threads that read objects; the caller's thread stays the only SQLite writer. */
export class ScanPool {
  private pool: Piscina;

  constructor(jobs: number) {
    this.pool = new Piscina({ filename: SCAN_WORKER, minThreads: jobs, maxThreads: jobs, idleTimeout: 1000 });
  }

  /**
   * Scans every path, handing each result to `onResult` as soon as it arrives (in completion order).
   * At most `window` results are in flight, so memory stays bounded however large the tree is.
   */
  async scanAll(paths: readonly string[], onResult: (index: number, o: ScannedObject) => void): Promise<void> {
    await this.each(paths, 'default', (i, o: ScannedObject) => onResult(i, o));
  }

  async buildIds(paths: string[]): Promise<(string | null)[]> {
    const ids: (string | null)[] = new Array(paths.length).fill(null);
    await this.each(paths, 'buildId', (i, id: string | null) => { ids[i] = id; });
    return ids;
  }

  private async each<T>(paths: readonly string[], name: string, onResult: (index: number, r: T) => void): Promise<void> {
    const window = Math.max(2, this.pool.options.maxThreads * 3);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < paths.length) {
        const i = next++;
        onResult(i, (await this.pool.run(paths[i], { name })) as T);
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, paths.length) }, lane));
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
