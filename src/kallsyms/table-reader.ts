// The reading primitives of the kernel's kallsyms tables, shared by both locators (each proves a candidate
// by decoding it) and the decoder: a section view, the kallsyms_names walk, the address and seqs_of_names decoders.
import { ObjectError } from '../errors.js';
import type { ElfHeader } from '../elf/header.js';
import { type Section, sectionBytes } from '../elf/sections.js';
import type { ByteSource } from '../io/source.js';
import { dynamicRelocationValues } from './dynamic-relocations.js';
import type { TokenTable } from './token-table.js';

/**
 * How `kallsyms_sym_address()` turns the stored words into addresses:
 * - `absolute`: `kallsyms_addresses[i]` (before CONFIG_KALLSYMS_BASE_RELATIVE);
 * - `base-relative`: `relative_base + (u32)offsets[i]`;
 * - `absolute-percpu` (CONFIG_KALLSYMS_ABSOLUTE_PERCPU, x86_64 SMP until 6.14): offsets[i] ≥ 0 is the
 *   address itself (a per-cpu offset), a negative one is `relative_base - 1 - offsets[i]`;
 * - `place-relative`: kernels without `kallsyms_relative_base`: `&offsets[i] + offsets[i]`;
 * - `u32`: the same tables on a non-relocatable 32-bit kernel: `(u32)offsets[i]`.
 */
export type AddressEncoding = 'absolute' | 'base-relative' | 'absolute-percpu' | 'place-relative' | 'u32';

/** Where one table lies: file offset, and link-time address (16 hex digits) when the section says. */
export interface TablePlace {
  readonly offset: number;
  readonly address: string | null;
}

/** KSYM_NAME_LEN since 6.1 (128 before): no compressed entry is longer, with its two length bytes. */
export const MAX_ENTRY = 512 + 2;
/** seqs_of_names stores 3-byte indexes: no kernel has more symbols. */
export const MAX_SYMS = 1 << 24;

export const MASK64 = (1n << 64n) - 1n;

export function hex(v: bigint): string {
  return (v & MASK64).toString(16).padStart(16, '0');
}

/** The object, and lazily what the decode needs of it beyond the tables' section. */
export class Context {
  private relocs: Map<bigint, bigint> | null = null;
  constructor(readonly src: ByteSource, readonly h: ElfHeader, readonly sections: readonly Section[]) {}
  get file(): string {
    return this.src.file;
  }
  get ptr(): 4 | 8 {
    return this.h.is64 ? 8 : 4;
  }
  relocations(): Map<bigint, bigint> {
    this.relocs ??= dynamicRelocationValues(this.src, this.h, this.sections);
    return this.relocs;
  }
}

/** The bytes of the section that holds the tables; positions in it map to file offsets and addresses. */
export class Region {
  readonly addr: bigint | null;
  constructor(readonly ctx: Context, readonly name: string, readonly bytes: Buffer, readonly fileOffset: number, addr: string | null) {
    this.addr = addr === null ? null : BigInt(`0x${addr}`);
  }
  static of(ctx: Context, s: Section): Region {
    return new Region(ctx, s.name, sectionBytes(ctx.src, s), s.offset, s.addr);
  }
  get size(): number {
    return this.bytes.length;
  }
  off(pos: number): number {
    return this.fileOffset + pos;
  }
  addrOf(pos: number): bigint | null {
    return this.addr === null ? null : this.addr + BigInt(pos);
  }
  place(pos: number): TablePlace {
    const a = this.addrOf(pos);
    return { offset: this.off(pos), address: a === null ? null : hex(a) };
  }
  fits(pos: number, len: number): boolean {
    return pos >= 0 && len >= 0 && pos + len <= this.bytes.length;
  }
  u16(pos: number): number {
    return this.ctx.h.little ? this.bytes.readUInt16LE(pos) : this.bytes.readUInt16BE(pos);
  }
  u32(pos: number): number {
    return this.ctx.h.little ? this.bytes.readUInt32LE(pos) : this.bytes.readUInt32BE(pos);
  }
  s32(pos: number): number {
    return this.ctx.h.little ? this.bytes.readInt32LE(pos) : this.bytes.readInt32BE(pos);
  }
  word(pos: number, width: 4 | 8): bigint {
    if (width === 4) return BigInt(this.u32(pos));
    return this.ctx.h.little ? this.bytes.readBigUInt64LE(pos) : this.bytes.readBigUInt64BE(pos);
  }
  /** A small word (a count or a marker) as a number, or -1 when it does not fit 32 bits. */
  small(pos: number, width: 4 | 8): number {
    const v = this.word(pos, width);
    return v > 0xffffffffn ? -1 : Number(v);
  }
  /** Alignment of a position as the linker saw it (the section address, not the file offset, is aligned). */
  aligned(pos: number, a: number): boolean {
    const base = this.addr === null ? 0 : Number(this.addr % BigInt(a));
    return (base + pos) % a === 0;
  }
  alignUp(pos: number, a: number): number {
    const base = this.addr === null ? 0 : Number(this.addr % BigInt(a));
    return Math.ceil((base + pos) / a) * a - base;
  }
}

