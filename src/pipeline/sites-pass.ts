// Pass 2 on the main thread (scan → sites → db): hands each object's duplicates to the workers' site finder as
// soon as its DWARF file is known, and collects their counts and errors.
import { Progress } from '../io/progress.js';
import type { IndexWriter } from '../db/writer.js';
import type { WorkerPool } from './pool.js';
import type { SitesDone, SitesTask } from '../sites/types.js';

export interface SitesPassOptions {
  readonly all: boolean;
  readonly sourceRoot?: string;
  readonly quiet: boolean;
}

/**
 * Pass 2: the objects and symbols that need a site go back to the workers, each object as soon as the
 * place of its DWARF is known (at its scan, or after build-id pairing with a debug tree), so the site work
 * of early objects overlaps the scan of later ones. Each worker writes the sites it finds to its own shard;
 * the merge orders them by (object, symbol), so the index does not depend on which worker found what.
 */
export class SitesPass {
  private running: Promise<void>[] = [];
  private failure: unknown = null;
  private finished = 0;
  private progress: Progress | null = null;
  sites = 0;

  constructor(private pool: WorkerPool, private writer: IndexWriter, private shardDir: string, private options: SitesPassOptions) {}

  /** `entries`: for a vmlinux without .symtab, each request's kallsyms name and address (SitesTask.entries). */
  submit(objectId: number, objectPath: string, dwarfPath: string, symtabIndexes: readonly number[], entries?: SitesTask['entries']): void {
    const task: SitesTask = {
      objectId, shardDir: this.shardDir, objectPath, dwarfPath, requests: symtabIndexes.map((symtabIndex) => ({ symtabIndex })),
      sourceRoot: this.options.sourceRoot, all: this.options.all, entries,
    };
    this.running.push(this.pool.sites(task).then((r: SitesDone) => {
      this.found(objectId, dwarfPath, r);
      this.finished++;
      this.progress?.tick(objectPath);
    }).catch((e: unknown) => {
      this.failure ??= e;
    }));
  }

  /** Sites of object `objectId` found in `dwarfPath`, by a site task or in the visit that scanned the object. */
  found(objectId: number, dwarfPath: string, r: SitesDone): void {
    this.writer.addSites(objectId, r.shard);
    for (const e of r.errors) this.writer.addError(objectId, dwarfPath, e);
    this.sites += r.sites;
  }

  /** Waits for the tasks still running, whatever their outcome (before the pool is closed after a failure). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.running);
  }

  /** Waits for every submitted object; the progress bar shows what was still running when the scan ended. */
  async done(): Promise<number> {
    this.progress = new Progress(this.running.length - this.finished, 'sites', this.options.quiet);
    await Promise.all(this.running);
    this.progress.clear();
    if (this.failure) throw this.failure;
    return this.sites;
  }
}
