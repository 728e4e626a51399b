// DIE reference chains: a concrete DIE and the DIEs it points at through DW_AT_abstract_origin or
// DW_AT_specification (out-of-line and inlined copies, clones, definitions of declarations), and the name
// and declaration read along them.
import * as C from './constants.js';
import type { Dwarf } from './dwarf.js';
import type { DieCursor } from './die.js';
import type { Unit } from './unit.js';

/** Hops followed at most: real chains are 1–3 long; the bound stops a corrupt cycle through many DIEs. */
const MAX_HOPS = 16;

/**
 * Visits a DIE and then the DIEs it refers to through DW_AT_abstract_origin or DW_AT_specification, in
 * that order (as llvm's findRecursively does), until `visit` returns true. Crosses units when the
 * reference does (DW_FORM_ref_addr, type signatures).
 */
export function followOrigins(dwarf: Dwarf, unitOff: number, dieOff: number, visit: (c: DieCursor<Unit>, u: Unit) => boolean): void {
  let u = dwarf.unit(unitOff);
  let off = dieOff;
  const seen = new Set<string>();
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const key = `${u.section.index}:${off}`;
    if (seen.has(key)) return;
    seen.add(key);
    const c = u.cursor(off);
    c.seek(off);
    if (visit(c, u)) return;
    let k = c.find(C.DW_AT_abstract_origin);
    if (k < 0) k = c.find(C.DW_AT_specification);
    if (k < 0) return;
    const ref = c.reference(k);
    if (!ref || ref.kind === 'supplementary') return;
    if (ref.kind === 'signature') {
      const tu = dwarf.typeUnit(ref.signature);
      if (!tu || tu.header.typeOffset === null) return;
      u = tu;
      off = tu.offset + tu.header.typeOffset;
      continue;
    }
    if (ref.section !== u.section || ref.offset < u.offset || ref.offset >= u.end) {
      const other = dwarf.unitContaining(ref.section, ref.offset);
      if (!other) return;
      u = other;
    }
    off = ref.offset;
  }
}

/** Where a DIE's entity is declared: the source path (as the line table gives it), its unit's DW_AT_comp_dir, the line. */
export interface Decl {
  readonly file: string | null;
  readonly compDir: string | null;
  readonly line: number | null;
}

/**
 * DW_AT_decl_file / DW_AT_decl_line of a DIE, each taken from the first DIE of its origin chain that has it.
 * The file index is looked up in the line table of the unit holding the DIE that carried it.
 */
export function originDecl(dwarf: Dwarf, unitOff: number, dieOff: number): Decl {
  let fileIndex: number | null = null;
  let fileUnit: Unit | null = null;
  let line: number | null = null;
  followOrigins(dwarf, unitOff, dieOff, (c, u) => {
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
  if (fileIndex !== null && fu) file = dwarf.lineProgram(fu)?.filePath(fileIndex) ?? null;
  return { file, compDir: fu?.compDir ?? null, line };
}

/** DW_AT_name of a DIE or of its abstract origin / specification (clones and definitions have none). */
export function originName(dwarf: Dwarf, unitOff: number, dieOff: number): string | null {
  let name: string | null = null;
  followOrigins(dwarf, unitOff, dieOff, (c) => {
    const k = c.find(C.DW_AT_name);
    if (k >= 0) name = c.string(k);
    return name !== null;
  });
  return name;
}

/**
 * A subroutine's name as llvm-symbolizer prints it by default: the linkage name anywhere along the chain,
 * else DW_AT_name (C functions have no linkage name).
 */
export function subroutineName(dwarf: Dwarf, unitOff: number, dieOff: number): string | null {
  let linkage: string | null = null;
  // The first DW_AT_name along the same chain, as originName() finds it: one walk serves both.
  let name: string | null = null;
  followOrigins(dwarf, unitOff, dieOff, (c) => {
    let k = c.find(C.DW_AT_linkage_name);
    if (k < 0) k = c.find(C.DW_AT_MIPS_linkage_name);
    if (k >= 0) linkage = c.string(k);
    if (name === null) {
      const n = c.find(C.DW_AT_name);
      if (n >= 0) name = c.string(n);
    }
    return linkage !== null;
  });
  return linkage ?? name;
}
