// The source side of `symbolize`: each object's debug copy found once, its places answered from its address
// table (built on first use) or handed to the DWARF reader (in worker threads when there are enough of
// them), and the answers' paths made relative to the kernel source root, in input order.
import { Piscina } from 'piscina';
import { readBuildId } from '../scan/build-id.js';
import { pairDebugCopies } from '../tree/debug-pairing.js';
import { type FoundObject, walkTree } from '../tree/walk.js';
import { PathMapper } from '../sites/paths.js';
import type { IndexedObject } from './copies.js';
import type { SourceFrame } from '../dwarf/addr2line.js';
import { type AddressTable, AddressTableError } from '../dwarf/address-table.js';
import { type TableTask, dropTable, openTable, tablePlace, writeTable } from './address-tables.js';
import { type DwarfAnswer, DwarfObjects, type DwarfTask, type Place, dwarfTask, taskTargets, uncovered } from './object-dwarf.js';

export interface Frame {
  readonly function: string | null;
  /** Relative to the kernel source root when inside it. */
  readonly file: string | null;
  readonly line: number;
  readonly column: number;
}

const WORKER = new URL('../../workers/symbolize.js', import.meta.url).href;
/** An object with this many places is shared out between the threads (vmlinux); a smaller one is not. */
const SHARED_PLACES = 1000;
/**
 * Shares per thread of a shared object: threads take them as they finish other tasks, so that the objects'
 * tasks even out (with one share per thread, the thread that also got the modules used ~50% more CPU than the other).
 */
const SHARES_PER_THREAD = 4;
/** Below this many frames in all, threads cost more to start than they save. */
const THREADED_FRAMES = 2000;
/**
 * A debug copy with fewer places is walked when it has no table yet: building one costs a walk of all its
 * DWARF (vmlinux: ~10 s, btrfs.ko's 35 MB: ~2.6 s CPU), a few places a walk of a few units...
 */
const TABLE_PLACES = 100;
/** ...unless the copy is this small: then its table is built for any place (a 6 MB module's: ~50 ms CPU). */
const SMALL_COPY = 16 << 20;

/** Where the DWARF reading runs: this thread, or a pool of worker threads. */
interface Reader {
  frames(task: DwarfTask): Promise<DwarfAnswer>;
  /** Builds a debug copy's address table; why it could not, or null. */
  table(task: TableTask): Promise<string | null>;
  close(): Promise<void>;
}

/** Tasks run one after the other, so that each object's buffers, freed after its task, serve the next one. */
function inThread(): Reader {
  const objects = new DwarfObjects();
  let last: Promise<unknown> = Promise.resolve();
  const frames = (task: DwarfTask) => {
    const answer = last.then(() => objects.frames(task));
    last = answer.catch(() => {});
    return answer;
  };
  const table = (task: TableTask) => {
    const built = last.then(() => writeTable(task.path, task.place));
    last = built.catch(() => {});
    return built;
  };
  return { frames, table, close: () => objects.close() };
}

function workers(jobs: number): Reader {
  const pool = new Piscina({ filename: WORKER, minThreads: jobs, maxThreads: jobs });
  return {
    frames: (task) => pool.run(task) as Promise<DwarfAnswer>,
    table: (task) => pool.run(task) as Promise<string | null>,
    close: () => pool.destroy(),
  };
}

/**
 * Debug copies of the objects of one run; `--debug-dir` pairs objects the index has none for by build-id.
 * With a table directory, each copy's places are answered from its address table, built first when missing
 * or stale; threads start only when some copy needs its DWARF read.
 */
export class ObjectLines {
  private debugDirFiles: FoundObject[] | null = null;
  private reader: Reader | null = null;
  private threads = 1;
  private warming: Promise<unknown> = Promise.resolve();
  /** Numbers the place lists shared out between threads. */
  private batches = 0;
  /** Each debug copy's table, by path: null when it has none (no build-id, no table directory, not buildable). */
  private tables = new Map<string, Promise<AddressTable | null>>();

  /**
   * `jobs` threads read DWARF when the run has `frames` enough; else this thread does. `tables`: the
   * directory of address tables (null: every answer walks the DWARF).
   */
  constructor(private debugDir: string | null, private sourceRoot: string | undefined, private jobs: number, private frameCount: number,
    private tableDir: string | null = null) {}

  /** The reader, made on first use: a pool of `jobs` threads for a large run, else this thread. */
  private dwarfReader(): Reader {
    if (!this.reader) {
      const threaded = this.jobs > 1 && this.frameCount >= THREADED_FRAMES;
      this.reader = threaded ? workers(this.jobs) : inThread();
      this.threads = threaded ? this.jobs : 1;
    }
    return this.reader;
  }

  /**
   * The current address table of the debug copy at `path`, asked for `places` places: built when missing or
   * stale (see TABLE_PLACES); null without one. The first answer for a path stands for the run.
   */
  private table(path: string, places: number): Promise<AddressTable | null> {
    let t = this.tables.get(path);
    if (!t) {
      t = this.openOrBuild(path, places);
      this.tables.set(path, t);
    }
    return t;
  }

