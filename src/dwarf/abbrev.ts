// `.debug_abbrev`: a unit's abbreviation table (tag, children flag and attribute forms of each DIE code), parsed
// on demand into flat typed arrays, with the attribute layouts of fixed-size DIEs; tables cached by offset.
import { DW_AT_sibling, DW_FORM_implicit_const } from './constants.js';
import { lebEnd, sleb, uleb } from './leb128.js';
import { DwarfError } from './reader.js';
import type { DwarfSection } from './section.js';

/** Fields of one declaration in AbbrevTable.decls (stride DECL). */
const TAG = 0;
const CHILDREN = 1;
const FIRST = 2;
const COUNT = 3;
const SIBLING = 4;
const DECL = 5;

/**
 * One abbreviation table held in flat typed arrays: a declaration is an index, not an object (a vmlinux has
 * ~2,000 tables of a few hundred declarations each; objects per declaration made the garbage collector the
 * largest cost of a lookup). Declarations are parsed on demand, in order, up to the code asked for: naming
 * a unit needs only its unit DIE's declaration, usually the first.
 */
export class AbbrevTable {
  /** Declaration fields, DECL numbers per declaration. */
  private decls: Int32Array<ArrayBuffer> = new Int32Array(DECL * 16);
  /** Attribute names and forms of all declarations, indexed through FIRST/COUNT. */
  names: Uint16Array<ArrayBuffer> = new Uint16Array(64);
  forms: Uint16Array<ArrayBuffer> = new Uint16Array(64);
  private implicitValues: Map<number, number> | null = null;
  /** code → declaration index + 1 (0: not seen) for codes below 2^16. */
  private denseCodes: Int32Array<ArrayBuffer> = new Int32Array(16);
  private sparseCodes: Map<number, number> | null = null;
  private nd = 0;
  private na = 0;
  /** Where parsing continues in .debug_abbrev, -1 once the terminating 0 code was read. */
  private pos: number;
  /** Per declaration: start of its attribute offsets in layoutPool, -1 not computed, -2 variable-size. */
  private layoutStart: Int32Array<ArrayBuffer> = new Int32Array(16).fill(-1);
  private layoutPool: Int32Array<ArrayBuffer> = new Int32Array(64);
  private layoutUsed = 0;
  private layoutKey = -1;

  constructor(private section: DwarfSection, readonly offset: number) {
    if (offset >= section.size) {
      throw new DwarfError(section, offset, `abbreviation table offset 0x${offset.toString(16)} is beyond the section (size 0x${section.size.toString(16)})`);
    }
    this.pos = offset;
  }

  /** Declaration index of an abbreviation code, -1 when the table has no such code. */
  indexOf(code: number): number {
    for (;;) {
      const known = code < this.denseCodes.length ? this.denseCodes[code] - 1 : code >= 1 << 16 ? (this.sparseCodes?.get(code) ?? -1) : -1;
      if (known >= 0 || this.pos < 0) return known;
      this.parseOne();
    }
  }
  tag(d: number): number {
    return this.decls[d * DECL + TAG];
  }
  hasChildren(d: number): boolean {
    return this.decls[d * DECL + CHILDREN] !== 0;
  }
  /** Index of the declaration's first attribute in names/forms. */
  first(d: number): number {
    return this.decls[d * DECL + FIRST];
  }
  count(d: number): number {
    return this.decls[d * DECL + COUNT];
  }
  /** Attribute number (0-based) of DW_AT_sibling, -1 when absent: lets a cursor jump over a subtree. */
  sibling(d: number): number {
    return this.decls[d * DECL + SIBLING];
  }
  form(d: number, k: number): number {
    return this.forms[this.decls[d * DECL + FIRST] + k];
  }
  /** The DW_FORM_implicit_const value of attribute k. */
  implicit(d: number, k: number): number {
    return this.implicitValues?.get(this.decls[d * DECL + FIRST] + k) ?? 0;
  }

  /**
   * Attribute value offsets (relative to the first value) of declaration d for the unit shape `key`:
   * the index in `pool` of attribute 0 (the entry after the last attribute is the total size), or -2 when
   * some form has a variable size. `sizeOf` gives a form's fixed size (< 0: variable).
   */
  layout(d: number, key: number, sizeOf: (form: number) => number): number {
    if (key !== this.layoutKey) {
      // A table shared by units of different shapes (never seen in practice): start over for this shape.
      this.layoutKey = key;
      this.layoutStart.fill(-1);
      this.layoutUsed = 0;
    }
    const known = this.layoutStart[d];
    if (known !== -1) return known;
    const n = this.count(d);
    const first = this.first(d);
    if (this.layoutUsed + n + 1 > this.layoutPool.length) this.layoutPool = grow32(this.layoutPool, this.layoutUsed + n + 1);
    const start = this.layoutUsed;
    let o = 0;
    for (let k = 0; k < n; k++) {
      this.layoutPool[start + k] = o;
      const sz = sizeOf(this.forms[first + k]);
      if (sz < 0) {
        this.layoutStart[d] = -2;
        return -2;
      }
      o += sz;
    }
    this.layoutPool[start + n] = o;
    this.layoutUsed += n + 1;
    this.layoutStart[d] = start;
    return start;
  }

