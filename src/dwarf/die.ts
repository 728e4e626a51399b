// DIE decoding: DieCursor walks one unit's DIEs in pre-order and decodes attribute values only when asked
// (constants, strings, addresses, references, blocks, locations); the inner loop of every DWARF lookup.
// Over 400 lines because it is one class: its walk and its value decoders share the per-DIE value positions
// and the module-level scratch arrays that keep the walk free of allocations.
import type { AbbrevTable } from './abbrev.js';
import * as F from './constants.js';
import { fixedFormSize, formName, isConstantForm, shapeKey } from './forms.js';
import { lebEnd, lebSkip, sleb, uleb } from './leb128.js';
import { DwarfError } from './reader.js';
import type { Address, DwarfSection } from './section.js';
import type { UnitHeader } from './unit-header.js';

/**
 * What a cursor needs of its unit (Unit provides it): the unit's bytes, header and abbreviations, and the
 * string, address and .debug_info tables its offset and index forms point into.
 */
export interface DieUnit {
  readonly header: UnitHeader;
  /** The unit's bytes; bytes[0] is section offset header.offset. */
  readonly bytes: Buffer;
  readonly abbrevs: AbbrevTable;
  /** Set when the unit left the decoder's cache and its (recycled) bytes may be overwritten. */
  readonly released: boolean;
  /** .debug_info, where DW_FORM_ref_addr points; null when the object has none. */
  readonly info: DwarfSection | null;
  str(offset: number): string;
  lineStr(offset: number): string;
  strx(index: number): string;
  addrx(index: number): Address;
}

/** A reference attribute's target. */
export type DieRef =
  | { readonly kind: 'offset'; readonly section: DwarfSection; readonly offset: number }
  | { readonly kind: 'signature'; readonly signature: bigint }
  /** DW_FORM_ref_sup*, DW_FORM_GNU_ref_alt: a DIE in a supplementary file we do not have. */
  | { readonly kind: 'supplementary'; readonly offset: number };

/**
 * Value positions and resolved forms of the current DIE of whichever cursor last decoded a variable-layout
 * DIE. Shared so that cursors (one per reference hop) cost no allocation; a cursor whose DIE was overwritten
 * by another cursor decodes its attribute list again (see positions()).
 */
let scratchPos = new Int32Array(64);
let scratchForms = new Uint16Array(64);
let scratchOwner: DieCursor | null = null;
let scratchStart = -1;

/**
 * A pre-order cursor over the DIEs of one unit (gimli's EntriesCursor in spirit). Attribute values are not
 * decoded while walking: the cursor records where each value starts and decodes only what is asked for,
 * and skipChildren() jumps over a subtree through DW_AT_sibling when the producer emitted it.
 */
export class DieCursor<U extends DieUnit = DieUnit> {
  /** Section offset of the current DIE. */
  offset = -1;
  tag = 0;
  /** Depth of the current DIE (the unit DIE is 0; undefined after seek()). */
  depth = -1;
  /** Declaration index (in the unit's abbreviation table) of the current DIE, -1 when there is none. */
  decl = -1;

  private readonly buf: Buffer;
  private readonly base: number;
  private readonly end: number;
  private readonly little: boolean;
  private readonly key: number;
  private nextIndex: number;
  private level = 0;
  private readonly table: AbbrevTable;
  private readonly sizeOf: (form: number) => number;
  private attrStart = 0;
  /** Index in table.pool of the current DIE's attribute offsets, or -2 when they are in the scratch arrays. */
  private fixed = -2;

  constructor(readonly unit: U, at = unit.header.dieOffset) {
    if (unit.released) throw new Error(`internal: unit 0x${unit.header.offset.toString(16)} used after it left the unit cache`);
    this.buf = unit.bytes;
    this.base = unit.header.offset;
    this.end = unit.header.end - this.base;
    this.little = unit.header.section.little;
    this.key = shapeKey(unit.header);
    this.table = unit.abbrevs;
    const header = unit.header;
    this.sizeOf = (form) => fixedFormSize(form, header);
    this.nextIndex = at - this.base;
  }

  private fail(message: string, index: number, kind: 'format' | 'truncated' | 'unsupported' = 'format'): never {
    throw new DwarfError(this.unit.header.section, this.base + index, message, kind);
  }

