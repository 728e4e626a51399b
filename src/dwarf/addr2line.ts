// Address → source frames (file, line, column and the inlined call chain), the way llvm-symbolizer and
// `addr2line -i` answer it: the line table gives the innermost position, each DW_TAG_inlined_subroutine's
// DW_AT_call_file/line the position in its caller.
import type { Dwarf } from './dwarf.js';
import { inlinedChains } from './inline.js';
import { subroutineName } from './refs.js';
import type { Address } from './section.js';
import type { UnitAddressIndex } from './unit-index.js';

/** One frame of an address; frames of one address are innermost first, the last is the real function. */
export interface SourceFrame {
  /** The subroutine's DWARF name (its abstract origin's); null outside any subprogram DIE. */
  readonly function: string | null;
  /** The path as llvm prints it: file under its include directory under DW_AT_comp_dir. */
  readonly file: string | null;
  readonly line: number;
  readonly column: number;
  /** The unit (DW_AT_name, DW_AT_comp_dir) the answer came from. */
  readonly unit: { name: string | null; compDir: string | null };
}

/** One subroutine of a chain as its frames need it: its name and, inlined, where its caller called it. */
export interface ChainLink {
  readonly function: string | null;
  readonly callFile: string | null;
  readonly callLine: number;
  readonly callColumn: number;
}

/**
 * The frames of an address from its line-table row (null: none covers it) and its chain of subroutines
 * (innermost first): the innermost frame at the row, each caller at its callee's call site. Without a
 * chain, a row alone is one frame of no function; without either, no frame.
 */
export function chainFrames(innermost: { file: string | null; line: number; column: number } | null, chain: readonly ChainLink[],
  where: SourceFrame['unit']): SourceFrame[] {
  if (chain.length === 0) return innermost ? [{ function: null, ...innermost, unit: where }] : [];
  const first = innermost ?? { file: null, line: 0, column: 0 };
  return chain.map((link, j) => ({
    function: link.function,
    ...(j === 0 ? first : { file: chain[j - 1].callFile, line: chain[j - 1].callLine, column: chain[j - 1].callColumn }),
    unit: where,
  }));
}

/** Indexes of the targets by the unit `unitOf` places each in, in unit order; targets of no unit are left out. */
export function targetsByUnit(targets: readonly Address[], unitOf: (t: Address) => number | undefined): [number, number[]][] {
  const byUnit = new Map<number, number[]>();
  targets.forEach((t, i) => {
    const u = unitOf(t);
    if (u === undefined) return;
    const list = byUnit.get(u);
    if (list) list.push(i);
    else byUnit.set(u, [i]);
  });
  return [...byUnit].sort((a, b) => a[0] - b[0]);
}

/**
 * Source frames of each target (in the DWARF file's address space: section index for relocatable objects).
 * Targets are grouped by unit so that each unit's DIEs and line program are decoded once. An address no
 * unit covers gets no frames.
 */
export function addressFrames(dwarf: Dwarf, units: UnitAddressIndex, targets: readonly Address[]): SourceFrame[][] {
  const out: SourceFrame[][] = targets.map(() => []);
  for (const [unitOff, indexes] of targetsByUnit(targets, (t) => units.unitsAt(t.section, t.value)[0])) {
    const unit = dwarf.unit(unitOff);
    const mine = indexes.map((i) => targets[i]);
    const program = dwarf.lineProgram(unit);
    const rows = program ? program.coveringRows(mine) : mine.map(() => null);
    const chains = inlinedChains(unit, mine);
    const where = { name: unit.name, compDir: unit.compDir };
    indexes.forEach((target, k) => {
      const row = rows[k];
      const innermost = row && { file: program ? program.filePath(row.file) : null, line: row.line, column: row.column ?? 0 };
      out[target] = chainFrames(innermost, chains[k].map((die) => ({
        function: subroutineName(dwarf, unitOff, die.offset),
        callFile: program && die.callFile !== null ? program.filePath(die.callFile) : null,
        callLine: die.callLine ?? 0,
        callColumn: die.callColumn ?? 0,
      })), where);
    });
  }
  return out;
}
