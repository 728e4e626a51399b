// The DWARF half of `symbolize`, the part worker threads run: debug copies opened once per thread, places
// (section name + offset, or a vmlinux address) turned into source frames with DWARF's own paths.
import { addressFrames, type SourceFrame } from '../dwarf/addr2line.js';
import { Dwarf } from '../dwarf/dwarf.js';
import { DwarfFile } from '../dwarf/dwarf-file.js';
import type { Address } from '../dwarf/section.js';
import { UnitAddressIndex } from '../dwarf/unit-index.js';
import { ET_REL } from '../elf/constants.js';
import { type OpenedObject, openObject } from '../sites/object.js';

/** A place in an object as the index stores it: section name and offset (vmlinux: the address itself). */
export interface Place {
  readonly section: string | null;
  readonly value: bigint;
}

/** One object's places to symbolize: what a worker task carries. */
export interface DwarfTask {
  /** The debug copy to read. */
  readonly path: string;
  readonly places: readonly Place[];
  /**
   * Share `index` of `count` of the object's units: only places in those units are answered (each unit is
   * then decoded by one thread only). Absent: every place.
   */
  readonly share?: { readonly index: number; readonly count: number };
}

/** Source frames (innermost first) of each place, or why there are none; null for places of another share. */
export type DwarfAnswer = (SourceFrame[] | string | null)[];

const ignore = () => {};

/**
 * The targets of one share: the units `.debug_aranges` places any target in, in section order, dealt out in
 * turn; targets it does not place belong to share 0, whose thread alone then ranges the units it leaves out
 * (reading every unit's header). Every thread computes the same deal from the same targets.
 */
function shareOf(units: UnitAddressIndex, targets: readonly Address[], share: { index: number; count: number }): number[] {
  const { aranges } = units;
  const unitOf = targets.map((t) => (aranges ? aranges.lookup(t.section, t.value) : units.unitsAt(t.section, t.value))[0] ?? -1);
  const dealt = new Map([...new Set(unitOf)].sort((a, b) => a - b).map((u, k) => [u, u < 0 ? 0 : k % share.count]));
  return unitOf.flatMap((u, i) => (dealt.get(u) === share.index ? [i] : []));
}

interface Opened {
  obj: OpenedObject;
  file: DwarfFile;
  dwarf: Dwarf;
  units: UnitAddressIndex;
}

/** Debug copies opened by path and kept open (with their decoded units) for the next places. */
export class DwarfObjects {
  private open = new Map<string, Promise<Opened | string>>();

  /** The opened copy; tasks of one object that arrive together share one opening. */
  private opened(path: string): Promise<Opened | string> {
    let x = this.open.get(path);
    if (!x) {
      x = DwarfObjects.openCopy(path);
      this.open.set(path, x);
    }
    return x;
  }

  private static async openCopy(path: string): Promise<Opened | string> {
    try {
      const obj = await openObject(path);
      // As before the split into threads, a section's problems are not listed: the places they touch get
      // no frames or an error of their own.
      const file = new DwarfFile(obj.src, obj.h, obj.sections, obj.symtab, ignore);
      const dwarf = new Dwarf(file);
      return dwarf.info ? { obj, file, dwarf, units: new UnitAddressIndex(dwarf, ignore) } : `${path}: no .debug_info`;
    } catch (e) {
      return `${path}: ${(e as Error).message}`;
    }
  }

  /** The frames of each place of the debug copy at `task.path`; a string says why a place has none. */
  async frames(task: DwarfTask): Promise<DwarfAnswer> {
    const { places } = task;
    const x = await this.opened(task.path);
    if (typeof x === 'string') return places.map(() => x);
    const relocatable = x.obj.h.type === ET_REL;
    const targets = places.map((p) => {
      if (!relocatable) return { section: 0, value: p.value };
      const s = x.obj.sections.find((sec) => sec.name === p.section);
      return { section: s ? s.index : -2, value: p.value };
    });
    const mine = task.share ? shareOf(x.units, targets, task.share) : targets.map((_, i) => i);
    const out: DwarfAnswer = places.map(() => null);
    let found: SourceFrame[][];
    try {
      found = addressFrames(x.dwarf, x.units, mine.map((i) => targets[i]));
    } catch (e) {
      const why = `${x.obj.path}: ${(e as Error).message}`;
      for (const i of mine) out[i] = why;
      return out;
    }
    mine.forEach((i, k) => (out[i] = found[k].length ? found[k] : `${x.obj.path}: no line-table row or subprogram covers this address`));
    return out;
  }

  async close(): Promise<void> {
    for (const opening of this.open.values()) {
      const x = await opening;
      if (typeof x === 'string') continue;
      x.file.close();
      x.obj.close();
    }
    this.open.clear();
  }
}
