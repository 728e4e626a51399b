// DW_FORM_* by class and size: which forms are constants or addresses, and the byte size of the fixed-size ones
// for a unit's shape (address size, 32- or 64-bit DWARF, version).
import * as F from './constants.js';

/** The shape of a unit that decides form sizes. */
export interface FormShape {
  readonly addressSize: number;
  /** 4 in 32-bit DWARF, 8 in 64-bit DWARF. */
  readonly offsetSize: number;
  readonly version: number;
}

/** A key for caching per-shape abbreviation layouts. */
export function shapeKey(s: FormShape): number {
  return s.addressSize * 1000 + s.offsetSize * 10 + (s.version <= 2 ? 1 : 0);
}

/**
 * Size in bytes of a form whose size does not depend on its value, -1 for variable-size forms (LEB128,
 * strings, blocks, indirect) and -2 for a form this reader does not know.
 */
export function fixedFormSize(form: number, s: FormShape): number {
  switch (form) {
    case F.DW_FORM_addr: return s.addressSize;
    case F.DW_FORM_data1: case F.DW_FORM_ref1: case F.DW_FORM_flag: case F.DW_FORM_strx1: case F.DW_FORM_addrx1: return 1;
    case F.DW_FORM_data2: case F.DW_FORM_ref2: case F.DW_FORM_strx2: case F.DW_FORM_addrx2: return 2;
    case F.DW_FORM_strx3: case F.DW_FORM_addrx3: return 3;
    case F.DW_FORM_data4: case F.DW_FORM_ref4: case F.DW_FORM_ref_sup4: case F.DW_FORM_strx4: case F.DW_FORM_addrx4: return 4;
    case F.DW_FORM_data8: case F.DW_FORM_ref8: case F.DW_FORM_ref_sig8: case F.DW_FORM_ref_sup8: return 8;
    case F.DW_FORM_data16: return 16;
    case F.DW_FORM_flag_present: case F.DW_FORM_implicit_const: return 0;
    case F.DW_FORM_strp: case F.DW_FORM_line_strp: case F.DW_FORM_sec_offset: case F.DW_FORM_strp_sup:
    case F.DW_FORM_GNU_strp_alt: case F.DW_FORM_GNU_ref_alt:
      return s.offsetSize;
    // DWARF 2 made DW_FORM_ref_addr address-sized; DWARF 3 changed it to offset-sized.
    case F.DW_FORM_ref_addr: return s.version <= 2 ? s.addressSize : s.offsetSize;
    case F.DW_FORM_string: case F.DW_FORM_block: case F.DW_FORM_block1: case F.DW_FORM_block2: case F.DW_FORM_block4:
    case F.DW_FORM_exprloc: case F.DW_FORM_sdata: case F.DW_FORM_udata: case F.DW_FORM_ref_udata: case F.DW_FORM_strx:
    case F.DW_FORM_addrx: case F.DW_FORM_loclistx: case F.DW_FORM_rnglistx: case F.DW_FORM_GNU_addr_index:
    case F.DW_FORM_GNU_str_index: case F.DW_FORM_indirect:
      return -1;
    default:
      return -2;
  }
}

export function isConstantForm(form: number): boolean {
  switch (form) {
    case F.DW_FORM_data1: case F.DW_FORM_data2: case F.DW_FORM_data4: case F.DW_FORM_data8:
    case F.DW_FORM_udata: case F.DW_FORM_sdata: case F.DW_FORM_implicit_const:
      return true;
    default:
      return false;
  }
}

export function isAddressForm(form: number): boolean {
  switch (form) {
    case F.DW_FORM_addr: case F.DW_FORM_addrx: case F.DW_FORM_addrx1: case F.DW_FORM_addrx2: case F.DW_FORM_addrx3:
    case F.DW_FORM_addrx4: case F.DW_FORM_GNU_addr_index:
      return true;
    default:
      return false;
  }
}

export function formName(form: number): string {
  for (const [k, v] of Object.entries(F)) if (k.startsWith('DW_FORM_') && v === form) return k;
  return `DW_FORM_0x${form.toString(16)}`;
}
