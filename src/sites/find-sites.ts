// Definition sites of the symbols that need one (scan → sites → db): DW_AT_decl_file:decl_line of the symbol's DIE,
// else its unit and line table, from the object's own DWARF or its debug copy's. The search, in order:
//  1. each requested symbol mapped to the DWARF file's .symtab (SymbolMap: a stripped object's debug copy);
//  2. its candidate units: code by address (aranges, else unit ranges); else, and for data, the unit of its
//     STT_FILE group (the group's nearest local functions, the units between neighbouring groups, units by name);
//     global data outside any group through the groups of its address neighbours;
//  3. those units' DIEs walked once (every unit with --all-sites), subprogram entries and variable locations
//     matched by (section, address) and scored ENTRY/PART + NAMED + HOME, until each has a DIE of its own name;
//  4. what is still unmatched: group units taken without a name check rechecked, the units between a global's
//     neighbours walked, and with at most 64 MB of .debug_info (modules, not vmlinux) every unit;
//  5. the decl read through DW_AT_abstract_origin/specification; without one, code takes the first line-table
//     row at its address, data its unit alone.
// Over 400 lines because SiteFinder's steps share one object's state: the targets keyed by address, the pending
// counts, the walked units and the group → unit cache the unit heuristics fill and the DIE walk reads.
import { posix } from 'node:path';
import { ObjectError } from '../errors.js';
import { ET_REL, SHN_LORESERVE, SHN_UNDEF, STT_COMMON, STT_FUNC, STT_GNU_IFUNC, STT_OBJECT, STT_TLS } from '../elf/constants.js';
import * as C from '../dwarf/constants.js';
import { Dwarf } from '../dwarf/context.js';
import type { DieCursor } from '../dwarf/die.js';
import { rangesAttribute } from '../dwarf/ranges.js';
import { followOrigins, originName } from '../dwarf/refs.js';
import { UnitAddressIndex } from '../dwarf/unit-index.js';
import { DwarfFile } from '../dwarf/sections.js';
import { readUnitLength, type Unit } from '../dwarf/unit.js';
import { type OpenedObject, openObject } from './object.js';
import { PathMapper } from './paths.js';
import { FileGroups, sectionNameOf } from './symbols.js';
import type { Site, SiteRequest, SiteResult } from './types.js';
import { partitionPoint } from '../partition-point.js';

export type { Site, SiteRequest, SiteResult, SiteSource } from './types.js';

type SiteError = SiteResult['errors'][number];
type MutableSite = { -readonly [K in keyof Site]: Site[K] };

export interface FindSitesOptions {
  /** Kernel source root as the DWARF paths spell it (absolute or relative to DW_AT_comp_dir); overrides the learned build directory. */
  sourceRoot?: string;
  /** Sites for (nearly) every symbol of the object: decode every unit once instead of locating units per symbol. */
  all?: boolean;
}

/**
 * Definition sites of `requests` (symbols of `object`: a path, or the object already open in the scan that
 * asked, which stays open) from the DWARF of `dwarfPath` (the same file, or its debug copy). Never throws for
 * bad input: problems become `errors` and the affected sites fall back.
 */
export async function findSites(object: string | OpenedObject, dwarfPath: string, requests: readonly SiteRequest[], options: FindSitesOptions = {}): Promise<SiteResult> {
  const errors: SiteError[] = [];
  const sites: MutableSite[] = requests.map((r) => ({ symtabIndex: r.symtabIndex, declFile: null, declLine: null, unit: null, source: 'none' }));
  const sink = new ErrorSink(errors);
  const objectPath = typeof object === 'string' ? object : object.path;
  const opened: OpenedObject[] = [];
  try {
    const obj = typeof object === 'string' ? await openObject(object) : object;
    if (obj !== object) opened.push(obj);
    const dbg = dwarfPath === objectPath ? obj : await openObject(dwarfPath);
    if (dbg !== obj) opened.push(dbg);
    const finder = new SiteFinder(obj, dbg, options, sink);
    try {
      finder.run(requests, sites);
    } finally {
      finder.close();
    }
  } catch (e) {
    sink.add(e, objectPath);
  } finally {
    sink.close();
    for (const o of opened) {
      try {
        o.close();
      } catch (e) {
        sink.add(e, o.path);
      }
    }
  }
  return { sites, errors };
}