  /** Moves to the next DIE in pre-order (children before siblings). Returns false at the end of the unit. */
  next(): boolean {
    const b = this.buf;
    for (;;) {
      const p = this.nextIndex;
      if (p >= this.end) {
        this.decl = -1;
        return false;
      }
      const code = uleb(b, p, this.end);
      // Taken now: looking the code up may parse abbreviations, which decodes LEB128 too.
      const attributes = lebEnd;
      if (attributes < 0) this.fail('abbreviation code runs past the end of the unit', p, 'truncated');
      if (code === 0) {
        // A null entry ends a sibling chain; trailing padding nulls must not drive the level negative.
        if (this.level > 0) this.level--;
        this.nextIndex = attributes;
        continue;
      }
      const d = this.table.indexOf(code);
      if (d < 0) this.fail(`abbreviation code ${code} is not in the unit's table at .debug_abbrev+0x${this.table.offset.toString(16)}`, p);
      this.offset = this.base + p;
      this.decl = d;
      this.tag = this.table.tag(d);
      this.depth = this.level;
      if (this.table.hasChildren(d)) this.level++;
      this.nextIndex = this.readAttributes(d, attributes);
      return true;
    }
  }

  /** Makes the DIE at section offset `offset` current (for references); depth is then relative to it. */
  seek(offset: number): void {
    const index = offset - this.base;
    if (index < this.unit.header.dieOffset - this.base || index >= this.end) {
      this.fail(`DIE reference 0x${offset.toString(16)} is outside unit 0x${this.base.toString(16)}..0x${(this.base + this.end).toString(16)}`, Math.max(0, Math.min(index, this.end - 1)));
    }
    this.nextIndex = index;
    this.level = 0;
    if (!this.next() ) this.fail(`no DIE at 0x${offset.toString(16)}`, index);
  }

  /**
   * After next() returned a DIE with children: positions the cursor so that the following next() returns
   * the DIE after the whole subtree.
   */
  skipChildren(): void {
    const t = this.table;
    const d = this.decl;
    if (d < 0 || !t.hasChildren(d)) return;
    const want = this.depth;
    const sibK = t.sibling(d);
    if (sibK >= 0) {
      const sib = this.referenceIndex(sibK);
      if (sib !== null && sib > this.offset - this.base && sib <= this.end) {
        this.nextIndex = sib;
        this.level = want;
        return;
      }
    }
    const b = this.buf;
    let p = this.nextIndex;
    let open = 1;
    while (open > 0 && p < this.end) {
      const code = uleb(b, p, this.end);
      const attributes = lebEnd;
      if (attributes < 0) this.fail('abbreviation code runs past the end of the unit', p, 'truncated');
      if (code === 0) {
        open--;
        p = attributes;
        continue;
      }
      const child = t.indexOf(code);
      if (child < 0) this.fail(`abbreviation code ${code} is not in the unit's table`, p);
      const start = p;
      // Reads the child's attribute positions into this cursor: the current DIE is invalidated below.
      this.decl = child;
      p = this.readAttributes(child, attributes);
      if (!t.hasChildren(child)) continue;
      const childSib = t.sibling(child);
      if (childSib >= 0) {
        const sib = this.referenceIndex(childSib);
        if (sib !== null && sib > start && sib <= this.end) {
          p = sib;
          continue;
        }
      }
      open++;
    }
    this.nextIndex = p;
    this.level = want;
    this.decl = -1;
  }

  /** Records where each attribute value starts; returns the index just past the DIE. */
  private readAttributes(d: number, p: number): number {
    const t = this.table;
    const fixed = t.layout(d, this.key, this.sizeOf);
    const n = t.count(d);
    this.attrStart = p;
    this.fixed = fixed;
    if (fixed >= 0) {
      const end = p + t.pool[fixed + n];
      if (end > this.end) this.fail('DIE attributes run past the end of the unit', p, 'truncated');
      return end;
    }
    if (n > scratchPos.length) {
      scratchPos = new Int32Array(n * 2);
      scratchForms = new Uint16Array(n * 2);
    }
    scratchOwner = this;
    scratchStart = p;
    const first = t.first(d);
    const forms = t.forms;
    for (let k = 0; k < n; k++) {
      let form = forms[first + k];
      while (form === F.DW_FORM_indirect) {
        form = uleb(this.buf, p, this.end);
        if (lebEnd < 0) this.fail('DW_FORM_indirect form runs past the end of the unit', p, 'truncated');
        p = lebEnd;
      }
      scratchForms[k] = form;
      scratchPos[k] = p;
      p = this.skipForm(form, p);
    }
    if (p > this.end) this.fail('DIE attributes run past the end of the unit', p, 'truncated');
    return p;
  }

