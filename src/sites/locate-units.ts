// Which units may hold a symbol's definition, before any DIE is read: by address (aranges, else unit ranges),
// by the symbol's STT_FILE group (the unit of the group's nearest local functions, the units between the units
// of neighbouring groups, units by name), and for data outside any group by its address neighbours' groups.
// The site finder walks the units named here; unit names are read from unit DIEs only where needed.
import { posix } from 'node:path';
import { SHN_LORESERVE, SHN_UNDEF, STT_FUNC, STT_GNU_IFUNC, STT_OBJECT } from '../elf/constants.js';
import type { SymbolTable } from '../elf/symbols.js';
import type { Dwarf } from '../dwarf/dwarf.js';
import type { Unit } from '../dwarf/unit.js';
import { readUnitSize } from '../dwarf/unit-header.js';
import type { UnitAddressIndex } from '../dwarf/unit-index.js';
import type { PathMapper } from './paths.js';
import type { FileGroups } from './symbols.js';
import { partitionPoint } from '../partition-point.js';

/** How far from a symbol (in table order) to look for functions that identify its unit. */
const NEIGHBOUR_PROBES = 24;
/** Units examined between two anchor groups' units (a data-only file sits right next to its neighbours). */
const BETWEEN_HOPS = 16;
/** Units walked for a global variable located by its address neighbours. */
const NEAR_UNITS = 4;
/** Units walked, when those missed, between the units of its nearest neighbours below and above. */
const BETWEEN_UNITS = 512;

/** DW_AT_name and DW_AT_comp_dir of a unit as written. */
export interface UnitInfo {
  readonly name: string | null;
  readonly compDir: string | null;
}

/** Candidate units of symbols of one object's DWARF file, with the caches the heuristics share. */
export class UnitLocator {
  /** Groups whose unit came from a function without a name check (see recheck). */
  private unverified = new Set<number>();
  /** Whether the last unitsByFunctions() answer skipped the name check. */
  private unnamed = false;
  private groupUnits = new Map<number, number[]>();
  private basenames: Map<string, number[]> | null = null;
  private localsBySection = new Map<number, { syms: number[]; values: bigint[] } | null>();
  private unitInfos = new Map<number, UnitInfo | null>();

  constructor(
    private dwarf: Dwarf,
    private index: UnitAddressIndex,
    private symtab: SymbolTable,
    private groups: FileGroups | null,
    /** Relocatable object: addresses are (section index, offset) pairs. */
    private relocatable: boolean,
    /** Learns the build directory from each unit name read. */
    private paths: PathMapper,
    private report: (e: unknown) => void,
  ) {}

  /** Every unit offset (a broken unit chain ends the list, reported once). */
  unitOffsets(): number[] {
    return this.index.unitOffsets();
  }

  /** Units whose code covers (section, address): .debug_aranges, else the unit DIEs' ranges. */
  unitsAt(section: number, value: bigint): number[] {
    return this.index.unitsAt(section, value);
  }

  /**
   * The unit of a symbol's STT_FILE group: the unit holding the nearest functions of the group whose
   * DW_AT_name has the group's basename; else every unit with that basename.
   */
  unitsOfGroup(sym: number): number[] {
    const groups = this.groups;
    if (!groups) return [];
    const g = groups.group(sym);
    const cached = g > 0 ? this.groupUnits.get(g) : undefined;
    if (cached) return cached;
    const fileName = groups.fileName(sym);
    let found = this.unitsByFunctions(sym, fileName);
    if (found.length === 1 && g > 0 && this.unnamed) this.unverified.add(g);
    if (found.length === 0 && fileName !== null && g > 0) found = this.unitsBetweenGroups(g, fileName);
    if (found.length === 0 && fileName !== null) found = this.unitsNamed(fileName);
    if (g > 0) this.groupUnits.set(g, found);
    return found;
  }

  /**
   * A group's unit taken from its functions without reading the unit's name, checked once its symbols went
   * unmatched (the name of a walked unit is known by then): the units it should have had, or null when the
   * unit was right or the group was checked already. The check matters where the symbol table is not grouped
   * cleanly: objtool appends `__pfx_*` symbols of every file after the last STT_FILE group of a 6.12 module
   * (bridge.ko: after br_mst.c's), which would make br_mst.c's data look like br.c's.
   */
  recheck(g: number): number[] | null {
    if (!this.unverified.delete(g)) return null;
    const fileName = this.groups!.fileName(g);
    const units = this.groupUnits.get(g) ?? [];
    if (fileName === null || units.length !== 1 || sameSource(this.unitBasename(units[0]), fileName)) return null;
    let found = this.unitsBetweenGroups(g, fileName);
    if (found.length === 0) found = this.unitsNamed(fileName);
    this.groupUnits.set(g, found);
    return found;
  }

