// What the site finder looks for: one Target per requested symbol, in the DWARF file's symbol table and address
// space, with the kind of DIE it wants and, as the search goes on, its candidate units and best match.
import { ET_REL, SHN_LORESERVE, SHN_UNDEF, STT_COMMON, STT_FUNC, STT_GNU_IFUNC, STT_OBJECT, STT_TLS } from '../elf/constants.js';
import { ObjectError } from '../errors.js';
import type { OpenedObject } from './object.js';
import { SymbolMap } from './symbol-map.js';
import type { SiteRequest } from './types.js';

/** What a target wants: a subprogram DIE, a variable DIE (bits; 0: no DIE to look for). */
export const CODE = 1;
export const DATA = 2;

/**
 * Data gcc makes without a DIE of its own: `__func__.N` strings, `__compound_literal.N`, switch tables
 * (`CSWTCH.N`) and `.LC`/`.L` constant labels. Searching DIEs for them would walk every function body of
 * their units for nothing (they are half of all in-object duplicates); their unit comes from the symbol
 * table alone.
 */
const COMPILER_MADE = /^(?:(?:__func__|__compound_literal|CSWTCH)\.\d+$|\.L)/;

export interface Target {
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

/**
 * The targets of `requests` (indexes into the object's symbol table), in the DWARF file's address space
 * (section index and offset in a relocatable object). Requests that cannot be looked up are reported and left out.
 */
export function siteTargets(obj: OpenedObject, dbg: OpenedObject, requests: readonly SiteRequest[], report: (e: unknown, file: string) => void): Target[] {
  if (!obj.symtab) throw new ObjectError(obj.path, obj.h.shoff, 'expected a SHT_SYMTAB section to index the requests, the object has none');
  if (!dbg.symtab) throw new ObjectError(dbg.path, dbg.h.shoff, 'expected a SHT_SYMTAB section in the DWARF file, it has none');
  const map = new SymbolMap(obj, dbg);
  const out: Target[] = [];
  requests.forEach((r, req) => {
    const i = r.symtabIndex;
    if (!Number.isInteger(i) || i <= 0 || i >= obj.symtab!.count) {
      report(new ObjectError(obj.path, obj.symtab!.section.offset, `request ${req}: symbol index ${i} is not in the ${obj.symtab!.count}-entry symbol table`), obj.path);
      return;
    }
    let sym: number;
    try {
      sym = map.toDebug(i);
    } catch (e) {
      report(e, obj.path);
      return;
    }
    if (sym < 0) {
      report(new ObjectError(dbg.path, dbg.symtab!.section.offset,
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
      section: dbg.h.type === ET_REL ? shndx : 0,
      value: t.value(sym),
    };
    out.push(target);
  });
  return out;
}

/** The source-level name of a symbol: compiler suffixes (`.constprop.0`, `.isra.0`, `.cold`, `.12`) cut off. */
export function baseName(name: string): string {
  const dot = name.indexOf('.', 1);
  return dot < 0 ? name : name.slice(0, dot);
}