/**
 * Keeps one object's error list readable: identical failures (one per unit of a broken section) are counted.
 * An error object added again is the same failure met again (the DWARF decoder throws a broken unit's error
 * on every later lookup of it): it is neither listed nor counted twice.
 */
class ErrorSink {
  private seen = new Map<string, number>();
  private recorded = new WeakSet<object>();
  private static readonly LIMIT = 200;
  constructor(private errors: SiteError[]) {}

  add(e: unknown, file: string): void {
    if (typeof e === 'object' && e !== null) {
      if (this.recorded.has(e)) return;
      this.recorded.add(e);
    }
    let err: SiteError;
    if (e instanceof ObjectError) err = { offset: e.offset, kind: e.kind, message: e.message };
    else if (e && typeof (e as NodeJS.ErrnoException).code === 'string') err = { offset: 0, kind: 'io', message: `${file}: ${(e as Error).message}` };
    else err = { offset: 0, kind: 'internal', message: `${file}: internal error: ${(e as Error)?.stack ?? String(e)}` };
    const key = `${err.kind}:${err.message.replace(/0x[0-9a-f]+/g, '#')}`;
    const n = (this.seen.get(key) ?? 0) + 1;
    this.seen.set(key, n);
    if (n === 1 && this.errors.length < ErrorSink.LIMIT) this.errors.push(err);
  }

  close(): void {
    let repeats = 0;
    for (const n of this.seen.values()) repeats += n - 1;
    if (repeats > 0) this.errors.push({ offset: 0, kind: 'format', message: `${repeats} further errors of the same kinds were not listed` });
  }
}

const CODE = 1;
const DATA = 2;

/**
 * Data gcc makes without a DIE of its own: `__func__.N` strings, `__compound_literal.N`, switch tables
 * (`CSWTCH.N`) and `.LC`/`.L` constant labels. Searching DIEs for them would walk every function body of
 * their units for nothing (they are half of all in-object duplicates); their unit comes from the symbol
 * table alone.
 */
const COMPILER_MADE = /^(?:(?:__func__|__compound_literal|CSWTCH)\.\d+$|\.L)/;

/** Qualities of a DIE match: a subprogram entry beats a later range start (a `.cold` part). */
const ENTRY = 2;
const PART = 1;
/** Added when the DIE's name is the symbol's source name. */
const NAMED = 4;
/**
 * Added when the DIE is in the unit of the symbol's STT_FILE group: two zero-size `__key.0` of different
 * files can share an address, and the symbol table says which file each belongs to.
 */
const HOME = 8;
/** A DIE with the symbol's name whose entry is the symbol's address: only HOME can still improve on it. */
const BEST = ENTRY + NAMED;

interface Target {
  /** Index into the request list. */
  readonly req: number;
  /** Index in the DWARF file's symbol table. */
  readonly sym: number;
  /** The source-level name: the symbol name up to its first '.' (`scale.constprop.0` → `scale`). */
  readonly base: string;
  readonly section: number;
  readonly value: bigint;
  readonly want: number;
  units: number[];
  /** True when `units` come from address neighbours only: never reported as the symbol's unit. */
  guessed: boolean;
  /** True when `units` come from the symbol's STT_FILE group (not from its own address). */
  viaGroup: boolean;
  match: { unit: number; die: number; quality: number } | null;
  /** No later DIE can be a better match: the target no longer counts as pending. */
  settled: boolean;
  /** The decl of `match`, read while its unit was loaded; paths are made relative at the end. */
  decl: { match: Target['match']; file: string | null; compDir: string | null; line: number | null } | null;
}

/** Tags whose subtrees never hold code or data with addresses (C; C++ member functions are out of scope). */
const TYPE_TAGS = new Set([
  C.DW_TAG_structure_type, C.DW_TAG_union_type, C.DW_TAG_enumeration_type, C.DW_TAG_class_type,
  C.DW_TAG_subroutine_type, C.DW_TAG_array_type,
]);

