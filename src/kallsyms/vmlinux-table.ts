import { ObjectError } from '../errors.js';
import { SHF_ALLOC, SHF_EXECINSTR, SHN_UNDEF, SHT_NOBITS, STT_FILE, STT_SECTION } from '../elf/constants.js';
import type { ElfHeader } from '../elf/header.js';
import { type Section, sectionBytes } from '../elf/sections.js';
import type { SymbolTable } from '../elf/symbols.js';
import type { ByteSource } from '../io/source.js';
import { dynamicRelocationValues } from './dynamic-relocations.js';
import { type TokenTable, expandName, findTokenTables, readTokenTable } from './token-table.js';
import { tableSympos } from '../alias/sympos.js';

/**
 * The kernel's own kallsyms tables in a vmlinux (scripts/kallsyms.c writes them, kernel/kallsyms.c reads
 * them): decoding them gives exactly the symbols, letters and order /proc/kallsyms shows for vmlinux,
 * whatever filter rules that kernel version's scripts/kallsyms applied.
 *
 * Table layouts this reads (ALGN is 8 on 64-bit, 4 on 32-bit; the newest kernels use 4 everywhere):
 *   ≤ 6.3: [offsets|addresses] [relative_base] num_syms names markers [seqs_of_names] token_table token_index
 *   ≥ 6.4: num_syms names markers token_table token_index [offsets|addresses] [relative_base] seqs_of_names
 * Older kernels write num_syms and markers as pointer-sized words; 6.1 added the two-byte name length;
 * 6.2 added seqs_of_names (3 bytes an entry, most significant first, whatever the byte order).
 */
export interface KallsymsEntry {
  name: string;
  letter: string;
  /** 16 hex digits. */
  address: string;
}

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
export interface TableSite {
  readonly offset: number;
  readonly address: string | null;
}

export interface KallsymsTables {
  /** Found through `.symtab` names, or by the token table's shape (an image without `.symtab`). */
  readonly located: 'symtab' | 'shape';
  readonly section: string;
  readonly numSyms: TableSite;
  readonly names: TableSite;
  /** 'uleb128': one byte, or two when the first has bit 7 set (6.1+); 'byte': always one. */
  readonly nameLength: 'uleb128' | 'byte';
  readonly markers: TableSite & { readonly width: 4 | 8 };
  readonly tokenTable: TableSite;
  readonly tokenIndex: TableSite;
  /** `kallsyms_offsets` or `kallsyms_addresses`. */
  readonly addresses: TableSite;
  readonly relativeBase: (TableSite & { readonly value: string; readonly fromRelocation: boolean }) | null;
  readonly seqsOfNames: (TableSite & { readonly width: 3 | 4 }) | null;
}

export interface VmlinuxKallsyms {
  /** In table order, which is address order and the order /proc/kallsyms lists vmlinux. */
  readonly entries: KallsymsEntry[];
  /** `kallsyms_seqs_of_names` as stored: entry indexes sorted by name, then address, then table order. Null before 6.2. */
  readonly seqsOfNames: Uint32Array | null;
  /** For each entry, its position in `seqsOfNames` (the inverse permutation); null when the table is absent. */
  readonly namePosition: Uint32Array | null;
  /**
   * For each entry, its livepatch sympos: the rank (1-based) among the entries of the same name in the walk
   * klp_find_object_symbol makes for vmlinux (`seqsOfNames` order when present, else table order); 0 when
   * the name is unique.
   */
  readonly sympos: Uint32Array;
  readonly encoding: AddressEncoding;
  readonly tables: KallsymsTables;
}

/** KSYM_NAME_LEN since 6.1 (128 before): no compressed entry is longer, with its two length bytes. */
const MAX_ENTRY = 512 + 2;
/** seqs_of_names stores 3-byte indexes: no kernel has more symbols. */
const MAX_SYMS = 1 << 24;

/**
 * Decodes the kallsyms tables of a vmlinux. `symtab` locates them by name; without it (a vmlinux extracted
 * from a vmlinuz), or when it names none of them, they are found by shape. Null when the image has no tables (no CONFIG_KALLSYMS);
 * throws ObjectError, with the file offset of the offending table entry, when they are corrupt.
 */
