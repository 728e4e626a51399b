// Which compilation units cover a code address: `.debug_aranges` first, else the unit DIEs' own ranges.
import { ArangeIndex } from './aranges.js';
import type { Dwarf } from './dwarf.js';
import { unitRanges } from './ranges.js';

/**
 * (section, address) → unit offsets. Units `.debug_aranges` does not describe (all of them when it is
 * absent) are ranged from their unit DIE's low/high pc or DW_AT_ranges, read once, on the first miss.
 */
export class UnitAddressIndex {
  readonly aranges: ArangeIndex | null;
  private unitRanges: ArangeIndex | null = null;

  /**
   * `keepPrefixes` false: listing the units reads only their length fields, for a caller that will not
   * summarize most of them (symbolize ranges only the units `.debug_aranges` leaves out).
   */
  constructor(private dwarf: Dwarf, private onError: (e: unknown) => void, private keepPrefixes = true) {
    const s = dwarf.file.section('.debug_aranges');
    this.aranges = s ? ArangeIndex.parse(s, onError) : null;
  }

  unitsAt(section: number, value: bigint): number[] {
    const found = this.aranges ? this.aranges.lookup(section, value) : [];
    if (found.length > 0) return found;
    return this.rangeIndex().lookup(section, value);
  }

  /**
   * Every unit offset; a broken unit chain is reported (to onError, which gets any thrown value) and ends the
   * list, as does an impossible unit length (the units before it are kept, the reason reported once).
   */
  unitOffsets(): number[] {
    try {
      return this.dwarf.unitOffsets(undefined, this.keepPrefixes);
    } catch (e) {
      this.onError(e);
      return [];
    } finally {
      const tail = this.dwarf.unitListError();
      if (tail) this.onError(tail);
    }
  }

  /** The units `.debug_aranges` leaves out, ranged from their unit DIEs (built on first use). */
  rangeIndex(): ArangeIndex {
    if (!this.unitRanges) {
      const entries: { section: number; start: bigint; end: bigint; unit: number }[] = [];
      for (const off of this.unitOffsets()) {
        if (this.aranges?.units.has(off)) continue;
        try {
          const u = this.dwarf.unitSummary(off);
          if (!u.hasCode) continue;
          for (const r of unitRanges(u)) if (r.end > r.start) entries.push({ ...r, unit: off });
        } catch (e) {
          this.onError(e);
        }
      }
      this.unitRanges = ArangeIndex.fromEntries(entries);
    }
    return this.unitRanges;
  }
}
