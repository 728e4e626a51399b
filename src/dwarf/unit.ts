// Compilation and type units: the unit header (unit_length, version, unit type, abbrev offset, address size) and
// Unit, a loaded unit with the unit-DIE attributes other lookups need (str/addr/rnglists bases, stmt_list, comp_dir).
import type { AbbrevTable } from './abbrev.js';
import * as C from './constants.js';
import type { Dwarf } from './context.js';
import { DieCursor } from './die.js';
import type { FormShape } from './forms.js';
import { DwarfError, DwarfReader } from './reader.js';
import type { DwarfSection } from './sections.js';

export interface UnitHeader extends FormShape {
  readonly section: DwarfSection;
  /** Section offset of the unit's first byte (its unit_length). */
  readonly offset: number;
  /** Section offset just past the unit. */
  readonly end: number;
  readonly is64: boolean;
  /** DW_UT_*; for DWARF 2–4 derived from the section (`.debug_types` units are type units). */
  readonly unitType: number;
  readonly abbrevOffset: number;
  /** Section offset of the unit DIE. */
  readonly dieOffset: number;
  readonly typeSignature: bigint | null;
  /** Unit-relative offset of the type DIE of a type unit. */
  readonly typeOffset: number | null;
  readonly dwoId: bigint | null;
}

/** unit_length at `offset`: 4 bytes, or 0xffffffff + 8 bytes for 64-bit DWARF. Returns the total unit size. */
export function readUnitLength(section: DwarfSection, offset: number): { size: number; is64: boolean } {
  const head = section.reader(offset, Math.min(12, section.size - offset));
  const len32 = head.u32('unit_length');
  if (len32 === 0xffffffff) {
    const len = head.u64('unit_length (64-bit DWARF)');
    return { size: 12 + len, is64: true };
  }
  if (len32 >= 0xfffffff0) head.fail(`unit_length 0x${len32.toString(16)} is a reserved value`, 0);
  return { size: 4 + len32, is64: false };
}

/** Parses a unit header from a reader positioned at its first byte (a reader over exactly the unit). */
export function parseUnitHeader(r: DwarfReader, section: DwarfSection): UnitHeader {
  const offset = r.offset;
  let length = r.u32('unit_length');
  let is64 = false;
  if (length === 0xffffffff) {
    is64 = true;
    length = r.u64('unit_length (64-bit DWARF)');
  }
  const end = r.offset + length;
  if (end > section.size) r.fail(`unit_length 0x${length.toString(16)} runs past the end of the section`, offset - r.base, 'truncated');
  const version = r.u16('unit version');
  if (version < 2 || version > 5) r.fail(`unit version: expected 2 to 5, found ${version}`, r.pos - 2, 'unsupported');
  let unitType = section.name === '.debug_types' ? C.DW_UT_type : C.DW_UT_compile;
  let addressSize: number;
  let abbrevOffset: number;
  let typeSignature: bigint | null = null;
  let typeOffset: number | null = null;
  let dwoId: bigint | null = null;
  // debug_abbrev_offset is relocated in a relocatable object's .debug_info (sections are fixed by field).
  const abbrev = () => section.fix(r.offset, r.offsetOf(is64, 'debug_abbrev_offset'));
  if (version >= 5) {
    unitType = r.u8('unit_type');
    addressSize = r.u8('address_size');
    abbrevOffset = abbrev();
    switch (unitType) {
      case C.DW_UT_compile: case C.DW_UT_partial:
        break;
      case C.DW_UT_skeleton: case C.DW_UT_split_compile:
        dwoId = r.u64big('dwo_id');
        break;
      case C.DW_UT_type: case C.DW_UT_split_type:
        typeSignature = r.u64big('type_signature');
        typeOffset = r.offsetOf(is64, 'type_offset');
        break;
      default:
        r.fail(`unit_type: expected DW_UT_compile..DW_UT_split_type, found 0x${unitType.toString(16)}`, r.pos - 2 - (is64 ? 8 : 4) - 1, 'unsupported');
    }
  } else {
    abbrevOffset = abbrev();
    addressSize = r.u8('address_size');
    if (unitType === C.DW_UT_type) {
      typeSignature = r.u64big('type_signature');
      typeOffset = r.offsetOf(is64, 'type_offset');
    }
  }
  if (addressSize !== 1 && addressSize !== 2 && addressSize !== 4 && addressSize !== 8) {
    r.fail(`address_size: expected 1, 2, 4 or 8, found ${addressSize}`, r.pos, 'unsupported');
  }
  return {
    section, offset, end, is64, version, unitType, addressSize, offsetSize: is64 ? 8 : 4, abbrevOffset,
    dieOffset: r.offset, typeSignature, typeOffset, dwoId,
  };
}