  get pool(): Int32Array {
    return this.layoutPool;
  }

  /** Parses the next declaration (or the table's terminating 0). */
  private parseOne(): void {
    const section = this.section;
    const b = section.contents();
    const end = b.length;
    at = this.pos;
    const code = readLeb(b, section, 'abbreviation code');
    if (code === 0) {
      this.pos = -1;
      return;
    }
    const tag = readLeb(b, section, 'abbreviation tag');
    if (at >= end) throw new DwarfError(section, at, 'DW_CHILDREN: runs past the end of .debug_abbrev', 'truncated');
    const children = b[at++];
    const first = this.na;
    let sibling = -1;
    for (;;) {
      const start = at;
      const name = readLeb(b, section, 'attribute name');
      const form = readLeb(b, section, 'attribute form');
      if (name === 0 && form === 0) break;
      if (name > 0xffff || form > 0xffff) throw new DwarfError(section, start, `attribute 0x${name.toString(16)} form 0x${form.toString(16)}: value out of range`);
      if (name === DW_AT_sibling) sibling = this.na - first;
      if (form === DW_FORM_implicit_const) {
        const v = sleb(b, at, end);
        if (lebEnd < 0) throw new DwarfError(section, end, 'DW_FORM_implicit_const value: runs past the end of .debug_abbrev', 'truncated');
        at = lebEnd;
        (this.implicitValues ??= new Map()).set(this.na, v);
      }
      if (this.na === this.names.length) {
        this.names = grow16(this.names);
        this.forms = grow16(this.forms);
      }
      this.names[this.na] = name;
      this.forms[this.na] = form;
      this.na++;
    }
    const d = this.nd;
    if ((d + 1) * DECL > this.decls.length) this.decls = grow32(this.decls, (d + 1) * DECL);
    if (d >= this.layoutStart.length) {
      const g = new Int32Array(this.layoutStart.length * 4).fill(-1);
      g.set(this.layoutStart);
      this.layoutStart = g;
    }
    const o = d * DECL;
    this.decls[o + TAG] = tag;
    this.decls[o + CHILDREN] = children;
    this.decls[o + FIRST] = first;
    this.decls[o + COUNT] = this.na - first;
    this.decls[o + SIBLING] = sibling;
    this.nd++;
    if (code < 1 << 16) {
      if (code >= this.denseCodes.length) this.denseCodes = grow32(this.denseCodes, code + 1);
      // Duplicate codes are invalid; the first declaration wins, as in other consumers.
      if (this.denseCodes[code] === 0) this.denseCodes[code] = d + 1;
    } else {
      this.sparseCodes ??= new Map();
      if (!this.sparseCodes.has(code)) this.sparseCodes.set(code, d);
    }
    this.pos = at;
  }
}

const ABBREV_CACHE = 256;

// Parse position shared by readLeb and AbbrevTable.parseOne: a register, not a closure per declaration.
let at = 0;

function readLeb(b: Buffer, section: DwarfSection, what: string): number {
  const v = uleb(b, at, b.length);
  if (lebEnd < 0) throw new DwarfError(section, b.length, `${what}: runs past the end of .debug_abbrev`, 'truncated');
  at = lebEnd;
  return v;
}

/**
 * Parses the abbreviation table at `offset` of `.debug_abbrev`. Tables are cached by offset (bounded):
 * in a kernel every compilation unit has its own, and units may share one.
 */
export class AbbrevCache {
  private tables = new Map<number, AbbrevTable>();
  constructor(private section: DwarfSection) {}

  get(offset: number): AbbrevTable {
    let t = this.tables.get(offset);
    if (t) {
      this.tables.delete(offset);
      this.tables.set(offset, t);
      return t;
    }
    t = new AbbrevTable(this.section, offset);
    this.tables.set(offset, t);
    // A unit keeps its own table alive; an evicted table is simply parsed again if needed.
    if (this.tables.size > ABBREV_CACHE) this.tables.delete(this.tables.keys().next().value!);
    return t;
  }
}

// Tables grow by 4: most are either tiny (only the unit DIE's declaration parsed) or a few hundred entries.
function grow16(a: Uint16Array<ArrayBuffer>): Uint16Array<ArrayBuffer> {
  const out = new Uint16Array(a.length * 4);
  out.set(a);
  return out;
}

function grow32(a: Int32Array<ArrayBuffer>, need: number): Int32Array<ArrayBuffer> {
  const out = new Int32Array(Math.max(a.length * 4, need));
  out.set(a);
  return out;
}