  /** The group of `sym` when its unit was taken without a name check (see recheck), else -1. */
  uncheckedGroup(sym: number): number {
    if (!this.groups || this.unverified.size === 0) return -1;
    const g = this.groups.group(sym);
    return this.unverified.has(g) ? g : -1;
  }

  /**
   * A group without local functions (all its functions are global, or it only has data): the linker lays
   * out both the symbol table's file groups and .debug_info's units in input order, so its unit lies
   * between the units of the nearest groups that have local functions. Only those few units are named;
   * the whole-object name index is the fallback.
   */
  private unitsBetweenGroups(g: number, fileName: string): number[] {
    const groups = this.groups!;
    const anchor = (start: number, step: (x: number) => number): number | null => {
      for (let h = step(start), n = 0; h > 0 && n < 8; h = step(h), n++) {
        const u = this.groupUnits.get(h) ?? this.unitsByFunctions(h, groups.fileName(h));
        if (u.length === 1) return u[0];
      }
      return null;
    };
    const low = anchor(g, (x) => groups.previousGroup(x));
    if (low === null) return [];
    const high = anchor(g, (x) => groups.nextGroup(x));
    const info = this.dwarf.info!;
    const out: number[] = [];
    try {
      let off = low;
      for (let hops = 0; hops < BETWEEN_HOPS; hops++) {
        off += readUnitSize(info, off);
        if (off + 4 > info.size || (high !== null && off >= high)) break;
        if (sameSource(this.unitBasename(off), fileName)) out.push(off);
      }
    } catch (e) {
      this.report(e);
      return [];
    }
    return out.length === 1 ? out : [];
  }

  /** The unit of the nearest local functions of a symbol's group (or of its table neighbours without one). */
  private unitsByFunctions(sym: number, fileName: string | null): number[] {
    const groups = this.groups!;
    const t = this.symtab;
    let found: number[] = [];
    let probes = 0;
    for (const j of groups.neighbours(sym, NEIGHBOUR_PROBES)) {
      if (probes >= NEIGHBOUR_PROBES) break;
      const type = t.type(j);
      if (type !== STT_FUNC && type !== STT_GNU_IFUNC) continue;
      const shndx = t.shndx(j);
      if (shndx === SHN_UNDEF || shndx >= SHN_LORESERVE) continue;
      probes++;
      const units = this.unitsAt(this.relocatable ? shndx : 0, t.value(j));
      // A function of the same STT_FILE group is code of the same object file, hence of the same unit: its
      // unit need not be read to check the name (that would read ~1,000 unit headers in a vmlinux).
      // Only overlapping ranges (several units) are told apart by the unit's basename.
      const match = units.length === 1 ? units : units.filter((u) => fileName === null || sameSource(this.unitBasename(u), fileName));
      if (match.length > 0) {
        found = match.slice(0, 1);
        this.unnamed = units.length === 1;
        break;
      }
    }
    return found;
  }

  /**
   * For data outside any STT_FILE group (a global `event_function` beside a static one): the linker keeps
   * each input file's part of a section together, so the local symbols next to it by address name its unit.
   */
  unitsNearAddress(sym: number): number[] {
    const near = this.localsAround(sym);
    if (!near) return [];
    const { list, lo } = near;
    // A guess, so several units are walked: the nearest below first, then above, alternating.
    const out: number[] = [];
    for (let d = 0; d < 4 && out.length < NEAR_UNITS; d++) {
      for (const j of [lo - 1 - d, lo + d]) {
        if (j < 0 || j >= list.syms.length) continue;
        for (const u of this.unitsOfGroup(list.syms[j])) if (!out.includes(u)) out.push(u);
      }
    }
    return out.slice(0, NEAR_UNITS);
  }

  /** The grouped locals of a symbol's section, and the position of the first one above the symbol. */
  private localsAround(sym: number): { list: { syms: number[]; values: bigint[] }; lo: number } | null {
    const t = this.symtab;
    if (!this.groups) return null;
    const list = this.localsOf(t.shndx(sym));
    if (!list) return null;
    const value = t.value(sym);
    return { list, lo: partitionPoint(list.values.length, (k) => list.values[k] <= value) };
  }