/** What locating found: positions in `region`. */
export interface Found {
  readonly region: Region;
  readonly located: 'symtab' | 'shape';
  readonly numSyms: number;
  readonly numSymsAt: number;
  readonly names: NameWalk;
  readonly markersAt: number;
  readonly markerWidth: 4 | 8;
  readonly token: TokenTable;
  readonly addresses: AddressTable;
  readonly seqs: { readonly at: number; readonly width: 3 | 4; readonly order: Uint32Array } | null;
}

export interface AddressTable {
  readonly at: number;
  readonly kind: 'offsets' | 'addresses';
  readonly relativeBaseAt: number | null;
  readonly relativeBase: bigint | null;
  readonly relativeBaseFromRelocation: boolean;
  readonly encoding: AddressEncoding;
  readonly values: bigint[];
}

/* ---------------------------------------- kallsyms_names ---------------------------------------- */

export interface NameWalk {
  readonly at: number;
  /** Position of each entry's first length byte. */
  readonly starts: Uint32Array;
  readonly end: number;
  readonly uleb: boolean;
}

/**
 * Entry lengths from `at`: the walk get_symbol_offset() makes. When an entry is empty or passes `limit`, says
 * which entry and where instead.
 */
export function walkNames(r: Region, at: number, n: number, limit: number, uleb: boolean): NameWalk | { failed: number; index: number } {
  const starts = new Uint32Array(n);
  const b = r.bytes;
  let p = at;
  for (let i = 0; i < n; i++) {
    if (p >= limit) return { failed: p, index: i };
    starts[i] = p;
    let len = b[p];
    let head = 1;
    if (uleb && len & 0x80) {
      if (p + 1 >= limit) return { failed: p, index: i };
      len = (len & 0x7f) | (b[p + 1] << 7);
      head = 2;
    }
    if (len === 0 || p + head + len > limit) return { failed: p, index: i };
    p += head + len;
  }
  return { at, starts, end: p, uleb };
}

export function isWalk(w: NameWalk | { failed: number }): w is NameWalk {
  return 'starts' in w;
}

/** kallsyms_markers[k] is the offset in kallsyms_names of entry 256·k. */
export function markersAgree(r: Region, markersAt: number, width: 4 | 8, walk: NameWalk): boolean {
  const m = Math.ceil(walk.starts.length / 256);
  if (!r.fits(markersAt, m * width)) return false;
  for (let k = 0; k < m; k++) {
    if (r.small(markersAt + k * width, width) !== walk.starts[k * 256] - walk.at) return false;
  }
  return true;
}
/* ---------------------------------------- addresses ---------------------------------------- */

export function roundUp(length: number, a: number): number {
  return Math.ceil(length / a) * a;
}

function nondecreasing(values: readonly bigint[]): boolean {
  for (let i = 1; i < values.length; i++) if (values[i] < values[i - 1]) return false;
  return true;
}

/** A word that holds an address: the stored value, or on a PIE kernel the value its dynamic relocation stores. */
function addressWord(r: Region, pos: number, width: 4 | 8): { value: bigint; fromRelocation: boolean } {
  const stored = r.word(pos, width);
  const a = r.addrOf(pos);
  const reloc = a === null ? undefined : r.ctx.relocations().get(a);
  return reloc === undefined ? { value: stored, fromRelocation: false } : { value: reloc, fromRelocation: true };
}

/**
 * kallsyms_offsets with or without kallsyms_relative_base. Which encoding applies is not recorded in the
 * image (it is CONFIG_KALLSYMS_ABSOLUTE_PERCPU), but the table is sorted by address, so exactly one reading
 * gives non-decreasing addresses: base-relative u32 offsets never decrease; with absolute per-cpu the
 * negative entries (everything but per-cpu symbols) do decrease as u32 once two addresses differ.
 * `strict`: the table was named by .symtab, so no reading fitting is corruption, not a wrong guess.
 */