export function decodeVmlinuxKallsyms(src: ByteSource, h: ElfHeader, sections: readonly Section[],
  symtab: SymbolTable | null): VmlinuxKallsyms | null {
  const ctx = new Context(src, h, sections);
  // A .symtab that does not name the tables (a partial or rewritten one) still gets the shape search.
  const found = (symtab ? locateBySymtab(ctx, symtab) : null) ?? locateByShape(ctx);
  return found ? decode(ctx, found) : null;
}

/* ------------------------------------------------------------------------------------------------ */

const MASK64 = (1n << 64n) - 1n;

function hex(v: bigint): string {
  return (v & MASK64).toString(16).padStart(16, '0');
}

/** The object, and lazily what the decode needs of it beyond the tables' section. */
class Context {
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
class Region {
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
  site(pos: number): TableSite {
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
interface Found {
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

interface AddressTable {
  readonly at: number;
  readonly kind: 'offsets' | 'addresses';
  readonly relativeBaseAt: number | null;
  readonly relativeBase: bigint | null;
  readonly relativeBaseFromRelocation: boolean;
  readonly encoding: AddressEncoding;
  readonly values: bigint[];
}

/* ---------------------------------------- kallsyms_names ---------------------------------------- */

interface NameWalk {
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
function walkNames(r: Region, at: number, n: number, limit: number, uleb: boolean): NameWalk | { failed: number; index: number } {
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

function isWalk(w: NameWalk | { failed: number }): w is NameWalk {
  return 'starts' in w;
}

/** kallsyms_markers[k] is the offset in kallsyms_names of entry 256·k. */
function markersAgree(r: Region, markersAt: number, width: 4 | 8, walk: NameWalk): boolean {
  const m = Math.ceil(walk.starts.length / 256);
  if (!r.fits(markersAt, m * width)) return false;
  for (let k = 0; k < m; k++) {
    if (r.small(markersAt + k * width, width) !== walk.starts[k * 256] - walk.at) return false;
  }
  return true;
}

/* ---------------------------------------- locating by .symtab ---------------------------------------- */

const TABLE_NAMES = ['kallsyms_num_syms', 'kallsyms_names', 'kallsyms_markers', 'kallsyms_token_table', 'kallsyms_token_index',
  'kallsyms_offsets', 'kallsyms_addresses', 'kallsyms_relative_base', 'kallsyms_seqs_of_names'] as const;
type TableName = (typeof TABLE_NAMES)[number];
const PREFIX = Buffer.from('kallsyms_', 'latin1');

/** The defined `kallsyms_*` table symbols, by name (the first definition wins). */
function tableSymbols(t: SymbolTable): Map<TableName, bigint> {
  const out = new Map<TableName, bigint>();
  const wanted = new Set<string>(TABLE_NAMES);
  const strings = t.names.bytes;
  for (let i = 1; i < t.count; i++) {
    const off = t.nameOffset(i);
    // Compare the prefix in place: decoding 150,000 names to find nine is wasteful.
    if (off + PREFIX.length > strings.length || strings.compare(PREFIX, 0, PREFIX.length, off, off + PREFIX.length) !== 0) continue;
    if (t.rawShndx(i) === SHN_UNDEF) continue;
    const name = t.name(i);
    if (wanted.has(name) && !out.has(name as TableName)) out.set(name as TableName, BigInt(`0x${t.valueHex(i)}`));
  }
  return out;
}

function locateBySymtab(ctx: Context, t: SymbolTable): Found | null {
  const syms = tableSymbols(t);
  if (!syms.has('kallsyms_names') && !syms.has('kallsyms_num_syms') && !syms.has('kallsyms_token_table')) return null;
  const need = (name: TableName): bigint => {
    const v = syms.get(name);
    if (v === undefined) {
      throw new ObjectError(ctx.file, t.section.offset,
        `.symtab: expected a defined symbol ${name} next to kallsyms_names (the kallsyms tables are incomplete)`);
    }
    return v;
  };
  const namesAddr = need('kallsyms_names');
  const section = ctx.sections.find((s) => s.type !== SHT_NOBITS && (s.flags & SHF_ALLOC) !== 0 && s.size > 0
    && BigInt(`0x${s.addr}`) <= namesAddr && namesAddr < BigInt(`0x${s.addr}`) + BigInt(s.size));
  if (!section) {
    throw new ObjectError(ctx.file, t.section.offset, `kallsyms_names at 0x${hex(namesAddr)}: expected it inside an allocated section with contents`);
  }
  const r = Region.of(ctx, section);
  const pos = (name: TableName, v = need(name)): number => {
    const p = v - r.addr!;
    if (p < 0n || p >= BigInt(r.size)) {
      throw new ObjectError(ctx.file, section.headerOffset,
        `${name} at 0x${hex(v)}: expected it in ${section.name} with kallsyms_names (0x${section.addr}, 0x${section.size.toString(16)} bytes)`);
    }
    return Number(p);
  };
  const numSymsAt = pos('kallsyms_num_syms');
  const namesAt = pos('kallsyms_names');
  const markersAt = pos('kallsyms_markers');
  const tableAt = pos('kallsyms_token_table');
  const indexAt = pos('kallsyms_token_index');
  if (!r.fits(numSymsAt, 4)) throw new ObjectError(ctx.file, r.off(numSymsAt), 'kallsyms_num_syms: expected a 4-byte count', 'truncated');
  let numSyms = r.u32(numSymsAt);
  // Before 6.1 the count was a pointer-sized word: big-endian 64-bit kernels keep it in the second half.
  if (numSyms === 0 && ctx.h.is64 && !ctx.h.little && namesAt - numSymsAt >= 8) numSyms = r.u32(numSymsAt + 4);
  if (numSyms > MAX_SYMS) {
    throw new ObjectError(ctx.file, r.off(numSymsAt), `kallsyms_num_syms: expected at most ${MAX_SYMS} symbols, found ${numSyms}`);
  }
  const limit = markersAt > namesAt ? markersAt : r.size;
  const names = walkSymtabNames(r, namesAt, numSyms, limit, markersAt);
  const markerWidth = ([4, 8] as const).find((w) => (w === 4 || ctx.h.is64) && markersAgree(r, markersAt, w, names));
  if (!markerWidth) {
    throw new ObjectError(ctx.file, r.off(markersAt),
      `kallsyms_markers: expected the kallsyms_names offset of every 256th entry (0, 0x${(names.starts[Math.min(256, numSyms - 1)] - namesAt).toString(16)}, …)`);
  }
  const token = readTokenTable(ctx.file, r.bytes, tableAt, indexAt, ctx.h.little, r.fileOffset);
  const offsetsAt = syms.has('kallsyms_offsets') ? pos('kallsyms_offsets') : null;
  const addressesAt = offsetsAt === null && syms.has('kallsyms_addresses') ? pos('kallsyms_addresses') : null;
  if (offsetsAt === null && addressesAt === null) need('kallsyms_offsets');
  const rbAt = syms.has('kallsyms_relative_base') ? pos('kallsyms_relative_base') : null;
  const letters = lettersOf(r, names, token);
  const addresses = offsetsAt !== null
    ? decodeOffsets(r, offsetsAt, numSyms, rbAt, letters, true)!
    : decodeAddressTable(r, addressesAt!, numSyms, true)!;
  const seqs = syms.has('kallsyms_seqs_of_names') ? readSeqs(r, pos('kallsyms_seqs_of_names'), numSyms, true) : null;
  return { region: r, located: 'symtab', numSyms, numSymsAt, names, markersAt, markerWidth, token, addresses, seqs };
}

/**
 * Names with the two-byte length form (6.1+), or with one-byte lengths when only that reading agrees with
 * the markers (older kernels with a name byte ≥ 0x80). When neither agrees the walk that fits is returned and
 * the caller reports the markers.
 */
function walkSymtabNames(r: Region, at: number, n: number, limit: number, markersAt: number): NameWalk {
  const agree = (w: NameWalk) => markersAgree(r, markersAt, 4, w) || (r.ctx.h.is64 && markersAgree(r, markersAt, 8, w));
  const uleb = walkNames(r, at, n, limit, true);
  if (isWalk(uleb) && agree(uleb)) return uleb;
  const byte = walkNames(r, at, n, limit, false);
  if (isWalk(byte) && agree(byte)) return byte;
  if (isWalk(uleb)) return uleb;
  if (isWalk(byte)) return byte;
  throw new ObjectError(r.ctx.file, r.off(uleb.failed),
    `kallsyms_names entry ${uleb.index} of ${n}: expected a non-zero length whose bytes end before 0x${r.off(limit).toString(16)}`);
}

/* ---------------------------------------- locating by shape ---------------------------------------- */

/**
 * Without `.symtab`: find the token table (digits tokens + index), then the markers that end just before it
 * (or before seqs_of_names, in 6.2–6.3 layouts), then the count and names before them, checked against every
 * marker; then the address table after the token index (6.4+) or before the count (older).
 */
function locateByShape(ctx: Context): Found | null {
  const rodata = ctx.sections.filter((s) => s.name === '.rodata' && s.type !== SHT_NOBITS);
  const others = ctx.sections.filter((s) => s.name !== '.rodata' && s.type !== SHT_NOBITS && (s.flags & SHF_ALLOC) !== 0
    && (s.flags & SHF_EXECINSTR) === 0 && s.size > 0);
  const regions: Array<() => Region> = [...rodata, ...others].map((s) => () => Region.of(ctx, s));
  if (ctx.sections.length === 0) regions.push(() => new Region(ctx, '(image)', ctx.src.read(0, ctx.src.size, 'image'), 0, null));
  for (const make of regions) {
    const r = make();
    for (const token of findTokenTables(ctx.file, r.bytes, 0, r.size, ctx.h.little)) {
      const found = aroundTokenTable(r, token);
      if (found) return found;
    }
  }
  return null;
}

interface MarkersGuess {
  readonly at: number;
  readonly count: number;
  readonly width: 4 | 8;
  /** Set when seqs_of_names lies between the markers and the token table: its position and the count it implies. */
  readonly seqsAt: number | null;
  readonly numSyms: number | null;
}

function aroundTokenTable(r: Region, token: TokenTable): Found | null {
  for (const guess of markerGuesses(r, token.tableAt)) {
    const names = namesBefore(r, guess);
    if (!names) continue;
    const found = tablesAround(r, token, guess, names);
    if (found) return found;
  }
  return null;
}

/** Markers are 0, then strictly increasing by at least 256 entries' worth of bytes. */
function markersPlausible(r: Region, at: number, count: number, width: 4 | 8): boolean {
  if (!r.fits(at, count * width) || r.small(at, width) !== 0) return false;
  let prev = 0;
  for (let k = 1; k < count; k++) {
    const v = r.small(at + k * width, width);
    if (v < prev + 2 * 256 || v > prev + MAX_ENTRY * 256) return false;
    prev = v;
  }
  return true;
}

function* markerGuesses(r: Region, tableAt: number): Generator<MarkersGuess> {
  const widths: Array<4 | 8> = r.ctx.h.is64 ? [4, 8] : [4];
  // Markers right before the token table, up to 7 bytes of alignment between.
  for (const width of widths) {
    for (let end = tableAt; end > tableAt - 8 && end >= width; end--) {
      if (!r.aligned(end, 4)) continue;
      let prev = Infinity;
      for (let p = end - width, count = 1; p >= 0 && count <= MAX_SYMS / 256; p -= width, count++) {
        const v = r.small(p, width);
        if (v < 0 || v >= prev) break;
        if (v === 0) {
          if (markersPlausible(r, p, count, width)) yield { at: p, count, width, seqsAt: null, numSyms: null };
          break;
        }
        prev = v;
      }
    }
  }
  // 6.2–6.3 (and 6.1 with the backport): markers, then seqs_of_names (3 bytes a symbol), then the token table.
  for (const align of [8, 4]) {
    if (!r.aligned(tableAt, align)) continue;
    for (let n = 1; 3 * n < tableAt && n < MAX_SYMS; n++) {
      // Every label is aligned, so each table starts its size (rounded up) before the next one.
      const seqsAt = tableAt - roundUp(3 * n, align);
      const count = Math.ceil(n / 256);
      const at = seqsAt - roundUp(4 * count, align);
      if (at < 0 || r.small(at, 4) !== 0) continue;
      if (count > 1 && r.small(at + 4, 4) < 512) continue;
      if (markersPlausible(r, at, count, 4)) yield { at, count, width: 4, seqsAt, numSyms: n };
    }
  }
}

/** kallsyms_num_syms and kallsyms_names before the markers: the count must agree with them and every marker. */
function namesBefore(r: Region, g: MarkersGuess): { numSyms: number; numSymsAt: number; walk: NameWalk } | null {
  const last = r.small(g.at + (g.count - 1) * g.width, g.width);
  const hi = g.at - last - 4;
  const lo = Math.max(0, hi - 256 * MAX_ENTRY - 16);
  const widths: Array<4 | 8> = r.ctx.h.is64 ? [4, 8] : [4];
  for (let p = hi - (hi % 4); p >= lo; p -= 4) {
    if (!r.aligned(p, 4)) continue;
    for (const width of widths) {
      if (!r.fits(p, width)) continue;
      const n = r.small(p, width);
      if (n <= 256 * (g.count - 1) || n > 256 * g.count || (g.numSyms !== null && n !== g.numSyms)) continue;
      for (const namesAt of width === 8 ? [p + 8] : [p + 4, p + 8]) {
        for (const uleb of [true, false]) {
          const w = walkNames(r, namesAt, n, g.at, uleb);
          if (!isWalk(w) || g.at - w.end >= 8 || !markersAgree(r, g.at, g.width, w)) continue;
          // A pointer-sized count on a big-endian 64-bit kernel: the u32 that matched is its second half.
          const wideBigEndian = width === 4 && r.ctx.h.is64 && !r.ctx.h.little && p >= 4 && !r.aligned(p, 8) && r.u32(p - 4) === 0;
          return { numSyms: n, numSymsAt: wideBigEndian ? p - 4 : p, walk: w };
        }
      }
    }
  }
  return null;
}

function tablesAround(r: Region, token: TokenTable, g: MarkersGuess, names: { numSyms: number; numSymsAt: number; walk: NameWalk }): Found | null {
  const n = names.numSyms;
  const ptr = r.ctx.ptr;
  const letters = lettersOf(r, names.walk, token);
  const base = { region: r, located: 'shape' as const, numSyms: n, numSymsAt: names.numSymsAt, names: names.walk,
    markersAt: g.at, markerWidth: g.width, token };
  if (g.seqsAt !== null) {
    // 6.2–6.3 order: the address table is before the count.
    const seqs = readSeqs(r, g.seqsAt, n, false);
    const addresses = seqs && addressesBeforeCount(r, names.numSymsAt, n, letters);
    return seqs && addresses ? { ...base, addresses, seqs } : null;
  }
  // 6.4+: after the token index come the address table, relative_base when there is one, and seqs_of_names.
  const afterIndex = token.indexAt + 512;
  for (const align of [ptr, 4]) {
    const at = r.alignUp(afterIndex, align);
    const shapes: Array<{ seqsAt: number; read: () => AddressTable | null }> = [
      { seqsAt: r.alignUp(r.alignUp(at + 4 * n, ptr) + ptr, align), read: () => decodeOffsets(r, at, n, r.alignUp(at + 4 * n, ptr), letters, false) },
      { seqsAt: r.alignUp(at + 4 * n, 4), read: () => decodeOffsets(r, at, n, null, letters, false) },
      { seqsAt: at + ptr * n, read: () => decodeAddressTable(r, at, n, false) },
    ];
    for (const shape of shapes) {
      const seqs = readSeqs(r, shape.seqsAt, n, false);
      if (!seqs) continue;
      const addresses = shape.read();
      if (addresses) return { ...base, addresses, seqs };
    }
  }
  // ≤ 6.1 order without seqs_of_names: the address table is before the count.
  const addresses = addressesBeforeCount(r, names.numSymsAt, n, letters);
  return addresses ? { ...base, addresses, seqs: null } : null;
}

/** [offsets][relative_base] or [addresses] right before kallsyms_num_syms (kernels before 6.4). */
function addressesBeforeCount(r: Region, numSymsAt: number, n: number, letters: string): AddressTable | null {
  const ptr = r.ctx.ptr;
  const rbAt = numSymsAt - ptr;
  const offsetsAt = rbAt - roundUp(4 * n, ptr);
  if (offsetsAt >= 0) {
    const t = decodeOffsets(r, offsetsAt, n, rbAt, letters, false);
    if (t) return t;
  }
  const addressesAt = numSymsAt - ptr * n;
  return addressesAt >= 0 ? decodeAddressTable(r, addressesAt, n, false) : null;
}

/* ---------------------------------------- addresses ---------------------------------------- */

function roundUp(length: number, a: number): number {
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
function decodeOffsets(r: Region, at: number, n: number, rbAt: number | null, letters: string, strict: boolean): AddressTable | null {
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

function decodeAddressTable(r: Region, at: number, n: number, strict: boolean): AddressTable | null {
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
function readSeqs(r: Region, at: number, n: number, strict: boolean): { at: number; width: 3 | 4; order: Uint32Array } | null {
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

function entryPayload(r: Region, walk: NameWalk, i: number): { at: number; len: number } {
  const p = walk.starts[i];
  const b0 = r.bytes[p];
  if (walk.uleb && b0 & 0x80) return { at: p + 2, len: (b0 & 0x7f) | (r.bytes[p + 1] << 7) };
  return { at: p + 1, len: b0 };
}

/** The type letter of every entry: the first character of its first token (kallsyms_get_symbol_type). */
function lettersOf(r: Region, walk: NameWalk, token: TokenTable): string {
  const out: string[] = [];
  for (let i = 0; i < walk.starts.length; i++) out.push(token.tokens[r.bytes[entryPayload(r, walk, i).at]].charAt(0));
  return out.join('');
}

function decode(ctx: Context, f: Found): VmlinuxKallsyms {
  const r = f.region;
  const n = f.numSyms;
  const entries: KallsymsEntry[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const { at, len } = entryPayload(r, f.names, i);
    const full = expandName(r.bytes, at, len, f.token.tokens);
    if (full.length < 2) {
      throw new ObjectError(ctx.file, r.off(f.names.starts[i]), `kallsyms_names entry ${i}: expected a type letter and a name, the tokens expand to ${JSON.stringify(full)}`);
    }
    entries[i] = { name: full.slice(1), letter: full.charAt(0), address: hex(f.addresses.values[i]) };
  }
  const seqsOfNames = f.seqs?.order ?? null;
  let namePosition: Uint32Array | null = null;
  if (seqsOfNames) {
    namePosition = new Uint32Array(n);
    seqsOfNames.forEach((entry, pos) => { namePosition![entry] = pos; });
  }
  const a = f.addresses;
  return {
    entries,
    seqsOfNames,
    namePosition,
    sympos: tableSympos(entries.map((e) => e.name), seqsOfNames),
    encoding: a.encoding,
    tables: {
      located: f.located,
      section: r.name,
      numSyms: r.site(f.numSymsAt),
      names: r.site(f.names.at),
      nameLength: f.names.uleb ? 'uleb128' : 'byte',
      markers: { ...r.site(f.markersAt), width: f.markerWidth },
      tokenTable: r.site(f.token.tableAt),
      tokenIndex: r.site(f.token.indexAt),
      addresses: r.site(a.at),
      relativeBase: a.relativeBaseAt === null ? null
        : { ...r.site(a.relativeBaseAt), value: hex(a.relativeBase!), fromRelocation: a.relativeBaseFromRelocation },
      seqsOfNames: f.seqs ? { ...r.site(f.seqs.at), width: f.seqs.width } : null,
    },
  };
}

/* ---------------------------------------- matching .symtab ---------------------------------------- */

export interface SymtabMatch {
  /** For each entry, the `.symtab` index of the symbol with the same name and value, or -1. */
  readonly symbolIndex: Int32Array;
  /** Entries with no `.symtab` twin, in table order. */
  readonly unmatched: number[];
}

/**
 * Pairs every decoded entry with its `.symtab` symbol by (name, address), so that what is known per symbol
 * (DWARF sites, section, size) applies to the kallsyms view. Two entries with the same name and address take
 * distinct symbols, in `.symtab` order.
 */
export function matchSymtab(entries: readonly KallsymsEntry[], t: SymbolTable): SymtabMatch {
  const wanted = new Set<string>();
  for (const e of entries) wanted.add(e.name);
  // The defined symbols of each listed name, in .symtab order; nearly every name has one.
  const candidates = new Map<string, number[]>();
  for (let i = 1; i < t.count; i++) {
    const type = t.type(i);
    if (type === STT_SECTION || type === STT_FILE || t.rawShndx(i) === SHN_UNDEF) continue;
    let name: string;
    try {
      name = t.name(i);
    } catch (e) {
      if (e instanceof ObjectError) continue; // an unreadable name cannot be anyone's twin; the scan reports it
      throw e;
    }
    if (!wanted.has(name)) continue;
    const list = candidates.get(name);
    if (list) list.push(i);
    else candidates.set(name, [i]);
  }
  const symbolIndex = new Int32Array(entries.length).fill(-1);
  const unmatched: number[] = [];
  entries.forEach((e, k) => {
    // The first symbol of that name and address not yet taken by an earlier entry.
    const list = candidates.get(e.name);
    const at = list ? list.findIndex((i) => i >= 0 && t.valueHex(i) === e.address) : -1;
    if (at < 0) {
      unmatched.push(k);
      return;
    }
    symbolIndex[k] = list![at];
    list![at] = -1;
  });
  return { symbolIndex, unmatched };
}
