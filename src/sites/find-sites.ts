// Definition sites of the symbols that need one (scan → sites → db): DW_AT_decl_file:decl_line of the symbol's DIE,
// else its unit and line table, from the object's own DWARF or its debug copy's. The search, in order:
//  1. each requested symbol mapped to the DWARF file's .symtab (SymbolMap: a stripped object's debug copy), a
//     Target (targets.ts);
//  2. its candidate units (UnitLocator, locate-units.ts): code by address (aranges, else unit ranges); else, and
//     for data, the unit of its STT_FILE group (the group's nearest local functions, the units between
//     neighbouring groups, units by name); global data outside any group through its address neighbours' groups;
//  3. those units' DIEs walked once (every unit with --all-sites), subprogram entries and variable locations
//     matched by (section, address) and scored ENTRY/PART + NAMED + HOME, until each has a DIE of its own name;
//  4. what is still unmatched: group units taken without a name check rechecked, the units between a global's
//     neighbours walked, and with at most 64 MB of .debug_info (modules, not vmlinux) every unit;
//  5. the decl read through DW_AT_abstract_origin/specification; without one, code takes the first line-table
//     row at its address, data its unit alone.
import { ET_REL } from '../elf/constants.js';
import * as C from '../dwarf/constants.js';
import type { DieCursor } from '../dwarf/die.js';
import { Dwarf } from '../dwarf/dwarf.js';
import { DwarfFile } from '../dwarf/dwarf-file.js';
import { rangesAttribute } from '../dwarf/ranges.js';
import { originDecl, originName } from '../dwarf/refs.js';
import type { Unit } from '../dwarf/unit.js';
import { UnitAddressIndex } from '../dwarf/unit-index.js';
import { ErrorSink, type SiteError } from './error-sink.js';
import { UnitLocator } from './locate-units.js';
import { type OpenedObject, openObject } from './object.js';
import { PathMapper } from './paths.js';
import { FileGroups } from './symbols.js';
import { CODE, DATA, siteTargets, type Target } from './targets.js';
import type { Site, SiteRequest, SiteResult } from './types.js';

export type { Site, SiteRequest, SiteResult, SiteSource } from './types.js';

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

/** Tags whose subtrees never hold code or data with addresses (C; C++ member functions are out of scope). */
const TYPE_TAGS = new Set([
  C.DW_TAG_structure_type, C.DW_TAG_union_type, C.DW_TAG_enumeration_type, C.DW_TAG_class_type,
  C.DW_TAG_subroutine_type, C.DW_TAG_array_type,
]);

/** Units read to learn the build directory when the requests' own units did not teach it. */
const LEARN_UNITS = 16;
/** Without a unit candidate, a whole-object scan is allowed up to this much .debug_info (modules, not vmlinux). */
const FULL_SCAN_LIMIT = 64 << 20;

class SiteFinder {
  private dwarf: Dwarf;
  private paths: PathMapper;
  /** Candidate units of the targets; made once the DWARF file is known to have .debug_info. */
  private locator: UnitLocator | null = null;
  private byAddress = new Map<number, Map<bigint, Target[]>>();
  private pendingCode = 0;
  private pendingData = 0;
  private dataPerUnit = new Map<number, number>();
  private walked = new Set<number>();
  private fresh: Target[] = [];
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
    const targets = siteTargets(this.obj, this.dbg, requests, (e, file) => this.sink.add(e, file));
    if (targets.length === 0) return;
    for (const t of targets) this.index(t);
    // A stripped object without a debug copy is a normal input, not an error: its sites fall back to the
    // source file its STT_FILE symbols give (a basename; the index records debug_path NULL for it).
    if (!this.dwarf.info) {
      for (const t of targets) {
        const file = this.groups?.fileName(t.sym) ?? null;
        if (file) Object.assign(sites[t.req], { unit: file, source: 'unit-only' });
      }
      return;
    }
    const report = (e: unknown) => this.sink.add(e, this.dbg.path);
    const index = new UnitAddressIndex(this.dwarf, report);
    this.locator = new UnitLocator(this.dwarf, index, this.dbg.symtab!, this.groups, this.relocatable, this.paths, report);

