// The source side of `symbolize`: each object's debug copy found once, its places handed to the DWARF
// reader (in worker threads when there are enough of them) and the answers' paths made relative to the
// kernel source root, in input order.
import { Piscina } from 'piscina';
import { readBuildId } from '../scan/build-id.js';
import { pairDebugCopies } from '../tree/debug-pairing.js';
import { type FoundObject, walkTree } from '../tree/walk.js';
import { PathMapper } from '../sites/paths.js';
import type { IndexedObject } from './copies.js';
import type { SourceFrame } from '../dwarf/addr2line.js';
import { type DwarfAnswer, DwarfObjects, type DwarfTask, type Place, dwarfTask } from './object-dwarf.js';

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

/** Where the DWARF reading runs: this thread, or a pool of worker threads. */
interface Reader {
  frames(task: DwarfTask): Promise<DwarfAnswer>;
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
  return { frames, close: () => objects.close() };
}

function workers(jobs: number): Reader {
  const pool = new Piscina({ filename: WORKER, minThreads: jobs, maxThreads: jobs });
  return { frames: (task) => pool.run(task) as Promise<DwarfAnswer>, close: () => pool.destroy() };
}

/** Debug copies of the objects of one run; `--debug-dir` pairs objects the index has none for by build-id. */
export class ObjectLines {
  private debugDirFiles: FoundObject[] | null = null;
  private reader: Reader | null = null;
  private threads = 1;
  private warming: Promise<unknown> = Promise.resolve();
  /** Numbers the place lists shared out between threads. */
  private batches = 0;

  /** `jobs` threads read DWARF when the run has `frames` enough; else this thread does. */
  constructor(private debugDir: string | null, private sourceRoot: string | undefined, jobs: number, frames: number) {
    if (jobs > 1 && frames >= THREADED_FRAMES) {
      this.reader = workers(jobs);
      this.threads = jobs;
    }
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
   * With threads, has each of them open `object`'s debug copy (ELF tables, .debug_aranges) now, while this
   * thread is still querying the index: the object most frames are in, whose places every thread shares.
   */
  warm(object: IndexedObject): void {
    const reader = this.reader;
    if (!reader) return;
    this.warming = this.debugPath(object).then((path) => (path ? Promise.all(
      Array.from({ length: this.threads }, () => reader.frames(dwarfTask(path, [])))) : null)).catch(() => {});
  }

  /**
   * Source frames (innermost first) of the places of each object; a string says why a place has none.
   * All objects' tasks run at once.
   */
  async frames(objects: readonly { object: IndexedObject; places: readonly Place[] }[]): Promise<(Frame[] | string)[][]> {
    this.reader ??= inThread();
    const reader = this.reader;
    // Tasks go to the threads largest first, so that the small ones even out the end (answers keep input order).
    const bySize = Array.from(objects.keys()).sort((a, b) => objects[b].places.length - objects[a].places.length || a - b);
    const answers: (SourceFrame[] | string)[][] = new Array(objects.length);
    await Promise.all(bySize.map(async (n) => {
      const { object, places } = objects[n];
      answers[n] = await this.objectFrames(reader, object, places);
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

  /** One object's places: its debug copy's answers, or why it has none. */
  private async objectFrames(reader: Reader, object: IndexedObject, places: readonly Place[]): Promise<(SourceFrame[] | string)[]> {
    const path = await this.debugPath(object);
    if (!path) return places.map(() => `${object.path}: no DWARF (index it with --debug-dir, or give --debug-dir)`);
    // A large object is shared out by units between the threads; a small one is one thread's task.
    const count = places.length >= SHARED_PLACES && this.threads > 1 ? this.threads * SHARES_PER_THREAD : 1;
    const batch = this.batches++;
    const out: (SourceFrame[] | string)[] = new Array(places.length);
    const task = dwarfTask(path, places);
    const tasks = Array.from({ length: count }, (_, index) => reader.frames(count > 1 ? { ...task, share: { index, count, batch } } : task)
      .then((found) => found.forEach((f, i) => { if (f !== null) out[i] = f; })));
    await Promise.all(tasks);
    return out;
  }

  async close(): Promise<void> {
    await this.warming;
    await this.reader?.close();
  }
}
