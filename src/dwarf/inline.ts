// Inlined call chains: for a code address, the DW_TAG_inlined_subroutine DIEs around it up to their
// DW_TAG_subprogram, as `addr2line -i` and llvm-symbolizer report them.
import * as C from './constants.js';
import { type AddressRange, dieRanges } from './ranges.js';
import type { Address } from './section.js';
import type { Unit } from './unit.js';

/** One subroutine DIE of a chain: where it is, and for an inlined one the call site it was inlined at. */
export interface SubroutineDie {
  readonly offset: number;
  readonly tag: number;
  /** DW_AT_call_file (an index into the unit's line-table file list), line and column; null when absent. */
  readonly callFile: number | null;
  readonly callLine: number | null;
  readonly callColumn: number | null;
}

interface Open extends SubroutineDie {
  readonly depth: number;
}

/**
 * For each target address, its chain of subroutine DIEs in `unit`, innermost first and ending with the
 * enclosing DW_TAG_subprogram; empty when no subprogram of the unit covers the address. As in llvm's
 * address-to-DIE map, the innermost covering DIE is the last one in pre-order, and its chain is its
 * ancestors that are subroutines, up to the nearest subprogram (lexical blocks are passed through).
 * One walk serves every target; subroutines that cover none are skipped without decoding their bodies.
 */
export function inlinedChains(unit: Unit, targets: readonly Address[]): SubroutineDie[][] {
  const out: SubroutineDie[][] = targets.map(() => []);
  if (targets.length === 0) return out;
  const c = unit.cursor();
  if (!c.next()) return out;
  const stack: Open[] = [];
  const covered = (ranges: AddressRange[]) => {
    const hits: number[] = [];
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i];
      if (ranges.some((r) => r.section === t.section && r.start <= t.value && t.value < r.end)) hits.push(i);
    }
    return hits;
  };
  while (c.next()) {
    while (stack.length && stack[stack.length - 1].depth >= c.depth) stack.pop();
    const tag = c.tag;
    if (tag !== C.DW_TAG_subprogram && tag !== C.DW_TAG_inlined_subroutine) {
      // Outside any covering subprogram only subprograms matter (C puts them at the top level); inside one,
      // lexical blocks that cover a target (or have no ranges) are entered, everything else is skipped.
      const enter = stack.length > 0 && tag === C.DW_TAG_lexical_block && (() => {
        const ranges = dieRanges(c);
        return ranges.length === 0 || covered(ranges).length > 0;
      })();
      if (!enter) c.skipChildren();
      continue;
    }
    const hits = covered(dieRanges(c));
    // A subroutine that covers no target cannot hold the innermost DIE of one (gcc nests child ranges
    // inside their parent's): its body is skipped.
    if (hits.length === 0) {
      c.skipChildren();
      continue;
    }
    const constant = (name: number) => {
      const k = c.find(name);
      return k >= 0 ? c.constant(k) : null;
    };
    const entry: Open = {
      offset: c.offset, tag, depth: c.depth,
      callFile: tag === C.DW_TAG_inlined_subroutine ? constant(C.DW_AT_call_file) : null,
      callLine: tag === C.DW_TAG_inlined_subroutine ? constant(C.DW_AT_call_line) : null,
      callColumn: tag === C.DW_TAG_inlined_subroutine ? constant(C.DW_AT_call_column) : null,
    };
    const chain: SubroutineDie[] = [entry];
    if (tag !== C.DW_TAG_subprogram) {
      for (let j = stack.length - 1; j >= 0; j--) {
        const s = stack[j];
        chain.push(s);
        if (s.tag === C.DW_TAG_subprogram) break;
      }
    }
    for (const i of hits) out[i] = chain;
    if (unit.abbrevs.hasChildren(c.decl)) stack.push(entry);
  }
  return out;
}