/** An address read from DWARF: its value and, in a relocatable object, the section it points into. */
export interface Address {
  /** ELF section index (relocatable objects); 0 in linked objects; -1 when an ET_REL value was not relocated. */
  readonly section: number;
  readonly value: bigint;
}

/**
 * A loaded unit: its bytes, abbreviations and the attributes of its unit DIE that other lookups depend on
 * (string/address/range bases, line program, comp_dir).
 */
export class Unit {
  /** The unit's bytes; bytes[0] is section offset header.offset. */
  readonly bytes: Buffer;
  readonly abbrevs: AbbrevTable;
  readonly tag: number;
  name: string | null = null;
  compDir: string | null = null;
  stmtList: number | null = null;
  lowPc: Address | null = null;
  strOffsetsBase: number;
  addrBase: number;
  rnglistsBase: number;
  dwoName: string | null = null;
  /** Set when the unit left the decoder's cache and its (recycled) bytes may be overwritten. */
  released = false;

  constructor(readonly dwarf: Dwarf, readonly header: UnitHeader, bytes: Buffer, abbrevs: AbbrevTable) {
    this.bytes = bytes;
    this.abbrevs = abbrevs;
    // DWARF 5 bases default to just past the contribution header when absent (split units rely on this).
    const v5 = header.version >= 5;
    this.strOffsetsBase = v5 ? (header.is64 ? 16 : 8) : 0;
    this.addrBase = v5 ? (header.is64 ? 16 : 8) : 0;
    this.rnglistsBase = v5 ? (header.is64 ? 20 : 12) : 0;
    const c = new DieCursor(this);
    if (!c.next()) throw new DwarfError(header.section, header.dieOffset, 'unit has no unit DIE');
    this.tag = c.tag;
    // Bases first: DW_AT_low_pc may be an addrx that needs addr_base.
    const bases: [number, (v: number) => void][] = [
      [C.DW_AT_str_offsets_base, (v) => (this.strOffsetsBase = v)],
      [C.DW_AT_addr_base, (v) => (this.addrBase = v)],
      [C.DW_AT_GNU_addr_base, (v) => (this.addrBase = v)],
      [C.DW_AT_rnglists_base, (v) => (this.rnglistsBase = v)],
    ];
    for (const [at, set] of bases) {
      const k = c.find(at);
      if (k >= 0) {
        const v = c.sectionOffset(k);
        if (v !== null) set(v);
      }
    }
    // GNU split DWARF (DWARF 4): DW_AT_GNU_ranges_base applies to .debug_ranges offsets of the .dwo only.
    const name = c.find(C.DW_AT_name);
    if (name >= 0) this.name = c.string(name);
    const compDir = c.find(C.DW_AT_comp_dir);
    if (compDir >= 0) this.compDir = c.string(compDir);
    const stmt = c.find(C.DW_AT_stmt_list);
    if (stmt >= 0) this.stmtList = c.sectionOffset(stmt);
    const low = c.find(C.DW_AT_low_pc);
    if (low >= 0) this.lowPc = c.address(low);
    const dwo = c.find(C.DW_AT_dwo_name) >= 0 ? c.find(C.DW_AT_dwo_name) : c.find(C.DW_AT_GNU_dwo_name);
    if (dwo >= 0) this.dwoName = c.string(dwo);
  }

  get offset(): number {
    return this.header.offset;
  }
  get end(): number {
    return this.header.end;
  }
  get section(): DwarfSection {
    return this.header.section;
  }
  /** True for units whose DIEs describe code and data (not type units). */
  get hasCode(): boolean {
    const t = this.header.unitType;
    return t === C.DW_UT_compile || t === C.DW_UT_partial || t === C.DW_UT_skeleton || t === C.DW_UT_split_compile;
  }
  cursor(at = this.header.dieOffset): DieCursor {
    return new DieCursor(this, at);
  }
}