  /** A block's length field of `width` bytes at `p` lies inside the unit (else the length reads as NaN or throws). */
  private lengthFits(form: number, p: number, width: number): void {
    if (p + width > this.end) this.fail(`${formName(form)} length runs past the end of the unit`, p, 'truncated');
  }

  private skipForm(form: number, p: number): number {
    const sz = fixedFormSize(form, this.unit.header);
    if (sz >= 0) return p + sz;
    const b = this.buf;
    switch (form) {
      case F.DW_FORM_string: {
        const z = b.indexOf(0, p);
        if (z < 0 || z >= this.end) this.fail('DW_FORM_string runs past the end of the unit', p, 'truncated');
        return z + 1;
      }
      case F.DW_FORM_block1:
        this.lengthFits(form, p, 1);
        return p + 1 + b[p];
      case F.DW_FORM_block2:
        this.lengthFits(form, p, 2);
        return p + 2 + (this.little ? b.readUInt16LE(p) : b.readUInt16BE(p));
      case F.DW_FORM_block4:
        this.lengthFits(form, p, 4);
        return p + 4 + (this.little ? b.readUInt32LE(p) : b.readUInt32BE(p));
      case F.DW_FORM_block:
      case F.DW_FORM_exprloc: {
        const len = uleb(b, p, this.end);
        if (lebEnd < 0) this.fail(`${formName(form)} length runs past the end of the unit`, p, 'truncated');
        return lebEnd + len;
      }
      case F.DW_FORM_sdata: case F.DW_FORM_udata: case F.DW_FORM_ref_udata: case F.DW_FORM_strx: case F.DW_FORM_addrx:
      case F.DW_FORM_loclistx: case F.DW_FORM_rnglistx: case F.DW_FORM_GNU_addr_index: case F.DW_FORM_GNU_str_index: {
        const next = lebSkip(b, p, this.end);
        if (next < 0) this.fail(`${formName(form)} runs past the end of the unit`, this.end, 'truncated');
        return next;
      }
      default:
        return this.fail(`unknown attribute form 0x${form.toString(16)}: cannot skip it`, p, 'unsupported');
    }
  }

  // ---- attribute access (index k into the current abbreviation's attribute list) ----

  /** Index of attribute `name` in the current DIE, -1 when absent. */
  find(name: number): number {
    const d = this.decl;
    if (d < 0) return -1;
    const t = this.table;
    const names = t.names;
    const first = t.first(d);
    const n = t.count(d);
    for (let k = 0; k < n; k++) if (names[first + k] === name) return k;
    return -1;
  }

  /** Makes the shared scratch describe this cursor's current DIE again if another cursor reused it. */
  private own(): void {
    if (scratchOwner !== this || scratchStart !== this.attrStart) this.readAttributes(this.decl, this.attrStart);
  }

  /** The form of attribute k after resolving DW_FORM_indirect. */
  form(k: number): number {
    if (this.fixed >= 0) return this.table.form(this.decl, k);
    this.own();
    return scratchForms[k];
  }

  private at(k: number): number {
    if (this.fixed >= 0) return this.attrStart + this.table.pool[this.fixed + k];
    this.own();
    return scratchPos[k];
  }

  /** Section offset where the value of attribute k is stored. */
  valueOffset(k: number): number {
    return this.base + this.at(k);
  }

