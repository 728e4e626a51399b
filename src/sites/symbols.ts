// What the symbol table tells the site finder: the STT_FILE groups of local symbols (each symbol's source
// basename), and a symbol's section name.
import { SHN_UNDEF, STB_LOCAL, STT_FILE } from '../elf/constants.js';
import type { Section } from '../elf/sections.js';
import type { SymbolTable } from '../elf/symbols.js';

/**
 * The `STT_FILE` grouping of a symbol table: in objects made by gcc + ld (`.o`, `.ko`, vmlinux) the local
 * symbols of each input file follow an STT_FILE symbol naming that file's source (basename only). Compiler-
 * made data such as `__func__.N` has no DIE; its group is how its compilation unit is found.
 */
export class FileGroups {
  /** For each symbol, the index of the STT_FILE symbol opening its group, -1 for none (globals, no FILE seen). */
  private fileOf: Int32Array;
  private firstGlobal: number;

  constructor(private t: SymbolTable) {
    const n = t.count;
    this.fileOf = new Int32Array(n).fill(-1);
    // sh_info is one past the last local; a table breaking that rule is still grouped up to the first global.
    this.firstGlobal = Math.min(t.section.info || n, n);
    let cur = -1;
    for (let i = 1; i < this.firstGlobal; i++) {
      if (t.bind(i) !== STB_LOCAL) {
        this.firstGlobal = i;
        break;
      }
      if (t.type(i) === STT_FILE) cur = i;
      this.fileOf[i] = cur;
    }
  }

  /** The source basename (e.g. `irqdesc.c`) of symbol i's group, or null. */
  fileName(i: number): string | null {
    const f = this.fileOf[i] ?? -1;
    return f > 0 ? this.t.name(f) : null;
  }

  group(i: number): number {
    return this.fileOf[i] ?? -1;
  }

  /** The STT_FILE index of the group before group `g` (its opening STT_FILE symbol), -1 when none. */
  previousGroup(g: number): number {
    return g > 1 ? this.fileOf[g - 1] : -1;
  }

  /** The STT_FILE index of the group after group `g`, -1 when none. */
  nextGroup(g: number): number {
    let j = g + 1;
    while (j < this.firstGlobal && this.fileOf[j] === g) j++;
    return j < this.firstGlobal && this.fileOf[j] === j ? j : -1;
  }

  /**
   * Symbols of i's group ordered by distance in the table, nearest first: in a linked object those are the
   * nearest definitions of the same source file. Without a group, the locals at most `reach` entries away.
   */
  *neighbours(i: number, reach: number): Generator<number> {
    const g = this.group(i);
    const ok = (j: number) => j > 0 && j < this.firstGlobal && (g < 0 ? Math.abs(j - i) <= reach : this.fileOf[j] === g);
    let lo = i - 1;
    let hi = i + 1;
    for (;;) {
      const okLo = ok(lo);
      const okHi = ok(hi);
      if (!okLo && !okHi) return;
      // Groups are contiguous: once a side leaves the group it stays out.
      if (okLo) yield lo--;
      if (okHi) yield hi++;
    }
  }
}

/** A symbol's section name, for matching a stripped object's symbols with its debug copy's. */
export function sectionNameOf(t: SymbolTable, sections: readonly Section[], i: number): string {
  const s = t.shndx(i);
  if (s === SHN_UNDEF) return '';
  return sections[s]?.name ?? `#${s}`;
}
