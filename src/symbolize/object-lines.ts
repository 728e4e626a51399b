// The DWARF side of `symbolize`: each object's debug copy opened once, addresses turned into source frames
// with paths relative to the kernel source root.
import { readBuildId } from '../scan/build-id.js';
import { pairDebugCopies } from '../tree/debug-pairing.js';
import { type FoundObject, walkTree } from '../tree/walk.js';
import { addressFrames, type SourceFrame } from '../dwarf/addr2line.js';
import { Dwarf } from '../dwarf/context.js';
import { DwarfFile } from '../dwarf/sections.js';
import { UnitAddressIndex } from '../dwarf/unit-index.js';
import { ET_REL } from '../elf/constants.js';
import { type OpenedObject, openObject } from '../sites/object.js';
import { PathMapper } from '../sites/paths.js';
import type { IndexedObject } from './copies.js';

export interface Frame {
  readonly function: string | null;
  /** Relative to the kernel source root when inside it. */
  readonly file: string | null;
  readonly line: number;
  readonly column: number;
}

/** A place in an object as the index stores it: section name and offset (vmlinux: the address itself). */
export interface Place {
  readonly section: string | null;
  readonly value: bigint;
}

interface Opened {
  obj: OpenedObject;
  file: DwarfFile;
  dwarf: Dwarf;
  units: UnitAddressIndex;
  paths: PathMapper;
}

/** Debug copies of the objects of one run; `--debug-dir` pairs objects the index has none for by build-id. */
export class ObjectLines {
  private open = new Map<number, Opened | string>();
  private debugDirFiles: FoundObject[] | null = null;
  readonly problems: string[] = [];

  constructor(private debugDir: string | null, private sourceRoot?: string) {}

  private async debugPath(o: IndexedObject): Promise<string | null> {
    if (o.debugPath && !this.debugDir) return o.debugPath;
    if (!this.debugDir) return null;
    this.debugDirFiles ??= walkTree(this.debugDir).objects;
    const rel = o.path.includes('/kernel/') ? o.path.slice(o.path.indexOf('/kernel/') + 1) : o.kind === 'vmlinux' ? 'vmlinux' : o.path;
    const [link] = await pairDebugCopies([{ relPath: rel, buildId: o.buildId }], this.debugDirFiles,
      (paths) => Promise.all(paths.map(readBuildId)));
    return link.path ?? o.debugPath;
  }

  private async opened(o: IndexedObject): Promise<Opened | string> {
    let x = this.open.get(o.id);
    if (x === undefined) {
      const path = await this.debugPath(o);
      if (!path) x = `${o.path}: no DWARF (index it with --debug-dir, or give --debug-dir)`;
      else {
        try {
          const obj = await openObject(path);
          const file = new DwarfFile(obj.src, obj.h, obj.sections, obj.symtab, (e) => this.problems.push(e.message));
          const dwarf = new Dwarf(file);
          if (!dwarf.info) x = `${path}: no .debug_info`;
          else x = { obj, file, dwarf, units: new UnitAddressIndex(dwarf, (e) => this.problems.push(String((e as Error)?.message ?? e))), paths: new PathMapper(this.sourceRoot) };
        } catch (e) {
          x = `${path}: ${(e as Error).message}`;
        }
      }
      this.open.set(o.id, x);
    }
    return x;
  }

  /** Source frames (innermost first) of each place of object `o`; a string says why there are none. */
  async frames(o: IndexedObject, places: readonly Place[]): Promise<(Frame[] | string)[]> {
    const x = await this.opened(o);
    if (typeof x === 'string') return places.map(() => x);
    const relocatable = x.obj.h.type === ET_REL;
    const targets = places.map((p) => {
      if (!relocatable) return { section: 0, value: p.value };
      const s = x.obj.sections.find((sec) => sec.name === p.section);
      return { section: s ? s.index : -2, value: p.value };
    });
    let found: SourceFrame[][];
    try {
      found = addressFrames(x.dwarf, x.units, targets);
    } catch (e) {
      const why = `${x.obj.path}: ${(e as Error).message}`;
      return places.map(() => why);
    }
    return found.map((frames) => {
      if (!frames.length) return `${x.obj.path}: no line-table row or subprogram covers this address`;
      x.paths.learn(frames[0].unit.name, frames[0].unit.compDir);
      return frames.map((f) => ({
        function: f.function, file: f.file === null ? null : x.paths.relative(f.file, f.unit.compDir), line: f.line, column: f.column,
      }));
    });
  }

  close(): void {
    for (const x of this.open.values()) {
      if (typeof x === 'string') continue;
      x.file.close();
      x.obj.close();
    }
  }
}
