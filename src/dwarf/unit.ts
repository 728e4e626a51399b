// Unit, a loaded compilation or type unit: its bytes, abbreviations and the unit-DIE attributes other lookups
// need (str/addr/rnglists bases, stmt_list, comp_dir), and the string and address tables its forms point into.
import type { AbbrevTable } from './abbrev.js';
import * as C from './constants.js';
import { DieCursor, type DieUnit } from './die.js';
import { DwarfError } from './reader.js';
import type { Address, DwarfSection, DwarfSections } from './section.js';
import type { UnitHeader } from './unit-header.js';

/**
 * A loaded unit: its bytes, abbreviations and the attributes of its unit DIE that other lookups depend on
 * (string/address/range bases, line program, comp_dir).
 */
export class Unit implements DieUnit {
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

  /** `sections`: the object's sections, where the unit's string, address and range forms point. */
  constructor(readonly sections: DwarfSections, readonly header: UnitHeader, bytes: Buffer, abbrevs: AbbrevTable) {
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
  cursor(at = this.header.dieOffset): DieCursor<Unit> {
    return new DieCursor(this, at);
  }

  /** .debug_info, where DW_FORM_ref_addr points; null when the object has none. */
  get info(): DwarfSection | null {
    return this.sections.section('.debug_info');
  }

  /** DW_FORM_strp: the string at `offset` of .debug_str. */
  str(offset: number): string {
    const s = this.sections.section('.debug_str');
    if (!s) throw new DwarfError({ file: this.sections.file, name: '.debug_str', fileOffset: null }, offset, 'DW_FORM_strp used but the object has no .debug_str');
    return s.cstring(offset, 'DW_FORM_strp');
  }

  /** DW_FORM_line_strp: the string at `offset` of .debug_line_str. */
  lineStr(offset: number): string {
    const s = this.sections.section('.debug_line_str');
    if (!s) throw new DwarfError({ file: this.sections.file, name: '.debug_line_str', fileOffset: null }, offset, 'DW_FORM_line_strp used but the object has no .debug_line_str');
    return s.cstring(offset, 'DW_FORM_line_strp');
  }

  /** DW_FORM_strx*: entry `index` of the unit's contribution to .debug_str_offsets. */
  strx(index: number): string {
    const s = this.sections.section('.debug_str_offsets');
    if (!s) throw new DwarfError(this.section, this.offset, 'DW_FORM_strx used but the object has no .debug_str_offsets');
    const size = this.header.offsetSize;
    const at = this.strOffsetsBase + index * size;
    const r = s.reader(at, size);
    return this.str(size === 8 ? r.u64('string offset') : r.u32('string offset'));
  }

  /** DW_FORM_addrx* / DW_OP_addrx: entry `index` of the unit's contribution to .debug_addr. */
  addrx(index: number): Address {
    const s = this.sections.section('.debug_addr');
    if (!s) throw new DwarfError(this.section, this.offset, 'DW_FORM_addrx used but the object has no .debug_addr');
    const size = this.header.addressSize;
    const at = this.addrBase + index * size;
    return { value: s.reader(at, size).address(size, '.debug_addr entry'), section: s.targetAt(at) };
  }
}