export function decodeOffsets(r: Region, at: number, n: number, rbAt: number | null, letters: string, strict: boolean): AddressTable | null {
  if (!r.fits(at, 4 * n) || (rbAt !== null && !r.fits(rbAt, r.ctx.ptr))) {
    if (!strict) return null;
    throw new ObjectError(r.ctx.file, r.off(at), `kallsyms_offsets: expected ${n} entries of 4 bytes${rbAt !== null ? ' and kallsyms_relative_base' : ''} inside ${r.name}`, 'truncated');
  }
  const raw = new Int32Array(n);
  for (let i = 0; i < n; i++) raw[i] = r.s32(at + 4 * i);
  const mask = r.ctx.h.is64 ? MASK64 : 0xffffffffn;
  const table = (encoding: AddressEncoding, values: bigint[], rb: { value: bigint; fromRelocation: boolean } | null): AddressTable =>
    ({ at, kind: 'offsets', relativeBaseAt: rbAt, relativeBase: rb?.value ?? null, relativeBaseFromRelocation: rb?.fromRelocation ?? false, encoding, values });
  if (rbAt !== null) {
    const rb = addressWord(r, rbAt, r.ctx.ptr);
    const relative = Array.from(raw, (o) => (rb.value + BigInt(o >>> 0)) & mask);
    const negatives = raw.some((o) => o < 0);
    const percpu = Array.from(raw, (o) => (o >= 0 ? BigInt(o) : (rb.value - 1n - BigInt(o)) & mask));
    const relativeOk = nondecreasing(relative);
    const percpuOk = negatives && nondecreasing(percpu);
    // Both fit only when every non-per-cpu entry has one address; then per-cpu symbols say which: they are 'A'.
    if (percpuOk && (!relativeOk || raw.every((o, i) => o < 0 || letters[i] === 'A'))) return table('absolute-percpu', percpu, rb);
    if (relativeOk) return table('base-relative', relative, rb);
  } else {
    const place = r.addrOf(at);
    if (place !== null) {
      const values = Array.from(raw, (o, i) => (place + BigInt(4 * i) + BigInt(o)) & mask);
      if (nondecreasing(values) && (r.ctx.h.is64 || !nondecreasing(Array.from(raw, (o) => BigInt(o >>> 0))))) return table('place-relative', values, null);
    }
    const values = Array.from(raw, (o) => BigInt(o >>> 0));
    if (!r.ctx.h.is64 && nondecreasing(values)) return table('u32', values, null);
  }
  if (!strict) return null;
  throw new ObjectError(r.ctx.file, r.off(at),
    `kallsyms_offsets: expected offsets that give addresses in table order (sorted), under ${rbAt !== null ? 'base-relative and absolute-percpu' : 'place-relative and u32'} encodings; neither does`);
}

export function decodeAddressTable(r: Region, at: number, n: number, strict: boolean): AddressTable | null {
  const ptr = r.ctx.ptr;
  if (!r.fits(at, ptr * n)) {
    if (!strict) return null;
    throw new ObjectError(r.ctx.file, r.off(at), `kallsyms_addresses: expected ${n} entries of ${ptr} bytes inside ${r.name}`, 'truncated');
  }
  const values = Array.from({ length: n }, (_, i) => addressWord(r, at + ptr * i, ptr).value);
  if (nondecreasing(values)) return { at, kind: 'addresses', relativeBaseAt: null, relativeBase: null, relativeBaseFromRelocation: false, encoding: 'absolute', values };
  if (!strict) return null;
  const bad = values.findIndex((v, i) => i > 0 && v < values[i - 1]);
  throw new ObjectError(r.ctx.file, r.off(at + ptr * bad), `kallsyms_addresses[${bad}]: expected an address not below the previous entry's 0x${hex(values[bad - 1])}, found 0x${hex(values[bad])}`);
}

/* ---------------------------------------- seqs_of_names ---------------------------------------- */

/** kallsyms_seqs_of_names: 3 bytes per entry, most significant first (4-byte words in early 6.2 candidates). Must be a permutation. */
export function readSeqs(r: Region, at: number, n: number, strict: boolean): { at: number; width: 3 | 4; order: Uint32Array } | null {
  for (const width of [3, 4] as const) {
    if (!r.fits(at, width * n)) continue;
    const order = new Uint32Array(n);
    const seen = new Uint8Array(n);
    let ok = true;
    for (let i = 0; i < n && ok; i++) {
      const p = at + width * i;
      const v = width === 3 ? (r.bytes[p] << 16) | (r.bytes[p + 1] << 8) | r.bytes[p + 2] : r.u32(p);
      if (v >= n || seen[v]) ok = false;
      else {
        seen[v] = 1;
        order[i] = v;
      }
    }
    if (ok) return { at, width, order };
  }
  if (!strict) return null;
  throw new ObjectError(r.ctx.file, r.off(at), `kallsyms_seqs_of_names: expected a permutation of 0..${n - 1} in 3-byte entries`);
}
/* ---------------------------------------- decoding ---------------------------------------- */

export function entryPayload(r: Region, walk: NameWalk, i: number): { at: number; len: number } {
  const p = walk.starts[i];
  const b0 = r.bytes[p];
  if (walk.uleb && b0 & 0x80) return { at: p + 2, len: (b0 & 0x7f) | (r.bytes[p + 1] << 7) };
  return { at: p + 1, len: b0 };
}

/** The type letter of every entry: the first character of its first token (kallsyms_get_symbol_type). */
export function lettersOf(r: Region, walk: NameWalk, token: TokenTable): string {
  const out: string[] = [];
  for (let i = 0; i < walk.starts.length; i++) out.push(token.tokens[r.bytes[entryPayload(r, walk, i).at]].charAt(0));
  return out.join('');
}