  /**
   * A global variable its address neighbours' units do not hold (vmlinux's `acpi_gpe_count`, defined through
   * acglobal.h in utglobal.c, among ACPICA's other globals in .bss with no local near it): the linker lays out
   * .bss and .debug_info in the same input order, so its unit lies between the units of the nearest locals
   * below and above it: those units, in .debug_info order, or none when they are more than BETWEEN_UNITS.
   */
  unitsBetweenNeighbours(sym: number): number[] {
    const near = this.localsAround(sym);
    if (!near) return [];
    const { list, lo } = near;
    const unitOf = (from: number, step: number): number | null => {
      for (let j = from, n = 0; j >= 0 && j < list.syms.length && n < 8; j += step, n++) {
        const units = this.unitsOfGroup(list.syms[j]);
        if (units.length === 1) return units[0];
      }
      return null;
    };
    const below = unitOf(lo - 1, -1);
    const above = unitOf(lo, 1);
    if (below === null || above === null || above <= below) return [];
    const offsets = this.unitOffsets();
    const first = offsets.indexOf(below);
    const last = offsets.indexOf(above);
    if (first < 0 || last < 0 || last - first > BETWEEN_UNITS) return [];
    return offsets.slice(first, last + 1);
  }

  /** Grouped local FUNC/OBJECT symbols of one section sorted by address (built per section on demand). */
  private localsOf(shndx: number): { syms: number[]; values: bigint[] } | null {
    const cached = this.localsBySection.get(shndx);
    if (cached !== undefined) return cached;
    const t = this.symtab;
    const groups = this.groups!;
    const l: { sym: number; value: bigint }[] = [];
    for (let i = 1; i < t.count; i++) {
      if (groups.group(i) <= 0) continue;
      const raw = t.rawShndx(i);
      if ((raw === 0xffff ? t.shndx(i) : raw) !== shndx) continue;
      const type = t.type(i);
      if (type !== STT_OBJECT && type !== STT_FUNC) continue;
      l.push({ sym: i, value: t.value(i) });
    }
    l.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    const out = l.length ? { syms: l.map((e) => e.sym), values: l.map((e) => e.value) } : null;
    this.localsBySection.set(shndx, out);
    return out;
  }

  /** Every unit whose DW_AT_name is the source `fileName` names (the whole-object index). */
  private unitsNamed(fileName: string): number[] {
    return (this.unitsByBasename().get(stem(fileName)!) ?? []).filter((u) => sameSource(this.unitBasename(u), fileName));
  }

  /** Units by the stem of their basename (read once per object, on demand). */
  private unitsByBasename(): Map<string, number[]> {
    if (!this.basenames) {
      this.basenames = new Map();
      for (const off of this.unitOffsets()) {
        const b = stem(this.unitBasename(off));
        if (b === null) continue;
        const list = this.basenames.get(b);
        if (list) list.push(off);
        else this.basenames.set(b, [off]);
      }
    }
    return this.basenames;
  }

  private unitBasename(off: number): string | null {
    const name = this.unitInfo(off)?.name ?? null;
    return name === null ? null : posix.basename(name);
  }

  /** DW_AT_name and DW_AT_comp_dir of a unit as written, cached; also teaches the path mapper. */
  unitInfo(off: number): UnitInfo | null {
    let info = this.unitInfos.get(off);
    if (info === undefined) {
      info = null;
      try {
        const u = this.dwarf.unitSummary(off);
        info = { name: u.name ?? this.primaryFile(u), compDir: u.compDir };
        this.paths.learn(u.name, u.compDir);
      } catch (e) {
        this.report(e);
      }
      this.unitInfos.set(off, info);
    }
    return info;
  }

  /** Records the name of a unit loaded for a walk (no second read of its unit DIE). */
  noteUnit(u: Unit): void {
    if (this.unitInfos.has(u.offset)) return;
    this.unitInfos.set(u.offset, { name: u.name ?? this.primaryFile(u), compDir: u.compDir });
    this.paths.learn(u.name, u.compDir);
  }

  /**
   * A unit without DW_AT_name (a split-DWARF skeleton): DWARF 5 line tables name the primary source file
   * as file 0, which is what DW_AT_name would have said.
   */
  private primaryFile(u: Unit): string | null {
    try {
      const lp = this.dwarf.lineProgram(u);
      return lp && lp.version >= 5 ? lp.filePath(0) : null;
    } catch (e) {
      this.report(e);
      return null;
    }
  }
}

/** A file name without its last extension: `aesni-intel_asm.S` and `aesni-intel_asm.o` are one source. */
function stem(name: string | null): string | null {
  if (name === null) return null;
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/**
 * Whether a unit's basename is the source an STT_FILE symbol names. gcc writes the source's basename;
 * gas, without a `.file` directive, the object's (`aesni-intel_asm.o` for `aesni-intel_asm.S`).
 */
function sameSource(unitBase: string | null, fileName: string): boolean {
  if (unitBase === null) return false;
  return unitBase === fileName || (fileName.endsWith('.o') && stem(unitBase) === stem(fileName));
}
