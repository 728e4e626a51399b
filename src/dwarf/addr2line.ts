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

/**
 * Source frames of each target (in the DWARF file's address space: section index for relocatable objects).
 * Targets are grouped by unit so that each unit's DIEs and line program are decoded once. An address no
 * unit covers gets no frames.
 */
export function addressFrames(dwarf: Dwarf, units: UnitAddressIndex, targets: readonly Address[]): SourceFrame[][] {
  const out: SourceFrame[][] = targets.map(() => []);
  const byUnit = new Map<number, number[]>();
  targets.forEach((t, i) => {
    const u = units.unitsAt(t.section, t.value)[0];
    if (u === undefined) return;
    const list = byUnit.get(u);
    if (list) list.push(i);
    else byUnit.set(u, [i]);
  });
  for (const [unitOff, indexes] of [...byUnit].sort((a, b) => a[0] - b[0])) {
    const unit = dwarf.unit(unitOff);
    const mine = indexes.map((i) => targets[i]);
    const program = dwarf.lineProgram(unit);
    const rows = program ? program.coveringRows(mine) : mine.map(() => null);
    const chains = inlinedChains(unit, mine);
    const where = { name: unit.name, compDir: unit.compDir };
    indexes.forEach((target, k) => {
      const row = rows[k];
      const innermost = {
        file: row && program ? program.filePath(row.file) : null,
        line: row?.line ?? 0,
        column: row?.column ?? 0,
      };
      const chain = chains[k];
      if (chain.length === 0) {
        if (row) out[target] = [{ function: null, ...innermost, unit: where }];
        return;
      }
      out[target] = chain.map((die, j) => {
        const position = j === 0 ? innermost : {
          file: program && chain[j - 1].callFile !== null ? program.filePath(chain[j - 1].callFile!) : null,
          line: chain[j - 1].callLine ?? 0,
          column: chain[j - 1].callColumn ?? 0,
        };
        return { function: subroutineName(dwarf, unitOff, die.offset), ...position, unit: where };
      });
    });
  }
  return out;
}
