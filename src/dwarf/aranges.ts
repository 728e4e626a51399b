// `.debug_aranges` as a sorted interval index: (section, address) → the units whose code covers it. This is
// what lets a lookup decode a handful of units of a 170 MB `.debug_info` instead of all of them.
import type { ObjectError } from '../errors.js';
import { DwarfError } from './reader.js';
import type { DwarfSection } from './section.js';
import { partitionPoint } from '../partition-point.js';

export class ArangeIndex {
  /** Offsets (in .debug_info) of every unit that has an address-range set. */
  readonly units = new Set<number>();
  private sections: Int32Array;
  private starts: bigint[];
  private ends: bigint[];
  private unitOf: Float64Array;
  /**
   * The largest end of the entries of the same section up to each one: scanning back from an address stops
   * at the first entry whose reach is not above it (nothing at or before it covers the address), so a lookup
   * costs the entries that cover it, not every entry within the section's longest range.
   */
  private reach: bigint[];

  private constructor(entries: { section: number; start: bigint; end: bigint; unit: number }[]) {
    entries.sort((a, b) => a.section - b.section || (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    this.sections = Int32Array.from(entries, (e) => e.section);
    this.starts = entries.map((e) => e.start);
    this.ends = entries.map((e) => e.end);
    this.unitOf = Float64Array.from(entries, (e) => e.unit);
    this.reach = entries.map((e) => e.end);
    entries.forEach((e, i) => {
      this.units.add(e.unit);
      if (i > 0 && entries[i - 1].section === e.section && this.reach[i - 1] > e.end) this.reach[i] = this.reach[i - 1];
    });
  }

  /** An index over ranges found some other way (unit DIE ranges of units without an aranges set). */
  static fromEntries(entries: { section: number; start: bigint; end: bigint; unit: number }[]): ArangeIndex {
    return new ArangeIndex(entries);
  }

  get size(): number {
    return this.starts.length;
  }

  /** Parses every set; a corrupt set is reported and skipped (the next set is found through its length). */
  static parse(s: DwarfSection, onError: (e: ObjectError) => void): ArangeIndex {
    const entries: { section: number; start: bigint; end: bigint; unit: number }[] = [];
    let at = 0;
    while (at + 4 <= s.size) {
      const setStart = at;
      let next = s.size;
      try {
        const r = s.reader(at);
        const { length, is64 } = r.initialLength('aranges unit_length');
        next = r.offset + length;
        if (next > s.size) r.fail(`address range set of 0x${length.toString(16)} bytes runs past the section`, 0, 'truncated');
        r.end = next - setStart;
        const version = r.u16('aranges version');
        if (version !== 2 && version !== 3) r.fail(`aranges version: expected 2, found ${version}`, r.pos - 2, 'unsupported');
        const unit = r.offsetOf(is64, 'debug_info_offset');
        const addressSize = r.u8('address_size');
        const segmentSize = r.u8('segment_selector_size');
        if (segmentSize !== 0) r.fail(`segment_selector_size ${segmentSize}: segmented addresses are not supported`, r.pos - 1, 'unsupported');
        if (addressSize !== 4 && addressSize !== 8 && addressSize !== 2) r.fail(`address_size ${addressSize}`, r.pos - 2, 'unsupported');
        // The first tuple is aligned to twice the address size, counted from the start of the set.
        const tuple = 2 * addressSize;
        const pad = (tuple - (r.pos % tuple)) % tuple;
        r.skip(Math.min(pad, r.remaining), 'aranges header padding');
        while (r.remaining >= tuple) {
          const where = r.offset;
          const start = r.address(addressSize, 'arange address');
          const length = r.address(addressSize, 'arange length');
          // (0, 0) terminates the set; zero-length tuples cover nothing either way.
          if (length === 0n) continue;
          entries.push({ section: s.targetAt(where), start, end: start + length, unit });
        }
      } catch (e) {
        if (!(e instanceof DwarfError)) throw e;
        onError(e);
      }
      if (next <= setStart) break;
      at = next;
    }
    return new ArangeIndex(entries);
  }

  /** The entries, sorted by section and start: what fromEntries() rebuilds this index from. */
  entries(): { section: number; start: bigint; end: bigint; unit: number }[] {
    return this.starts.map((start, i) => ({ section: this.sections[i], start, end: this.ends[i], unit: this.unitOf[i] }));
  }

  /** Units whose ranges contain (section, address); usually exactly one. */
  lookup(section: number, address: bigint): number[] {
    const { sections, starts, reach } = this;
    // Last entry with (section, start) <= (section, address).
    const idx = partitionPoint(starts.length, (k) => sections[k] < section || (sections[k] === section && starts[k] <= address)) - 1;
    const out: number[] = [];
    for (let i = idx; i >= 0 && sections[i] === section && reach[i] > address; i--) {
      if (address < this.ends[i] && !out.includes(this.unitOf[i])) out.push(this.unitOf[i]);
    }
    return out;
  }
}