  private uint(p: number, size: number): number {
    const b = this.buf;
    switch (size) {
      case 1: return b[p];
      case 2: return this.little ? b.readUInt16LE(p) : b.readUInt16BE(p);
      case 3: return this.little ? b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) : (b[p] << 16) | (b[p + 1] << 8) | b[p + 2];
      case 4: return this.little ? b.readUInt32LE(p) : b.readUInt32BE(p);
      case 8: {
        const lo = this.little ? b.readUInt32LE(p) : b.readUInt32BE(p + 4);
        const hi = this.little ? b.readUInt32LE(p + 4) : b.readUInt32BE(p);
        return hi * 0x1_0000_0000 + lo;
      }
      default: return this.fail(`unsupported ${size}-byte value`, p, 'unsupported');
    }
  }

  /** A constant-class value (data1..8, udata, sdata, implicit_const), or null for other forms. */
  constant(k: number): number | null {
    const form = this.form(k);
    const p = this.at(k);
    switch (form) {
      case F.DW_FORM_data1: return this.buf[p];
      case F.DW_FORM_data2: return this.uint(p, 2);
      case F.DW_FORM_data4: return this.uint(p, 4);
      case F.DW_FORM_data8: return this.uint(p, 8);
      case F.DW_FORM_udata: return uleb(this.buf, p, this.end);
      case F.DW_FORM_sdata: return sleb(this.buf, p, this.end);
      case F.DW_FORM_implicit_const: return this.table.implicit(this.decl, k);
      default: return null;
    }
  }

  /** A section offset (sec_offset, or data4/data8 as DWARF 2–3 used them for line/range/location pointers). */
  sectionOffset(k: number): number | null {
    const form = this.form(k);
    const p = this.at(k);
    const fix = (raw: number) => this.unit.header.section.fix(this.base + p, raw);
    switch (form) {
      case F.DW_FORM_sec_offset: return fix(this.uint(p, this.unit.header.offsetSize));
      case F.DW_FORM_data4: return fix(this.uint(p, 4));
      case F.DW_FORM_data8: return fix(this.uint(p, 8));
      default: return null;
    }
  }

  /** An offset-sized field at unit index p, relocated. */
  private offsetField(p: number): number {
    return this.unit.header.section.fix(this.base + p, this.uint(p, this.unit.header.offsetSize));
  }

  /** An index form value (strx*, addrx*, rnglistx, loclistx, GNU indices). */
  index(k: number): number | null {
    const form = this.form(k);
    const p = this.at(k);
    switch (form) {
      case F.DW_FORM_strx1: case F.DW_FORM_addrx1: return this.buf[p];
      case F.DW_FORM_strx2: case F.DW_FORM_addrx2: return this.uint(p, 2);
      case F.DW_FORM_strx3: case F.DW_FORM_addrx3: return this.uint(p, 3);
      case F.DW_FORM_strx4: case F.DW_FORM_addrx4: return this.uint(p, 4);
      case F.DW_FORM_strx: case F.DW_FORM_addrx: case F.DW_FORM_rnglistx: case F.DW_FORM_loclistx:
      case F.DW_FORM_GNU_addr_index: case F.DW_FORM_GNU_str_index:
        return uleb(this.buf, p, this.end);
      default: return null;
    }
  }

  flag(k: number): boolean {
    const form = this.form(k);
    if (form === F.DW_FORM_flag_present) return true;
    if (form === F.DW_FORM_flag) return this.buf[this.at(k)] !== 0;
    return (this.constant(k) ?? 0) !== 0;
  }

  /** A string-class value; null for strings in a supplementary file. */
  string(k: number): string | null {
    const form = this.form(k);
    const p = this.at(k);
    const u = this.unit;
    switch (form) {
      case F.DW_FORM_string: return this.buf.toString('latin1', p, this.buf.indexOf(0, p));
      case F.DW_FORM_strp: return u.str(this.offsetField(p));
      case F.DW_FORM_line_strp: return u.lineStr(this.offsetField(p));
      case F.DW_FORM_strx: case F.DW_FORM_strx1: case F.DW_FORM_strx2: case F.DW_FORM_strx3: case F.DW_FORM_strx4:
      case F.DW_FORM_GNU_str_index:
        return u.strx(this.index(k)!);
      default: return null;
    }
  }

  /** An address-class value (addr, addrx*), with the section it points into. */
  address(k: number): Address | null {
    const form = this.form(k);
    const p = this.at(k);
    if (form === F.DW_FORM_addr) {
      const section = this.unit.header.section;
      return { value: section.fixAddress(this.base + p, this.readAddress(p)), section: section.targetAt(this.base + p) };
    }
    const idx = this.index(k);
    if (idx === null || form === F.DW_FORM_rnglistx || form === F.DW_FORM_loclistx || form === F.DW_FORM_strx
      || (form >= F.DW_FORM_strx1 && form <= F.DW_FORM_strx4) || form === F.DW_FORM_GNU_str_index) return null;
    return this.unit.addrx(idx);
  }

  private readAddress(p: number): bigint {
    const size = this.unit.header.addressSize;
    const b = this.buf;
    if (size === 8) return this.little ? b.readBigUInt64LE(p) : b.readBigUInt64BE(p);
    return BigInt(this.uint(p, size));
  }

  /** Index (into the unit's bytes) of a unit-relative reference, for sibling jumps; null for other forms. */
  private referenceIndex(k: number): number | null {
    const form = this.form(k);
    const p = this.at(k);
    switch (form) {
      case F.DW_FORM_ref1: return this.buf[p];
      case F.DW_FORM_ref2: return this.uint(p, 2);
      case F.DW_FORM_ref4: return this.uint(p, 4);
      case F.DW_FORM_ref8: return this.uint(p, 8);
      case F.DW_FORM_ref_udata: return uleb(this.buf, p, this.end);
      default: return null;
    }
  }

  /** A reference-class value resolved to a section offset (or a type signature). */
  reference(k: number): DieRef | null {
    const form = this.form(k);
    const p = this.at(k);
    const h = this.unit.header;
    const rel = this.referenceIndex(k);
    if (rel !== null) return { kind: 'offset', section: h.section, offset: this.base + rel };
    switch (form) {
      case F.DW_FORM_ref_addr: {
        const info = this.unit.info;
        if (!info) return null;
        return { kind: 'offset', section: info, offset: h.section.fix(this.base + p, this.uint(p, h.version <= 2 ? h.addressSize : h.offsetSize)) };
      }
      case F.DW_FORM_ref_sig8:
        return { kind: 'signature', signature: this.little ? this.buf.readBigUInt64LE(p) : this.buf.readBigUInt64BE(p) };
      case F.DW_FORM_ref_sup4: return { kind: 'supplementary', offset: this.uint(p, 4) };
      case F.DW_FORM_ref_sup8: return { kind: 'supplementary', offset: this.uint(p, 8) };
      case F.DW_FORM_GNU_ref_alt: return { kind: 'supplementary', offset: this.uint(p, h.offsetSize) };
      default: return null;
    }
  }

  /** The [start, end) indexes into unit.bytes of a block or exprloc value; null for other forms. */
  block(k: number): { start: number; end: number } | null {
    const form = this.form(k);
    const p = this.at(k);
    const b = this.buf;
    switch (form) {
      case F.DW_FORM_exprloc: case F.DW_FORM_block: {
        const len = uleb(b, p, this.end);
        return { start: lebEnd, end: lebEnd + len };
      }
      case F.DW_FORM_block1: return { start: p + 1, end: p + 1 + b[p] };
      case F.DW_FORM_block2: return { start: p + 2, end: p + 2 + this.uint(p, 2) };
      case F.DW_FORM_block4: return { start: p + 4, end: p + 4 + this.uint(p, 4) };
      default: return null;
    }
  }

  /**
   * The address of a location expression that is exactly one DW_OP_addr / DW_OP_addrx (a variable with a
   * fixed address); null for anything else (registers, frame offsets, TLS, location lists).
   */
  locationAddress(k: number): Address | null {
    const blk = this.block(k);
    if (!blk || blk.end > this.end || blk.start >= blk.end) return null;
    const b = this.buf;
    const op = b[blk.start];
    const size = this.unit.header.addressSize;
    if (op === F.DW_OP_addr) {
      if (blk.end - blk.start !== 1 + size) return null;
      const p = blk.start + 1;
      const section = this.unit.header.section;
      return { value: section.fixAddress(this.base + p, this.readAddress(p)), section: section.targetAt(this.base + p) };
    }
    if (op === F.DW_OP_addrx || op === F.DW_OP_GNU_addr_index) {
      const idx = uleb(b, blk.start + 1, blk.end);
      if (lebEnd !== blk.end) return null;
      return this.unit.addrx(idx);
    }
    return null;
  }

  /** DW_AT_high_pc: an address, or (DWARF 4+) an offset from low_pc when its form is a constant. */
  highPc(k: number, low: Address): Address | null {
    const form = this.form(k);
    if (isConstantForm(form)) {
      const off = this.constant(k);
      return off === null ? null : { section: low.section, value: low.value + BigInt(off) };
    }
    return this.address(k);
  }
}
