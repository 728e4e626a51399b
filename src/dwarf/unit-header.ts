// The header of a compilation or type unit (unit_length, version, unit type, abbrev offset, address size),
// parsed from a reader over the unit's first bytes.
import * as C from './constants.js';
import type { FormShape } from './forms.js';
import type { DwarfReader } from './reader.js';
import type { DwarfSection } from './section.js';

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

/** The total size (unit_length and what it counts) of the unit at `offset`. */
export function readUnitSize(section: DwarfSection, offset: number): number {
  const head = section.reader(offset, Math.min(12, section.size - offset));
  const { length } = head.initialLength('unit_length');
  return head.pos + length;
}

/** Parses a unit header from a reader positioned at its first byte (a reader over exactly the unit). */
export function parseUnitHeader(r: DwarfReader, section: DwarfSection): UnitHeader {
  const offset = r.offset;
  const { length, is64 } = r.initialLength('unit_length');
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
