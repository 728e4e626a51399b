import { DW_AT_sibling, DW_FORM_implicit_const } from './constants.js';
import { DwarfError } from './reader.js';
import type { DwarfSection } from './sections.js';

/** One abbreviation declaration: the shape shared by every DIE that uses its code. */
export interface Abbrev {
  readonly code: number;
  readonly tag: number;
  readonly hasChildren: boolean;
  /** Attribute names and forms, in order. */
  readonly names: Uint16Array;
  readonly forms: Uint16Array;
  /** DW_FORM_implicit_const values (only meaningful where forms[i] is implicit_const). */
  readonly implicit: readonly number[];
  /** Index of DW_AT_sibling, -1 when absent: lets a cursor jump over a subtree. */
  readonly sibling: number;
  /** Per unit shape (address size, offset size, version): attribute offsets when every form has a fixed size. */
  layout: Map<number, Int32Array | null>;
}

export class AbbrevTable {
  /** Dense lookup for the usual 1..N codes; sparse codes fall back to the map. */
  private dense: (Abbrev | undefined)[] = [];
  private sparse = new Map<number, Abbrev>();
  constructor(readonly offset: number) {}

  add(a: Abbrev): void {
    if (a.code < 4096) this.dense[a.code] = a;
    else this.sparse.set(a.code, a);
  }
  get(code: number): Abbrev | undefined {
    return code < 4096 ? this.dense[code] : this.sparse.get(code);
  }
}

/**
 * Parses the abbreviation table at `offset` of `.debug_abbrev`. Tables are cached by offset: in a kernel
 * every compilation unit has its own, and several units of a partial/type split may share one.
 */
export class AbbrevCache {
  private tables = new Map<number, AbbrevTable>();
  constructor(private section: DwarfSection) {}

  get(offset: number): AbbrevTable {
    let t = this.tables.get(offset);
    if (!t) {
      t = parseAbbrevTable(this.section, offset);
      this.tables.set(offset, t);
    }
    return t;
  }
}

function parseAbbrevTable(section: DwarfSection, offset: number): AbbrevTable {
  if (offset >= section.size) {
    throw new DwarfError(section, offset, `abbreviation table offset 0x${offset.toString(16)} is beyond the section (size 0x${section.size.toString(16)})`);
  }
  const r = section.reader(offset);
  const table = new AbbrevTable(offset);
  const names: number[] = [];
  const forms: number[] = [];
  const implicit: number[] = [];
  for (;;) {
    const code = r.uleb('abbreviation code');
    if (code === 0) break;
    const tag = r.uleb('abbreviation tag');
    const children = r.u8('DW_CHILDREN');
    names.length = 0;
    forms.length = 0;
    implicit.length = 0;
    let sibling = -1;
    for (;;) {
      const at = r.offset;
      const name = r.uleb('attribute name');
      const form = r.uleb('attribute form');
      if (name === 0 && form === 0) break;
      if (name > 0xffff || form > 0xffff) r.fail(`attribute 0x${name.toString(16)} form 0x${form.toString(16)}: value out of range`, at - r.base);
      if (name === DW_AT_sibling) sibling = names.length;
      implicit[names.length] = form === DW_FORM_implicit_const ? r.sleb('DW_FORM_implicit_const value') : 0;
      names.push(name);
      forms.push(form);
    }
    table.add({
      code, tag, hasChildren: children !== 0, names: Uint16Array.from(names), forms: Uint16Array.from(forms),
      implicit: implicit.slice(0, names.length), sibling, layout: new Map(),
    });
  }
  return table;
}