/** How far from a symbol (in table order) to look for functions that identify its unit. */
const NEIGHBOUR_PROBES = 24;
/** Units examined between two anchor groups' units (a data-only file sits right next to its neighbours). */
const BETWEEN_HOPS = 16;
/** Units read to learn the build directory when the requests' own units did not teach it. */
const LEARN_UNITS = 16;
/** Units walked for a global variable located by its address neighbours. */
const NEAR_UNITS = 4;
/** Units walked, when those missed, between the units of its nearest neighbours below and above. */
const BETWEEN_UNITS = 512;
/** Without a unit candidate, a whole-object scan is allowed up to this much .debug_info (modules, not vmlinux). */
const FULL_SCAN_LIMIT = 64 << 20;

class SiteFinder {
  private dwarf: Dwarf;
  private paths: PathMapper;
  private units: UnitAddressIndex | null = null;
  private byAddress = new Map<number, Map<bigint, Target[]>>();
  private pendingCode = 0;
  private pendingData = 0;
  private dataPerUnit = new Map<number, number>();
  private walked = new Set<number>();
  private fresh: Target[] = [];
  /** Groups whose unit came from a function without a name check (see recheckGroups). */
  private unverified = new Set<number>();
  /** Whether the last unitsByFunctions() answer skipped the name check. */
  private unnamed = false;
  private groupUnits = new Map<number, number[]>();
  private basenames: Map<string, number[]> | null = null;
  private localsBySection = new Map<number, { syms: number[]; values: bigint[] } | null>();
  private unitInfos = new Map<number, { name: string | null; compDir: string | null } | null>();
  private groups: FileGroups | null;
  private relocatable: boolean;

  private file: DwarfFile;

  constructor(private obj: OpenedObject, private dbg: OpenedObject, private options: FindSitesOptions, private sink: ErrorSink) {
    this.file = new DwarfFile(dbg.src, dbg.h, dbg.sections, dbg.symtab, (e) => sink.add(e, dbg.path));
    this.dwarf = new Dwarf(this.file);
    this.paths = new PathMapper(options.sourceRoot);
    this.groups = dbg.symtab ? new FileGroups(dbg.symtab) : null;
    this.relocatable = dbg.h.type === ET_REL;
  }

  /** Gives the section buffers back for the next object and closes descriptors. */
  close(): void {
    this.file.close();
  }

  run(requests: readonly SiteRequest[], sites: MutableSite[]): void {
    const targets = this.targets(requests);
    if (targets.length === 0) return;
    // A stripped object without a debug copy is a normal input, not an error: its sites fall back to the
    // source file its STT_FILE symbols give (a basename; the index records debug_path NULL for it).
    if (!this.dwarf.info) {
      for (const t of targets) {
        const file = this.groups?.fileName(t.sym) ?? null;
        if (file) Object.assign(sites[t.req], { unit: file, source: 'unit-only' });
      }
      return;
    }
    this.units = new UnitAddressIndex(this.dwarf, (e) => this.sink.add(e, this.dbg.path));

    for (const t of targets) this.locate(t);
    const order = this.options.all ? this.safeUnitOffsets() : [...new Set(targets.flatMap((t) => t.units))].sort((a, b) => a - b);
    for (const u of order) {
      if (this.pendingCode === 0 && this.pendingData === 0) break;
      this.walk(u);
    }
    this.recheckGroups(targets);
    for (const t of targets) if (t.guessed && t.match === null) this.walkBetweenNeighbours(t);
    // Targets no unit could be named for: only a whole-object scan can find them, affordable for modules.
    const unplaced = (t: Target) => t.want !== 0 && t.match === null && (t.units.length === 0 || t.guessed);
    if (!this.options.all && targets.some(unplaced) && this.dwarf.info.size <= FULL_SCAN_LIMIT) {
      for (const u of this.safeUnitOffsets()) {
        if (!targets.some(unplaced)) break;
        this.walked.delete(u); // walked before without descending into bodies
        this.walk(u, true);
      }
    }
    this.finish(targets, sites);
  }