    for (const t of targets) this.locate(t);
    const order = this.options.all ? this.locator!.unitOffsets() : [...new Set(targets.flatMap((t) => t.units))].sort((a, b) => a - b);
    for (const u of order) {
      if (this.pendingCode === 0 && this.pendingData === 0) break;
      this.walk(u);
    }
    this.recheckGroups(targets);
    for (const t of targets) if (t.guessed && t.match === null) this.walkBetweenNeighbours(t);
    // Targets no unit could be named for: only a whole-object scan can find them, affordable for modules.
    const unplaced = (t: Target) => t.want !== 0 && t.match === null && (t.units.length === 0 || t.guessed);
    if (!this.options.all && targets.some(unplaced) && this.dwarf.info.size <= FULL_SCAN_LIMIT) {
      for (const u of this.locator!.unitOffsets()) {
        if (!targets.some(unplaced)) break;
        this.walked.delete(u); // walked before without descending into bodies
        this.walk(u, true);
      }
    }
    this.finish(targets, sites);
  }

  /** Files a target under its (section, address) and counts it as pending. */
  private index(t: Target): void {
    let bySection = this.byAddress.get(t.section);
    if (!bySection) this.byAddress.set(t.section, (bySection = new Map()));
    const list = bySection.get(t.value);
    if (list) list.push(t);
    else bySection.set(t.value, [t]);
    if (t.want & CODE) this.pendingCode++;
    if (t.want & DATA) this.pendingData++;
  }

  /** Candidate units of a target: from its address for code, from its STT_FILE group for data (or as a fallback). */
  private locate(t: Target): void {
    const locator = this.locator!;
    if (t.want & CODE) t.units = locator.unitsAt(t.section, t.value);
    if (t.units.length === 0) {
      t.units = locator.unitsOfGroup(t.sym);
      t.viaGroup = t.units.length > 0;
    }
    if (t.units.length === 0 && t.want & DATA) {
      t.units = locator.unitsNearAddress(t.sym);
      t.guessed = t.units.length > 0;
    }
    if (t.want & DATA) for (const u of t.units) this.dataPerUnit.set(u, (this.dataPerUnit.get(u) ?? 0) + 1);
  }

  /**
   * Groups whose unit was taken without a name check and proved wrong: their unmatched targets get the right
   * units, walked with function bodies.
   */
  private recheckGroups(targets: Target[]): void {
    const retry = new Map<number, Target[]>();
    for (const t of targets) {
      if (t.match || !t.viaGroup) continue;
      const g = this.locator!.uncheckedGroup(t.sym);
      if (g < 0) continue;
      const list = retry.get(g);
      if (list) list.push(t);
      else retry.set(g, [t]);
    }
    for (const [g, list] of retry) {
      const found = this.locator!.recheck(g);
      if (!found) continue;
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

  /** A global variable its address neighbours' units do not hold: the units between theirs, without function bodies. */
  private walkBetweenNeighbours(t: Target): void {
    for (const u of this.locator!.unitsBetweenNeighbours(t.sym)) {
      if (t.match) break;
      this.walk(u);
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
    this.locator!.noteUnit(u);
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
      t.decl = { match: t.match, ...originDecl(this.dwarf, t.match.unit, t.match.die) };
    } catch (e) {
      this.sink.add(e, this.dbg.path);
      t.decl = { match: t.match, file: null, compDir: null, line: null };
    }
  }

  private subprogram(c: DieCursor<Unit>): void {
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

  private variable(c: DieCursor<Unit>): void {
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
  private hit(section: number, value: bigint, quality: number, kind: number, c: DieCursor<Unit>): void {
    const list = this.byAddress.get(section)?.get(value);
    if (!list) return;
    let name: string | null | undefined;
    for (const t of list) {
      const home = t.viaGroup && t.units.includes(c.unit.offset) ? HOME : 0;
      if (!(t.want & kind) || (t.match && t.match.quality >= quality + NAMED + home)) continue;
      if (name === undefined) {
        try {
          name = originName(this.dwarf, c.unit.offset, c.offset);
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
      const first = this.locator!.unitOffsets().slice(0, LEARN_UNITS);
      for (const off of first) {
        this.locator!.unitInfo(off);
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
    const info = this.locator!.unitInfo(off);
    return info ? this.paths.unitName(info.name, info.compDir) : null;
  }
}
