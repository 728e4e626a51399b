import { ObjectError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import { EM_386, EM_AARCH64, EM_PPC64, EM_S390, EM_X86_64, ET_REL, SHT_REL, SHT_RELA } from './constants.js';
import { type ElfHeader, viewOf } from './header.js';
import { type Section, sectionBytes } from './sections.js';
import type { SymbolTable } from './symbols.js';

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

/**
 * For each relocated place of one section, the section of the symbol its relocation named. In a relocatable
 * object every section starts at 0 (`.text` and `.text.unlikely` alike), so an address read from DWARF is
 * only meaningful together with this section index.
 */
export class RelocatedTargets {
  constructor(private offsets: Float64Array, private sections: Int32Array) {}

  static readonly EMPTY = new RelocatedTargets(new Float64Array(0), new Int32Array(0));

  get size(): number {
    return this.offsets.length;
  }

  /** Section index of the symbol relocated at exactly `offset`, or -1 when nothing was relocated there. */
  sectionAt(offset: number): number {
    const o = this.offsets;
    let lo = 0;
    let hi = o.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = o[mid];
      if (v === offset) return this.sections[mid];
      if (v < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

export interface AppliedRelocations {
  readonly targets: RelocatedTargets;
  readonly errors: ObjectError[];
}

/**
 * Applies the absolute data relocations of `tables` to `bytes` (which must be the caller's private copy of
 * `target`'s contents) and records which section each relocated place points into.
 *
 * Only relocatable objects are relocated: a linked vmlinux may carry `.rela.debug_*` (--emit-relocs), but its
 * DWARF already holds final addresses and applying them again would double every value.
 *
 * Problems (unknown type, place outside the section, bad symbol) are collected, one error per kind and
 * table, and the remaining relocations are still applied.
 */
export function applyRelocations(
  file: string,
  h: ElfHeader,
  target: Section,
  bytes: Buffer,
  tables: readonly RelocationTable[],
  symtab: SymbolTable,
): AppliedRelocations {
  const errors: ObjectError[] = [];
  if (h.type !== ET_REL) return { targets: RelocatedTargets.EMPTY, errors };
  const view = viewOf(bytes);
  const little = h.little;
  const symValues = new SymbolValues(symtab);
  let total = 0;
  for (const t of tables) total += t.count;
  const offsets = new Float64Array(total);
  const sections = new Int32Array(total);
  let n = 0;
  let sorted = true;
  for (const t of tables) {
    const reported = new Set<string>();
    const report = (i: number, key: string, message: string) => {
      if (reported.has(key)) return;
      reported.add(key);
      errors.push(new ObjectError(file, t.entryOffset(i),
        `section ${t.section.index} (${t.section.name}) relocating ${target.name}: entry ${i}: ${message}`, key === 'type' ? 'unsupported' : 'format'));
    };
    for (let i = 0; i < t.count; i++) {
      const type = t.type(i);
      const kind = absoluteRelocation(h.machine, type);
      if (kind === null) continue;
      if (kind === undefined) {
        report(i, 'type', `relocation type ${type} is not an absolute data relocation of machine ${h.machine}; left unapplied`);
        continue;
      }
      const at = t.offset(i);
      if (at + kind.size > bytes.length) {
        report(i, 'offset', `r_offset 0x${at.toString(16)} + ${kind.size} is outside the ${bytes.length}-byte section`);
        continue;
      }
      const sym = t.symbol(i);
      if (sym >= symtab.count) {
        report(i, 'symbol', `symbol index ${sym} is beyond the ${symtab.count}-entry symbol table`);
        continue;
      }
      let addend = t.addend(i);
      if (!t.explicit) addend = kind.size === 8 ? readU64(view, at, little) : view.getUint32(at, little);
      const value = symValues.value(sym) + addend;
      if (!Number.isSafeInteger(value)) {
        report(i, 'range', `S + A does not fit in 53 bits; left unapplied`);
        continue;
      }
      if (kind.size === 8) writeU64(view, at, value, little);
      else view.setUint32(at, value >>> 0, little); // truncation is what the linker would warn about; DWARF offsets fit
      const shndx = sym === 0 ? 0 : symValues.section(sym);
      offsets[n] = at;
      sections[n] = shndx;
      if (n > 0 && offsets[n - 1] >= at) sorted = false;
      n++;
    }
  }
  return { targets: makeTargets(offsets.subarray(0, n), sections.subarray(0, n), sorted), errors };
}

function makeTargets(offsets: Float64Array, sections: Int32Array, sorted: boolean): RelocatedTargets {
  if (sorted) return new RelocatedTargets(offsets.slice(), sections.slice());
  // ld -r keeps each input's relocations in order, so this is rare; stable order keeps the last writer last.
  const order = Array.from(offsets.keys()).sort((a, b) => offsets[a] - offsets[b] || a - b);
  const o = new Float64Array(order.length);
  const s = new Int32Array(order.length);
  let m = 0;
  for (const k of order) {
    if (m > 0 && o[m - 1] === offsets[k]) m--; // two relocations at one place: the later one wins, as applied
    o[m] = offsets[k];
    s[m] = sections[k];
    m++;
  }
  return new RelocatedTargets(o.slice(0, m), s.slice(0, m));
}

/** st_value and section of each symbol, decoded once: a module's debug sections carry ~10^5 relocations. */
class SymbolValues {
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
  const lo = ((value % 0x1_0000_0000) + 0x1_0000_0000) % 0x1_0000_0000;
  const hi = Math.floor(value / 0x1_0000_0000) >>> 0;
  view.setUint32(at + (little ? 0 : 4), lo, little);
  view.setUint32(at + (little ? 4 : 0), hi, little);
}