  /** Requests → targets keyed by (section, address) in the DWARF file's address space. */
  private targets(requests: readonly SiteRequest[]): Target[] {
    const { obj, dbg } = this;
    if (!obj.symtab) throw new ObjectError(obj.path, obj.h.shoff, 'expected a SHT_SYMTAB section to index the requests, the object has none');
    if (!dbg.symtab) throw new ObjectError(dbg.path, dbg.h.shoff, 'expected a SHT_SYMTAB section in the DWARF file, it has none');
    const map = new SymbolMap(obj, dbg);
    const out: Target[] = [];
    requests.forEach((r, req) => {
      const i = r.symtabIndex;
      if (!Number.isInteger(i) || i <= 0 || i >= obj.symtab!.count) {
        this.sink.add(new ObjectError(obj.path, obj.symtab!.section.offset, `request ${req}: symbol index ${i} is not in the ${obj.symtab!.count}-entry symbol table`), obj.path);
        return;
      }
      let sym: number;
      try {
        sym = map.toDebug(i);
      } catch (e) {
        this.sink.add(e, obj.path);
        return;
      }
      if (sym < 0) {
        this.sink.add(new ObjectError(dbg.path, dbg.symtab!.section.offset,
          `symbol ${i} (${obj.symtab!.name(i)}) of ${obj.path} has no counterpart with the same section, value and name in the DWARF file`), dbg.path);
        return;
      }
      const t = dbg.symtab!;
      const shndx = t.shndx(sym);
      if (shndx === SHN_UNDEF || (shndx >= SHN_LORESERVE && t.rawShndx(sym) !== 0xffff)) return; // no address to look up
      const type = t.type(sym);
      const name = t.name(sym);
      const want = COMPILER_MADE.test(name) ? 0
        : type === STT_FUNC || type === STT_GNU_IFUNC ? CODE
          : type === STT_OBJECT || type === STT_TLS || type === STT_COMMON ? DATA : CODE | DATA;
      const target: Target = {
        req, sym, want, units: [], guessed: false, viaGroup: false, match: null, settled: false, decl: null, base: baseName(name),
        section: this.relocatable ? shndx : 0,
        value: t.value(sym),
      };
      let bySection = this.byAddress.get(target.section);
      if (!bySection) this.byAddress.set(target.section, (bySection = new Map()));
      const list = bySection.get(target.value);
      if (list) list.push(target);
      else bySection.set(target.value, [target]);
      if (want & CODE) this.pendingCode++;
      if (want & DATA) this.pendingData++;
      out.push(target);
    });
    return out;
  }

  private safeUnitOffsets(): number[] {
    return this.units!.unitOffsets();
  }

  /** Candidate units of a target: from its address for code, from its STT_FILE group for data (or as a fallback). */
  private locate(t: Target): void {
    if (t.want & CODE) t.units = this.unitsAt(t.section, t.value);
    if (t.units.length === 0) {
      t.units = this.unitsOfGroup(t.sym);
      t.viaGroup = t.units.length > 0;
    }
    if (t.units.length === 0 && t.want & DATA) {
      t.units = this.unitsNearAddress(t.sym);
      t.guessed = t.units.length > 0;
    }
    if (t.want & DATA) for (const u of t.units) this.dataPerUnit.set(u, (this.dataPerUnit.get(u) ?? 0) + 1);
  }

  private unitsAt(section: number, value: bigint): number[] {
    return this.units!.unitsAt(section, value);
  }

  /**
   * The unit of a symbol's STT_FILE group: the unit holding the nearest functions of the group whose
   * DW_AT_name has the group's basename; else every unit with that basename.
   */
  private unitsOfGroup(sym: number): number[] {
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
   * A group's unit taken from its functions without reading the unit's name is checked now, for the groups
   * whose symbols went unmatched: the name of a walked unit is known by then. The check matters where the
   * symbol table is not grouped cleanly: objtool appends `__pfx_*` symbols of every file after the last
   * STT_FILE group of a 6.12 module (bridge.ko: after br_mst.c's), which would make br_mst.c's data look
   * like br.c's.
   */
  private recheckGroups(targets: Target[]): void {
    const groups = this.groups;
    if (!groups || this.unverified.size === 0) return;
    const retry = new Map<number, Target[]>();
    for (const t of targets) {
      if (t.match || !t.viaGroup) continue;
      const g = groups.group(t.sym);
      if (!this.unverified.has(g)) continue;
      const list = retry.get(g);
      if (list) list.push(t);
      else retry.set(g, [t]);
    }
    for (const [g, list] of retry) {
      this.unverified.delete(g);
      const fileName = groups.fileName(g);
      const units = this.groupUnits.get(g) ?? [];
      if (fileName === null || units.length !== 1 || sameSource(this.unitBasename(units[0]), fileName)) continue;
      let found = this.unitsBetweenGroups(g, fileName);
      if (found.length === 0) found = this.unitsNamed(fileName);
      this.groupUnits.set(g, found);
      for (const t of list) {
        t.units = found;
        if (t.want & DATA) for (const u of found) this.dataPerUnit.set(u, (this.dataPerUnit.get(u) ?? 0) + 1);
      }
      for (const u of found) {
        this.walked.delete(u);
        this.walk(u, true);
      }
    }
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
        off += readUnitLength(info, off).size;
        if (off + 4 > info.size || (high !== null && off >= high)) break;
        if (sameSource(this.unitBasename(off), fileName)) out.push(off);
      }
    } catch (e) {
      this.sink.add(e, this.dbg.path);
      return [];
    }
    return out.length === 1 ? out : [];
  }