  private async openOrBuild(path: string, places: number): Promise<AddressTable | null> {
    if (!this.tableDir) return null;
    const place = await tablePlace(this.tableDir, path);
    if (!place) return null;
    const found = openTable(place);
    if (found || (places < TABLE_PLACES && place.identity.size > SMALL_COPY)) return found;
    // Not buildable (DWARF it cannot read, a directory it cannot write): the places walk the DWARF.
    if (await this.dwarfReader().table({ path, place })) return null;
    return openTable(place);
  }

  private async debugPath(o: IndexedObject): Promise<string | null> {
    if (o.debugPath && !this.debugDir) return o.debugPath;
    if (!this.debugDir) return null;
    this.debugDirFiles ??= walkTree(this.debugDir).objects;
    const rel = o.path.includes('/kernel/') ? o.path.slice(o.path.indexOf('/kernel/') + 1) : o.kind === 'vmlinux' ? 'vmlinux' : o.path;
    const [link] = await pairDebugCopies([{ relPath: rel, buildId: o.buildId }], this.debugDirFiles,
      (paths) => Promise.all(paths.map(readBuildId)));
    return link.path ?? o.debugPath;
  }

  /**
   * Gets ready for `object`, the object most frames (`places`) are in, while this thread is still querying the
   * index: its address table opened or built; without tables, each thread opens its debug copy (ELF tables,
   * .debug_aranges), whose places every thread shares.
   */
  warm(object: IndexedObject, places: number): void {
    if (this.tableDir) {
      // Its table opened (or built) now, while this thread is still querying the index.
      this.warming = this.debugPath(object).then((path) => (path ? this.table(path, places) : null)).catch(() => {});
      return;
    }
    const reader = this.dwarfReader();
    if (this.threads === 1) return;
    this.warming = this.debugPath(object).then((path) => (path ? Promise.all(
      Array.from({ length: this.threads }, () => reader.frames(dwarfTask(path, [])))) : null)).catch(() => {});
  }

  /**
   * Source frames (innermost first) of the places of each object; a string says why a place has none.
   * All objects' tasks run at once.
   */
  async frames(objects: readonly { object: IndexedObject; places: readonly Place[] }[]): Promise<(Frame[] | string)[][]> {
    // Tasks go to the threads largest first, so that the small ones even out the end (answers keep input order).
    const bySize = Array.from(objects.keys()).sort((a, b) => objects[b].places.length - objects[a].places.length || a - b);
    const answers: (SourceFrame[] | string)[][] = new Array(objects.length);
    await Promise.all(bySize.map(async (n) => {
      const { object, places } = objects[n];
      answers[n] = await this.objectFrames(object, places);
    }));
    // Paths are learned and mapped in input order, as one thread reading everything would.
    return answers.map((found) => {
      const paths = new PathMapper(this.sourceRoot);
      // Learning a unit again teaches nothing new: each unit is learned once (most places share units).
      const learned = new Set<string>();
      return found.map((frames) => {
        if (typeof frames === 'string') return frames;
        const { name, compDir } = frames[0].unit;
        const unit = JSON.stringify([name, compDir]);
        if (!learned.has(unit)) {
          learned.add(unit);
          paths.learn(name, compDir);
        }
        return frames.map((f) => ({
          function: f.function, file: f.file === null ? null : paths.relative(f.file, f.unit.compDir), line: f.line, column: f.column,
        }));
      });
    });
  }

  /** One object's places: its debug copy's answers (from its table when it has one), or why it has none. */
  private async objectFrames(object: IndexedObject, places: readonly Place[]): Promise<(SourceFrame[] | string)[]> {
    const path = await this.debugPath(object);
    if (!path) return places.map(() => `${object.path}: no DWARF (index it with --debug-dir, or give --debug-dir)`);
    const task = dwarfTask(path, places);
    const table = await this.table(path, places.length);
    if (table) {
      try {
        const found = table.frames(taskTargets(task, table.meta.relocatable, table.meta.sections));
        return found.map((f) => (f.length ? f : uncovered(path)));
      } catch (e) {
        if (!(e instanceof AddressTableError)) throw e;
        // A damaged block: never trusted; this run walks the DWARF, the next one builds the table again.
        table.close();
        this.tables.set(path, Promise.resolve(null));
        dropTable(e.file);
      }
    }
    const reader = this.dwarfReader();
    // A large object is shared out by units between the threads; a small one is one thread's task.
    const count = places.length >= SHARED_PLACES && this.threads > 1 ? this.threads * SHARES_PER_THREAD : 1;
    const batch = this.batches++;
    const out: (SourceFrame[] | string)[] = new Array(places.length);
    const tasks = Array.from({ length: count }, (_, index) => reader.frames(count > 1 ? { ...task, share: { index, count, batch } } : task)
      .then((found) => found.forEach((f, i) => { if (f !== null) out[i] = f; })));
    await Promise.all(tasks);
    return out;
  }

  async close(): Promise<void> {
    await this.warming;
    for (const t of this.tables.values()) (await t.catch(() => null))?.close();
    await this.reader?.close();
  }
}
