// Address ranges of DIEs and units: DW_AT_low_pc/high_pc, DWARF 5 `.debug_rnglists` and DWARF 2–4
// `.debug_ranges`, each range with the ELF section it lies in (relocatable objects).
import * as C from './constants.js';
import type { DieCursor } from './die.js';
import { DwarfError } from './reader.js';
import type { Address } from './section.js';
import type { Unit } from './unit.js';

export interface AddressRange {
  /** ELF section index in relocatable objects (-1: unrelocated), 0 in linked objects. */
  readonly section: number;
  readonly start: bigint;
  /** Exclusive. */
  readonly end: bigint;
}

/**
 * The address ranges of the DIE under the cursor, in the producer's order (for a subprogram the first range
 * holds the entry point; gcc lists a `.cold` part after it). Empty when the DIE has no code.
 */
export function dieRanges(c: DieCursor<Unit>): AddressRange[] {
  const ranges = c.find(C.DW_AT_ranges);
  if (ranges >= 0) return rangesAttribute(c, ranges);
  const lowK = c.find(C.DW_AT_low_pc);
  if (lowK < 0) return [];
  const low = c.address(lowK);
  if (!low) return [];
  const highK = c.find(C.DW_AT_high_pc);
  const high = highK >= 0 ? c.highPc(highK, low) : null;
  return [{ section: low.section, start: low.value, end: high ? high.value : low.value + 1n }];
}

/** DW_AT_ranges of the DIE under the cursor: a .debug_rnglists offset/index (DWARF 5) or .debug_ranges offset. */
export function rangesAttribute(c: DieCursor<Unit>, k: number): AddressRange[] {
  const unit = c.unit;
  const form = c.form(k);
  if (form === C.DW_FORM_rnglistx) {
    const idx = c.index(k)!;
    return rnglistAt(unit, rnglistxOffset(unit, idx));
  }
  const off = c.sectionOffset(k);
  if (off === null) throw new DwarfError(unit.section, c.valueOffset(k), `DW_AT_ranges with form 0x${form.toString(16)}: expected a section offset or rnglistx`);
  return unit.header.version >= 5 ? rnglistAt(unit, off) : debugRangesAt(unit, off);
}

function rnglistxOffset(unit: Unit, index: number): number {
  const s = unit.sections.section('.debug_rnglists');
  if (!s) throw new DwarfError(unit.section, unit.offset, 'DW_FORM_rnglistx used but the object has no .debug_rnglists');
  const size = unit.header.offsetSize;
  const r = s.reader(unit.rnglistsBase + index * size, size);
  return unit.rnglistsBase + (size === 8 ? r.u64('rnglist offset') : r.u32('rnglist offset'));
}

function defaultBase(unit: Unit): Address {
  return unit.lowPc ?? { section: unit.section.relocatable ? -1 : 0, value: 0n };
}

/** A DWARF 5 range list at `offset` of .debug_rnglists. */
export function rnglistAt(unit: Unit, offset: number): AddressRange[] {
  const s = unit.sections.section('.debug_rnglists');
  if (!s) throw new DwarfError(unit.section, unit.offset, 'DW_AT_ranges used but the object has no .debug_rnglists');
  const r = s.reader(offset);
  const size = unit.header.addressSize;
  let base = defaultBase(unit);
  const out: AddressRange[] = [];
  const addr = (): Address => {
    const at = r.offset;
    return { value: r.address(size, 'range list address'), section: s.targetAt(at) };
  };
  for (;;) {
    const kind = r.u8('DW_RLE kind');
    switch (kind) {
      case C.DW_RLE_end_of_list:
        return out;
      case C.DW_RLE_base_addressx:
        base = unit.addrx(r.uleb('DW_RLE_base_addressx'));
        break;
      case C.DW_RLE_startx_endx: {
        const a = unit.addrx(r.uleb('DW_RLE_startx_endx'));
        const b = unit.addrx(r.uleb('DW_RLE_startx_endx'));
        out.push({ section: a.section, start: a.value, end: b.value });
        break;
      }
      case C.DW_RLE_startx_length: {
        const a = unit.addrx(r.uleb('DW_RLE_startx_length'));
        out.push({ section: a.section, start: a.value, end: a.value + r.ulebBig('length') });
        break;
      }
      case C.DW_RLE_offset_pair: {
        const a = r.ulebBig('DW_RLE_offset_pair');
        const b = r.ulebBig('DW_RLE_offset_pair');
        out.push({ section: base.section, start: base.value + a, end: base.value + b });
        break;
      }
      case C.DW_RLE_base_address:
        base = addr();
        break;
      case C.DW_RLE_start_end: {
        const a = addr();
        const b = r.address(size, 'range end');
        out.push({ section: a.section, start: a.value, end: b });
        break;
      }
      case C.DW_RLE_start_length: {
        const a = addr();
        out.push({ section: a.section, start: a.value, end: a.value + r.ulebBig('length') });
        break;
      }
      default:
        r.fail(`unknown range list entry kind 0x${kind.toString(16)}`, r.pos - 1);
    }
  }
}

/** A DWARF 2–4 range list at `offset` of .debug_ranges: (begin, end) pairs relative to the base address. */
export function debugRangesAt(unit: Unit, offset: number): AddressRange[] {
  const s = unit.sections.section('.debug_ranges');
  if (!s) throw new DwarfError(unit.section, unit.offset, 'DW_AT_ranges used but the object has no .debug_ranges');
  const r = s.reader(offset);
  const size = unit.header.addressSize;
  const max = (1n << BigInt(size * 8)) - 1n;
  let base = defaultBase(unit);
  const out: AddressRange[] = [];
  for (;;) {
    const at = r.offset;
    const b = r.address(size, 'range begin');
    const e = r.address(size, 'range end');
    const relocB = s.targetAt(at);
    // (0, 0) ends the list; in a relocatable object only if unrelocated (a real range may start at .text+0).
    if (b === 0n && e === 0n && (!s.relocatable || (relocB < 0 && s.targetAt(at + size) < 0))) return out;
    if (b === max) {
      base = { value: e, section: s.targetAt(at + size) };
      continue;
    }
    // In a relocatable object the entry's own relocation names its section; otherwise it is base-relative.
    const section = s.relocatable ? (relocB >= 0 ? relocB : base.section) : 0;
    out.push({ section, start: base.value + b, end: base.value + e });
  }
}

/** The code ranges of a unit (its unit DIE's low/high pc or DW_AT_ranges). */
export function unitRanges(unit: Unit): AddressRange[] {
  const c = unit.cursor();
  c.next();
  return dieRanges(c);
}