  /** The unit of the nearest local functions of a symbol's group (or of its table neighbours without one). */
  private unitsByFunctions(sym: number, fileName: string | null): number[] {
    const groups = this.groups!;
    const t = this.dbg.symtab!;
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
  private unitsNearAddress(sym: number): number[] {
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
    const t = this.dbg.symtab!;
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
   * below and above it. Those units are walked, at most BETWEEN_UNITS of them, without function bodies.
   */
  private walkBetweenNeighbours(t: Target): void {
    const near = this.localsAround(t.sym);
    if (!near) return;
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
    if (below === null || above === null || above <= below) return;
    const offsets = this.safeUnitOffsets();
    const first = offsets.indexOf(below);
    const last = offsets.indexOf(above);
    if (first < 0 || last < 0 || last - first > BETWEEN_UNITS) return;
    for (let k = first; k <= last && !t.match; k++) this.walk(offsets[k]);
  }


  /** Grouped local FUNC/OBJECT symbols of one section sorted by address (built per section on demand). */
  private localsOf(shndx: number): { syms: number[]; values: bigint[] } | null {
    const cached = this.localsBySection.get(shndx);
    if (cached !== undefined) return cached;
    const t = this.dbg.symtab!;
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
      for (const off of this.safeUnitOffsets()) {
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
  private unitInfo(off: number): { name: string | null; compDir: string | null } | null {
    let info = this.unitInfos.get(off);
    if (info === undefined) {
      info = null;
      try {
        const u = this.dwarf.unitSummary(off);
        info = { name: u.name ?? this.primaryFile(u), compDir: u.compDir };
        this.paths.learn(u.name, u.compDir);
      } catch (e) {
        this.sink.add(e, this.dbg.path);
      }
      this.unitInfos.set(off, info);
    }
    return info;
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
      this.sink.add(e, this.dbg.path);
      return null;
    }
  }

  /** One pass over a unit's DIEs, matching subprogram entries and variable addresses against every target. */
  private walk(off: number, deep = false): void {
    if (this.walked.has(off)) return;
    this.walked.add(off);
    let u: Unit;
    try {
      u = this.dwarf.unit(off);
    } catch (e) {
      this.sink.add(e, this.dbg.path);
      return;
    }
    if (!u.hasCode) return;
    if (!this.unitInfos.has(off)) {
      this.unitInfos.set(off, { name: u.name ?? this.primaryFile(u), compDir: u.compDir });
      this.paths.learn(u.name, u.compDir);
    }
    // Static locals (`__key.N`, `counter.0`) live inside subprogram bodies: descend only where data is sought.
    const intoBodies = deep || this.options.all || (this.dataPerUnit.get(off) ?? 0) > 0;
    const c = u.cursor();
    try {
      c.next(); // the unit DIE
      while (c.next()) {
        const tag = c.tag;
        if (tag === C.DW_TAG_subprogram) {
          if (this.pendingCode > 0) this.subprogram(c);
          if (!(intoBodies && this.pendingData > 0)) c.skipChildren();
        } else if (tag === C.DW_TAG_variable) {
          if (this.pendingData > 0) this.variable(c);
        } else if (TYPE_TAGS.has(tag) || tag === C.DW_TAG_inlined_subroutine || tag === C.DW_TAG_call_site || tag === C.DW_TAG_GNU_call_site) {
          // Inlined copies refer to their abstract instance, where gcc puts static locals' locations;
          // call sites hold only parameters. Neither has an addressed DIE of its own.
          c.skipChildren();
        }
      }
    } catch (e) {
      this.sink.add(e, this.dbg.path);
    }
    // Read decls now, while this unit is in the cache (a vmlinux walk would otherwise read it twice).
    for (const t of this.fresh) this.readDecl(t);
    this.fresh.length = 0;
  }

  private readDecl(t: Target): void {
    if (!t.match || t.decl?.match === t.match) return;
    try {
      t.decl = { match: t.match, ...this.decl(t.match.unit, t.match.die) };
    } catch (e) {
      this.sink.add(e, this.dbg.path);
      t.decl = { match: t.match, file: null, compDir: null, line: null };
    }
  }

  private subprogram(c: DieCursor): void {
    const rk = c.find(C.DW_AT_ranges);
    if (rk >= 0) {
      let ranges;
      try {
        ranges = rangesAttribute(c, rk);
      } catch (e) {
        this.sink.add(e, this.dbg.path);
        return;
      }
      ranges.forEach((r, i) => this.hit(r.section, r.start, i === 0 ? ENTRY : PART, CODE, c));
      return;
    }
    const lk = c.find(C.DW_AT_low_pc);
    if (lk < 0) return;
    const low = c.address(lk);
    if (low) this.hit(low.section, low.value, ENTRY, CODE, c);
  }

  private variable(c: DieCursor): void {
    const k = c.find(C.DW_AT_location);
    if (k < 0) return;
    const a = c.locationAddress(k);
    if (a) this.hit(a.section, a.value, ENTRY, DATA, c);
  }

  /**
   * A DIE at a requested address. Several DIEs can share an address: a zero-size `__key.N` (lockdep keys
   * without CONFIG_LOCKDEP) sits at the address of the next variable, so a DIE whose name is the symbol's
   * source name (`__key` for `__key.3`) beats one that only has the address.
   */
  private hit(section: number, value: bigint, quality: number, kind: number, c: DieCursor): void {
    const list = this.byAddress.get(section)?.get(value);
    if (!list) return;
    let name: string | null | undefined;
    for (const t of list) {
      const home = t.viaGroup && t.units.includes(c.unit.offset) ? HOME : 0;
      if (!(t.want & kind) || (t.match && t.match.quality >= quality + NAMED + home)) continue;
      if (name === undefined) {
        try {
          name = this.dieName(c.unit.offset, c.offset);
        } catch (e) {
          this.sink.add(e, this.dbg.path);
          name = null;
        }
      }
      const q = quality + (name !== null && name === t.base ? NAMED : 0) + home;
      if (t.match && t.match.quality >= q) continue;
      // A target stays pending until a DIE with its own name at its entry is found (in its group's unit when
      // that is known): the first DIE at an address may be a neighbour sharing it (nfsd.ko:
      // `nfsd_devid_lock` before the zero-size `__key.3`).
      if (q - home >= BEST && (home || !t.viaGroup) && !t.settled) {
        t.settled = true;
        if (t.want & CODE) this.pendingCode--;
        if (t.want & DATA) this.pendingData--;
      }
      t.match = { unit: c.unit.offset, die: c.offset, quality: q };
      this.fresh.push(t);
    }
  }

  /** Turns matches and fallbacks into sites. */
  private finish(targets: Target[], sites: MutableSite[]): void {
    // Paths must not depend on which units the requests happened to touch (only assembler units, say):
    // learn the build directory from the first units of the object when nothing taught it yet.
    if (!this.paths.learned) {
      const first = this.safeUnitOffsets().slice(0, LEARN_UNITS);
      for (const off of first) {
        this.unitInfo(off);
        if (this.paths.learned) break;
      }
    }
    const lineTargets = new Map<number, Target[]>();
    for (const t of targets) {
      const site = sites[t.req];
      if (t.match) {
        this.readDecl(t);
        site.unit = this.relativeUnit(t.match.unit);
        const d = t.decl!;
        if (d.file !== null || d.line !== null) {
          site.declFile = d.file === null ? null : this.paths.relative(d.file, d.compDir);
          site.declLine = d.line;
          site.source = 'decl';
          continue;
        }
      }
      // A unit is named only when it is certain: several same-named candidates (two `reboot.c`) say nothing.
      const unit = t.match?.unit ?? (t.guessed || t.units.length !== 1 ? undefined : t.units[0]);
      if (unit === undefined) continue;
      site.unit = this.relativeUnit(unit);
      site.source = 'unit-only';
      if (t.want & CODE) {
        const list = lineTargets.get(unit);
        if (list) list.push(t);
        else lineTargets.set(unit, [t]);
      }
    }
    for (const [off, list] of lineTargets) {
      try {
        const u = this.dwarf.unit(off);
        const lp = this.dwarf.lineProgram(u);
        if (!lp) continue;
        const rows = lp.firstRows(list.map((t) => ({ section: t.section, value: t.value })));
        rows.forEach((row, i) => {
          if (!row) return;
          const site = sites[list[i].req];
          const raw = lp.filePath(row.file);
          site.declFile = raw === null ? null : this.paths.relative(raw, u.compDir);
          site.declLine = row.line;
          site.source = 'line-table';
        });
      } catch (e) {
        this.sink.add(e, this.dbg.path);
      }
    }
  }

  private relativeUnit(off: number): string | null {
    const info = this.unitInfo(off);
    return info ? this.paths.unitName(info.name, info.compDir) : null;
  }

  private chain(unitOff: number, dieOff: number, visit: (c: DieCursor, u: Unit) => boolean): void {
    followOrigins(this.dwarf, unitOff, dieOff, visit);
  }

  /**
   * DW_AT_decl_file / DW_AT_decl_line of a DIE, each taken from the first DIE of its chain that has it.
   * The file index is looked up in the line table of the unit holding the DIE that carried it.
   */
  private decl(unitOff: number, dieOff: number): { file: string | null; compDir: string | null; line: number | null } {
    let fileIndex: number | null = null;
    let fileUnit: Unit | null = null;
    let line: number | null = null;
    this.chain(unitOff, dieOff, (c, u) => {
      if (fileIndex === null) {
        const k = c.find(C.DW_AT_decl_file);
        if (k >= 0) {
          fileIndex = c.constant(k);
          fileUnit = u;
        }
      }
      if (line === null) {
        const k = c.find(C.DW_AT_decl_line);
        if (k >= 0) line = c.constant(k);
      }
      return fileIndex !== null && line !== null;
    });
    let file: string | null = null;
    const fu = fileUnit as Unit | null;
    if (fileIndex !== null && fu) file = this.dwarf.lineProgram(fu)?.filePath(fileIndex) ?? null;
    return { file, compDir: fu?.compDir ?? null, line };
  }

  private dieName(unitOff: number, dieOff: number): string | null {
    return originName(this.dwarf, unitOff, dieOff);
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

/** The source-level name of a symbol: compiler suffixes (`.constprop.0`, `.isra.0`, `.cold`, `.12`) cut off. */
export function baseName(name: string): string {
  const dot = name.indexOf('.', 1);
  return dot < 0 ? name : name.slice(0, dot);
}

/**
 * Requests index the object's symbol table; sites are found through the DWARF file's, which differs for a
 * stripped object paired with its debug copy (Debian's drop the STT_FILE symbols). A symbol is matched by
 * (section, value, name) and, among symbols sharing those (zero-size `__key.0` of two files at one
 * address), by its rank: strip keeps the order of the symbols it keeps.
 */
class SymbolMap {
  private objRanks: Map<string, number[]> | null = null;
  private dbgRanks: Map<string, number[]> | null = null;
  constructor(private obj: OpenedObject, private dbg: OpenedObject) {}

  toDebug(i: number): number {
    if (this.obj === this.dbg) return i;
    this.objRanks ??= this.ranks(this.obj);
    this.dbgRanks ??= this.ranks(this.dbg);
    const key = this.key(this.obj, i);
    const rank = this.objRanks.get(key)!.indexOf(i);
    return this.dbgRanks.get(key)?.[rank] ?? -1;
  }

  /** Symbol indexes by key, in table order. */
  private ranks(o: OpenedObject): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (let j = 1; j < o.symtab!.count; j++) {
      const key = this.key(o, j);
      const list = out.get(key);
      if (list) list.push(j);
      else out.set(key, [j]);
    }
    return out;
  }

  private key(o: OpenedObject, i: number): string {
    const t = o.symtab!;
    return `${sectionNameOf(t, o.sections, i)}\0${t.valueHex(i)}\0${t.name(i)}`;
  }
}
