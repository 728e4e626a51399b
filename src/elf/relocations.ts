// ELF relocations: SHT_REL/SHT_RELA tables read in place, and the absolute data relocations applied to a
// relocatable module's debug sections (all at once, or range by range) so that its DWARF holds usable addresses.
import { ObjectError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import { EM_386, EM_AARCH64, EM_PPC64, EM_S390, EM_X86_64, ET_REL, SHT_REL, SHT_RELA } from './constants.js';
import { type ElfHeader, viewOf } from './header.js';
import { type Section, sectionBytes } from './sections.js';
import type { SymbolTable } from './symbols.js';
import { partitionPoint } from '../partition-point.js';

/**
 * A SHT_REL or SHT_RELA section read in place. REL entries (i386) have no addend field: their addend is the
 * value already stored at the relocated place ("implicit addend").
 */
export class RelocationTable {
  readonly count: number;
  /** True for SHT_RELA (addend in the entry), false for SHT_REL (addend in the relocated bytes). */
  readonly explicit: boolean;
  private view: DataView;
  private entsize: number;

  constructor(readonly file: string, readonly section: Section, bytes: Buffer, private h: ElfHeader) {
    this.explicit = section.type === SHT_RELA;
    this.entsize = (h.is64 ? 8 : 4) * (this.explicit ? 3 : 2);
    this.view = viewOf(bytes);
    this.count = Math.floor(bytes.length / this.entsize);
  }

  offset(i: number): number {
    const o = i * this.entsize;
    return this.h.is64 ? this.u64(o) : this.view.getUint32(o, this.h.little);
  }
  /** ELF64: the low 32 bits of r_info; ELF32: the low 8 bits. */
  type(i: number): number {
    const o = i * this.entsize;
    if (!this.h.is64) return this.view.getUint32(o + 4, this.h.little) & 0xff;
    return this.view.getUint32(o + 8 + (this.h.little ? 0 : 4), this.h.little);
  }
  symbol(i: number): number {
    const o = i * this.entsize;
    if (!this.h.is64) return this.view.getUint32(o + 4, this.h.little) >>> 8;
    return this.view.getUint32(o + 8 + (this.h.little ? 4 : 0), this.h.little);
  }
  /** r_addend (signed); 0 for REL entries, whose addend lives in the relocated bytes. */
  addend(i: number): number {
    if (!this.explicit) return 0;
    const o = i * this.entsize;
    if (!this.h.is64) return this.view.getInt32(o + 8, this.h.little);
    const { little } = this.h;
    const hi = this.view.getInt32(o + 16 + (little ? 4 : 0), little);
    const lo = this.view.getUint32(o + 16 + (little ? 0 : 4), little);
    return hi * 0x1_0000_0000 + lo;
  }
  /** True when r_offset never decreases (what ld -r writes): entries can then be binary-searched in place. */
  isSorted(): boolean {
    const { view, entsize } = this;
    const { little, is64 } = this.h;
    if (is64 && little && view.byteOffset % 4 === 0 && new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) {
      // The common case (x86_64, arm64 objects on a little-endian host) as a plain array walk.
      const words = new Uint32Array(view.buffer, view.byteOffset, Math.floor(view.byteLength / 4));
      const stride = entsize / 4;
      const count = Math.min(this.count, Math.floor((words.length - 2) / stride) + 1);
      let prev = -1;
      for (let i = 0, w = 0; i < count; i++, w += stride) {
        const v = words[w] + words[w + 1] * 0x1_0000_0000;
        if (v < prev) return false;
        prev = v;
      }
      return true;
    }
    let prev = -1;
    for (let o = 0, i = 0; i < this.count; i++, o += entsize) {
      const v = is64
        ? view.getUint32(o + (little ? 0 : 4), little) + view.getUint32(o + (little ? 4 : 0), little) * 0x1_0000_0000
        : view.getUint32(o, little);
      if (v < prev) return false;
      prev = v;
    }
    return true;
  }

  /** File offset of entry i, for error messages. */
  entryOffset(i: number): number {
    return this.section.offset + i * this.entsize;
  }
  private u64(o: number): number {
    const { little } = this.h;
    const lo = this.view.getUint32(o + (little ? 0 : 4), little);
    const hi = this.view.getUint32(o + (little ? 4 : 0), little);
    return hi * 0x1_0000_0000 + lo;
  }
}

export function readRelocations(src: ByteSource, h: ElfHeader, s: Section): RelocationTable {
  const want = (h.is64 ? 8 : 4) * (s.type === SHT_RELA ? 3 : 2);
  if (s.entsize !== 0 && s.entsize !== want) {
    throw new ObjectError(src.file, s.headerOffset, `section ${s.index} (${s.name}): expected sh_entsize ${want}, found ${s.entsize}`);
  }
  return new RelocationTable(src.file, s, sectionBytes(src, s), h);
}

/** The SHT_REL/SHT_RELA sections that apply to `target` (sh_info names the section they relocate). */
export function relocationSectionsFor(sections: readonly Section[], target: Section): Section[] {
  return sections.filter((s) => (s.type === SHT_RELA || s.type === SHT_REL) && s.info === target.index && s.index !== target.index);
}

export interface AbsoluteRelocation {
  readonly size: 4 | 8;
  /** 32-bit relocations that must fit as a signed value (R_X86_64_32S); the others as unsigned. */
  readonly signed: boolean;
}

const ABS64: AbsoluteRelocation = { size: 8, signed: false };
const ABS32: AbsoluteRelocation = { size: 4, signed: false };
const ABS32S: AbsoluteRelocation = { size: 4, signed: true };

/**
 * The absolute data relocations debug sections use, per machine. Only these are needed for DWARF: the
 * compiler writes every address and cross-section offset as `S + A`. Returns null for R_*_NONE and
 * undefined for a type we do not apply.
 */
export function absoluteRelocation(machine: number, type: number): AbsoluteRelocation | null | undefined {
  if (type === 0) return null; // R_*_NONE on every machine below
  switch (machine) {
    case EM_X86_64:
      return type === 1 ? ABS64 : type === 10 ? ABS32 : type === 11 ? ABS32S : undefined; // R_X86_64_64, _32, _32S
    case EM_386:
      return type === 1 ? ABS32 : undefined; // R_386_32
    case EM_AARCH64:
      return type === 257 ? ABS64 : type === 258 ? ABS32 : undefined; // R_AARCH64_ABS64, _ABS32
    case EM_S390:
      return type === 22 ? ABS64 : type === 4 ? ABS32 : undefined; // R_390_64, R_390_32
    case EM_PPC64:
      return type === 38 ? ABS64 : type === 1 ? ABS32 : undefined; // R_PPC64_ADDR64, _ADDR32
    default:
      return undefined;
  }
}

/** Where addresses stored in a section point: the section of the relocation at a place. */
export interface AddressTargets {
  /** Section index of the symbol relocated at exactly `offset`, or -1 when nothing was relocated there. */
  sectionAt(offset: number): number;
}

/**
 * For each relocated place of one section, the section of the symbol its relocation named. In a relocatable
 * object every section starts at 0 (`.text` and `.text.unlikely` alike), so an address read from DWARF is
 * only meaningful together with this section index.
 */
export class RelocatedTargets implements AddressTargets {
  constructor(private offsets: Float64Array, private sections: Int32Array) {}

  static readonly EMPTY = new RelocatedTargets(new Float64Array(0), new Int32Array(0));

  get size(): number {
    return this.offsets.length;
  }

  sectionAt(offset: number): number {
    const o = this.offsets;
    const k = partitionPoint(o.length, (j) => o[j] < offset);
    return k < o.length && o[k] === offset ? this.sections[k] : -1;
  }
}

/**
 * Applies the absolute data relocations of one section on demand, range by range. A module's
 * `.rela.debug_info` is larger than the DWARF it relocates (bridge.ko: 218,000 entries), and a site lookup
 * decodes only the units holding requested symbols: relocating only those ranges is most of the saving.
 *
 * Entries are located by binary search on r_offset (ld -r keeps them sorted; otherwise they are sorted once
 * here). Each entry is applied at most once, whatever ranges overlap. Relocatable objects only: a linked
 * vmlinux may carry `.rela.debug_*` (--emit-relocs) but its DWARF already holds final addresses.
 */
export class LazyRelocator implements AddressTargets {
  /** Newly found problems; the owner drains this after each apply(). */
  readonly errors: ObjectError[] = [];
  /** The usual case, one table sorted by r_offset: entry k is that table's entry k. */
  private single: RelocationTable | null = null;
  /** Otherwise entries sorted here: their places and (table, index). */
  private offsets: Float64Array | null = null;
  private tableOf: Uint8Array | null = null;
  private indexOf: Uint32Array | null = null;
  private readonly n: number;
  private done: Uint8Array;
  private view: DataView;
  private symValues: SymbolValues;
  private reported = new Set<string>();
  private applied = 0;

  constructor(
    private file: string,
    private h: ElfHeader,
    private target: Section,
    private bytes: Buffer,
    private tables: readonly RelocationTable[],
    private symtab: SymbolTable,
    /** Section offset of bytes[0]: a unit read alone from a large section is relocated in place. */
    private base = 0,
    symValues?: SymbolValues,
    /** `bytes` hold only part of the section: places outside them are someone else's, not errors. */
    private partial = false,
  ) {
    if (tables.length > 255) throw new ObjectError(file, target.headerOffset, `${tables.length} relocation sections for one section`);
    let n = 0;
    for (const t of tables) n += t.count;
    this.n = n;
    if (tables.length === 1 && tables[0].isSorted()) this.single = tables[0];
    else {
      const offsets = new Float64Array(n);
      const tableOf = new Uint8Array(n);
      const indexOf = new Uint32Array(n);
      let k = 0;
      tables.forEach((t, ti) => {
        for (let i = 0; i < t.count; i++, k++) {
          offsets[k] = t.offset(i);
          tableOf[k] = ti;
          indexOf[k] = i;
        }
      });
      // Stable: relocations at one place stay in file order, so the last one still wins.
      const order = Array.from(offsets.keys()).sort((a, b) => offsets[a] - offsets[b] || a - b);
      this.offsets = Float64Array.from(order, (o) => offsets[o]);
      this.tableOf = Uint8Array.from(order, (o) => tableOf[o]);
      this.indexOf = Uint32Array.from(order, (o) => indexOf[o]);
    }
    this.done = new Uint8Array(n);
    this.view = viewOf(bytes);
    this.symValues = symValues ?? new SymbolValues(symtab);
  }

  get size(): number {
    return this.n;
  }

  /** First and last place of the entries (first > last when there are none). */
  get first(): number {
    return this.n === 0 ? 0 : this.offsetAt(0);
  }
  get last(): number {
    return this.n === 0 ? -1 : this.offsetAt(this.n - 1);
  }

  private offsetAt(k: number): number {
    return this.single ? this.single.offset(k) : this.offsets![k];
  }
  private tableAt(k: number): RelocationTable {
    return this.single ?? this.tables[this.tableOf![k]];
  }
  private indexAt(k: number): number {
    return this.single ? k : this.indexOf![k];
  }

  /** First entry whose place is at or after `offset`. */
  private lowerBound(offset: number): number {
    return partitionPoint(this.n, (k) => this.offsetAt(k) < offset);
  }

  /** Applies every not yet applied relocation whose place starts in [start, end). */
  apply(start: number, end: number): void {
    if (this.h.type !== ET_REL || this.applied === this.n) return;
    // A place starting up to 7 bytes before `start` still writes into the range.
    for (let k = this.lowerBound(Math.max(0, start - 7)); k < this.n; k++) {
      const at = this.offsetAt(k);
      if (at >= end) break;
      if (this.done[k]) continue;
      this.done[k] = 1;
      this.applied++;
      this.applyEntry(this.tableAt(k), this.indexAt(k), at);
    }
  }

  /**
   * The value a field of the section holds once relocated, computed for that one field: `raw` is what the
   * unrelocated bytes hold (the addend of a REL entry). Decoding a unit reads a few percent of its fields,
   * so relocating on read is far cheaper than applying every relocation of the unit.
   */
  valueAt(offset: number, raw: number): number {
    let k = this.lowerBound(offset);
    if (k >= this.n || this.offsetAt(k) !== offset) return raw;
    while (k + 1 < this.n && this.offsetAt(k + 1) === offset) k++;
    const t = this.tableAt(k);
    const i = this.indexAt(k);
    const kind = absoluteRelocation(this.h.machine, t.type(i));
    if (!kind) return raw;
    const sym = t.symbol(i);
    if (sym >= this.symtab.count) return raw;
    const value = this.symValues.value(sym) + (t.explicit ? t.addend(i) : raw);
    if (!Number.isSafeInteger(value)) return raw;
    return kind.size === 4 ? value >>> 0 : value;
  }

  sectionAt(offset: number): number {
    let k = this.lowerBound(offset);
    if (k >= this.n || this.offsetAt(k) !== offset) return -1;
    // Several relocations at one place (never from gcc): the last one is the one in effect.
    while (k + 1 < this.n && this.offsetAt(k + 1) === offset) k++;
    const t = this.tableAt(k);
    const i = this.indexAt(k);
    const kind = absoluteRelocation(this.h.machine, t.type(i));
    if (!kind) return -1;
    const sym = t.symbol(i);
    if (sym >= this.symtab.count) return -1;
    return sym === 0 ? 0 : this.symValues.section(sym);
  }

  private report(t: RelocationTable, i: number, key: string, message: string): void {
    const id = `${t.section.index}:${key}`;
    if (this.reported.has(id)) return;
    this.reported.add(id);
    this.errors.push(new ObjectError(this.file, t.entryOffset(i),
      `section ${t.section.index} (${t.section.name}) relocating ${this.target.name}: entry ${i}: ${message}`, key === 'type' ? 'unsupported' : 'format'));
  }

  private applyEntry(t: RelocationTable, i: number, at: number): void {
    const { h, view } = this;
    const type = t.type(i);
    const kind = absoluteRelocation(h.machine, type);
    if (kind === null) return;
    if (kind === undefined) {
      this.report(t, i, 'type', `relocation type ${type} is not an absolute data relocation of machine ${h.machine}; left unapplied`);
      return;
    }
    if (at < this.base || at - this.base + kind.size > this.bytes.length) {
      if (this.partial) return; // outside a partial read: applied with the range holding it
      this.report(t, i, 'offset', `r_offset 0x${at.toString(16)} + ${kind.size} is outside the ${this.bytes.length}-byte section`);
      return;
    }
    const sym = t.symbol(i);
    if (sym >= this.symtab.count) {
      this.report(t, i, 'symbol', `symbol index ${sym} is beyond the ${this.symtab.count}-entry symbol table`);
      return;
    }
    const p = at - this.base;
    let addend = t.addend(i);
    if (!t.explicit) addend = kind.size === 8 ? readU64(view, p, h.little) : view.getUint32(p, h.little);
    const value = this.symValues.value(sym) + addend;
    if (!Number.isSafeInteger(value)) {
      this.report(t, i, 'range', 'S + A does not fit in 53 bits; left unapplied');
      return;
    }
    if (kind.size === 8) writeU64(view, p, value, h.little);
    else view.setUint32(p, value >>> 0, h.little); // truncation is what the linker would warn about; DWARF offsets fit
  }
}

export interface AppliedRelocations {
  readonly targets: AddressTargets & { readonly size: number };
  readonly errors: ObjectError[];
}

/**
 * Applies all absolute data relocations of `tables` to `bytes` (the caller's private copy of `target`'s
 * contents) at once; see LazyRelocator. Linked objects are left untouched.
 */
export function applyRelocations(
  file: string,
  h: ElfHeader,
  target: Section,
  bytes: Buffer,
  tables: readonly RelocationTable[],
  symtab: SymbolTable,
): AppliedRelocations {
  if (h.type !== ET_REL) return { targets: RelocatedTargets.EMPTY, errors: [] };
  const r = new LazyRelocator(file, h, target, bytes, tables, symtab);
  r.apply(0, bytes.length);
  return { targets: r, errors: r.errors };
}

/** st_value and section of each symbol, decoded once: a module's debug sections carry ~10^5 relocations. */
export class SymbolValues {
  private values: Float64Array;
  private shndx: Int32Array;
  constructor(private t: SymbolTable) {
    this.values = new Float64Array(t.count).fill(NaN);
    this.shndx = new Int32Array(t.count).fill(-2);
  }
  value(i: number): number {
    let v = this.values[i];
    if (Number.isNaN(v)) {
      v = parseInt(this.t.valueHex(i), 16);
      this.values[i] = v;
    }
    return v;
  }
  section(i: number): number {
    let s = this.shndx[i];
    if (s === -2) {
      // SHN_ABS/SHN_COMMON stay as they are: no symbol request is ever keyed by them.
      s = this.t.shndx(i);
      this.shndx[i] = s;
    }
    return s;
  }
}

function readU64(view: DataView, at: number, little: boolean): number {
  const lo = view.getUint32(at + (little ? 0 : 4), little);
  const hi = view.getUint32(at + (little ? 4 : 0), little);
  return hi * 0x1_0000_0000 + lo;
}

/** Writes a safe integer as a 64-bit two's-complement value (negative addends do occur). */
function writeU64(view: DataView, at: number, value: number, little: boolean): void {
  if (value >= 0 && value < 0x1_0000_0000) {
    // The common case in DWARF: a section offset.
    view.setUint32(at + (little ? 0 : 4), value, little);
    view.setUint32(at + (little ? 4 : 0), 0, little);
    return;
  }
  const lo = ((value % 0x1_0000_0000) + 0x1_0000_0000) % 0x1_0000_0000;
  const hi = Math.floor(value / 0x1_0000_0000) >>> 0;
  view.setUint32(at + (little ? 0 : 4), lo, little);
  view.setUint32(at + (little ? 4 : 0), hi, little);
}
