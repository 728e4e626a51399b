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

/**
 * One object's places to symbolize: what a worker task carries. Places go as columns (a section name per
 * place, the values in one typed array), which cost a copy to post instead of an object each.
 */
export interface DwarfTask {
  /** The debug copy to read. */
  readonly path: string;
  readonly sections: readonly (string | null)[];
  readonly values: BigUint64Array;
  /**
   * Share `index` of `count` of the object's units: only places in those units are answered (each unit is
   * then decoded by one thread only). `batch` names the place list the shares split (one per run and object):
   * a thread deals it out once for all its shares. Absent: every place.
   */
  readonly share?: { readonly index: number; readonly count: number; readonly batch: number };
}

/** The task that asks for `places` of the debug copy at `path`. */
export function dwarfTask(path: string, places: readonly Place[]): DwarfTask {
  return { path, sections: places.map((p) => p.section), values: BigUint64Array.from(places, (p) => p.value) };
}

/** Why a place of the debug copy at `path` has no frames. */
export const uncovered = (path: string): string => `${path}: no line-table row or subprogram covers this address`;

/**
 * A task's places in the DWARF's address space: in a relocatable object the section index of the place's
 * section name (the first section of that name in `sections`, [name, index] in header order; -2 when none),
 * else the address itself (section 0).
 */
export function taskTargets(task: DwarfTask, relocatable: boolean, sections: readonly (readonly [string, number])[]): Address[] {
  const { values } = task;
  if (!relocatable) return Array.from(values, (value) => ({ section: 0, value }));
  const index = new Map<string | null, number>();
  return Array.from(values, (value, i) => {
    const name = task.sections[i];
    let section = index.get(name);
    if (section === undefined) {
      section = sections.find(([n]) => n === name)?.[1] ?? -2;
      index.set(name, section);
    }
    return { section, value };
  });
}

/** Source frames (innermost first) of each place, or why there are none; null for places of another share. */
export type DwarfAnswer = (SourceFrame[] | string | null)[];

const ignore = () => {};

/** Decoded units a debug copy keeps (the unit cache's default, 48, is ~28 MB of fresh buffers in vmlinux). */
const UNITS_KEPT = 8;

/**
 * The share of each target: the units `.debug_aranges` places any target in, in section order, dealt out in
 * turn; targets it does not place belong to share 0, whose thread alone then ranges the units it leaves out
 * (reading every unit's header). Every thread computes the same deal from the same targets.
 */
function dealShares(units: UnitAddressIndex, targets: readonly Address[], count: number): Int32Array {
  const { aranges } = units;
  const unitOf = targets.map((t) => (aranges ? aranges.lookup(t.section, t.value) : units.unitsAt(t.section, t.value))[0] ?? -1);
  const dealt = new Map([...new Set(unitOf)].sort((a, b) => a - b).map((u, k) => [u, u < 0 ? 0 : k % count]));
  return Int32Array.from(unitOf, (u) => dealt.get(u)!);
}

interface Opened {
  obj: OpenedObject;
  file: DwarfFile;
  dwarf: Dwarf;
  units: UnitAddressIndex;
}

/**
 * Debug copies opened by path: a shared object (vmlinux) stays open (with its decoded units) for its other
 * shares; an object asked for in one task is closed after it.
 */
export class DwarfObjects {
  private open = new Map<string, Promise<Opened | string>>();
  /** The targets and deal of the last shared place list (path and batch), for the list's other shares. */
  private deal: { path: string; batch: number; targets: Address[]; shares: Int32Array } | null = null;

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
      // Places are answered unit by unit in unit order: a few units kept serve the references between them.
      const dwarf = new Dwarf(file, UNITS_KEPT);
      return dwarf.info ? { obj, file, dwarf, units: new UnitAddressIndex(dwarf, ignore, false) } : `${path}: no .debug_info`;
    } catch (e) {
      return `${path}: ${(e as Error).message}`;
    }
  }

  /** The frames of each place of the debug copy at `task.path`; a string says why a place has none. */
  async frames(task: DwarfTask): Promise<DwarfAnswer> {
    const { path, share } = task;
    const x = await this.opened(path);
    if (typeof x === 'string') return task.sections.map(() => x);
    let targets: Address[];
    let mine: number[];
    if (share) {
      if (this.deal?.path !== path || this.deal.batch !== share.batch) {
        targets = DwarfObjects.targets(x, task);
        this.deal = { path, batch: share.batch, targets, shares: dealShares(x.units, targets, share.count) };
      }
      ({ targets } = this.deal);
      const { shares } = this.deal;
      mine = [];
      for (let i = 0; i < shares.length; i++) if (shares[i] === share.index) mine.push(i);
    } else {
      targets = DwarfObjects.targets(x, task);
      mine = targets.map((_, i) => i);
    }
    const out: DwarfAnswer = targets.map(() => null);
    try {
      this.answer(x, targets, mine, out);
    } finally {
      // An unshared task is its object's only one: closing it hands its buffers to the next object.
      if (!share && targets.length > 0) await this.closeCopy(path);
    }
    return out;
  }

  /** The task's places in the DWARF's address space (relocatable objects: section index and offset). */
  private static targets(x: Opened, task: DwarfTask): Address[] {
    return taskTargets(task, x.obj.h.type === ET_REL, x.obj.sections.map((sec) => [sec.name, sec.index]));
  }

  /** Fills `out` at `mine` with the frames of those targets, or why they have none. */
  private answer(x: Opened, targets: readonly Address[], mine: readonly number[], out: DwarfAnswer): void {
    let found: SourceFrame[][];
    try {
      found = addressFrames(x.dwarf, x.units, mine.map((i) => targets[i]));
    } catch (e) {
      const why = `${x.obj.path}: ${(e as Error).message}`;
      for (const i of mine) out[i] = why;
      return;
    }
    mine.forEach((i, k) => (out[i] = found[k].length ? found[k] : uncovered(x.obj.path)));
  }

  private async closeCopy(path: string): Promise<void> {
    const opening = this.open.get(path);
    if (!opening) return;
    this.open.delete(path);
    const x = await opening;
    if (typeof x === 'string') return;
    x.file.close();
    x.obj.close();
  }

  async close(): Promise<void> {
    for (const path of [...this.open.keys()]) await this.closeCopy(path);
  }
}
