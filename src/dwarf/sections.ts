// Where DWARF bytes come from: each debug section of an ELF object, decompressed, relocated (ET_REL) and held in
// memory or read by ranges from disk, behind one DwarfSection interface; DwarfFile opens them by name, lazily.
// Over 400 lines because it holds every storage path (memory, pread ranges, pread with on-disk relocations,
// paged strings) beside DwarfFile's open(), the one place that chooses among them.
import { closeSync, openSync } from 'node:fs';
import { debugSectionName, isCompressedSection, sectionContents } from '../elf/compressed.js';
import { ET_REL, SHT_NOBITS, SHT_RELA } from '../elf/constants.js';
import { ObjectError } from '../errors.js';
import type { ElfHeader } from '../elf/header.js';
import { type AddressTargets, LazyRelocator, RelocatedTargets, RelocationTable, relocationSectionsFor, SymbolValues } from '../elf/relocations.js';
import type { Section } from '../elf/sections.js';
import type { SymbolTable } from '../elf/symbols.js';
import { type ByteSource, BufferSource, preadFully } from '../io/source.js';
import { sectionBuffers } from './buffers.js';
import { DwarfError, DwarfReader, stringAt } from './reader.js';
import { checkRange, type DwarfSection, type DwarfSections } from './section.js';
import { partitionPoint } from '../partition-point.js';

/** Sections whose relocatable fields are all decoded through DieCursor / parseUnitHeader, which call fix(). */
const BY_FIELD = new Set(['.debug_info', '.debug_types']);

/** Sections that are only ever read unit by unit (length-prefixed), so a huge vmlinux need not load them whole. */
const RANGED = new Set(['.debug_info', '.debug_line', '.debug_types', '.debug_loclists', '.debug_loc']);

class MemorySection implements DwarfSection {
  readonly size: number;
  readonly relocatable: boolean;
  readonly inMemory = true;
  constructor(
    readonly file: string,
    readonly name: string,
    readonly index: number,
    readonly fileOffset: number | null,
    readonly little: boolean,
    private bytes: Buffer,
    private targets: AddressTargets | null,
    /** Relocations applied as ranges are read (relocatable objects), with a sink for their problems. */
    private relocator: { r: LazyRelocator; onError: (e: ObjectError) => void } | null = null,
    /** Relocations applied field by field as values are decoded (see DwarfSection.fix). */
    private fields: LazyRelocator | null = null,
  ) {
    this.size = bytes.length;
    this.relocatable = targets !== null;
  }
  fix(offset: number, raw: number): number {
    return this.fields ? this.fields.valueAt(offset, raw) : raw;
  }
  fixAddress(offset: number, raw: bigint): bigint {
    if (!this.fields || raw > 0xffff_ffffn) return raw;
    return BigInt(this.fields.valueAt(offset, Number(raw)));
  }
  private relocate(start: number, end: number): void {
    const rl = this.relocator;
    if (!rl) return;
    rl.r.apply(start, end);
    if (rl.r.errors.length) for (const e of rl.r.errors.splice(0)) rl.onError(e);
  }
  read(offset: number, length: number, what: string): Buffer {
    checkRange(this, offset, length, what);
    this.relocate(offset, offset + length);
    return this.bytes.subarray(offset, offset + length);
  }
  contents(): Buffer {
    this.relocate(0, this.size);
    return this.bytes;
  }
  cstring(offset: number, what: string): string {
    return stringAt(this.bytes, offset, this, what);
  }
  targetAt(offset: number): number {
    return this.targets ? this.targets.sectionAt(offset) : 0;
  }
  reader(offset: number, length = this.size - offset): DwarfReader {
    const buf = this.read(offset, length, 'section range');
    return new DwarfReader(buf, this.little, this, offset);
  }
}

/** A plain (uncompressed, never relocated) section of an on-disk object: each read is a pread. */
class FileRangeSection implements DwarfSection {
  readonly fileOffset: number;
  readonly inMemory = false;
  private whole: Buffer | null = null;
  private fd: number | null = null;
  constructor(
    readonly file: string,
    readonly name: string,
    readonly index: number,
    readonly little: boolean,
    private src: ByteSource,
    private s: Section,
    /** A section of a relocatable object that has no relocations (its strings, say). */
    readonly relocatable = false,
  ) {
    this.fileOffset = s.offset;
  }
  get size(): number {
    return this.s.size;
  }
  read(offset: number, length: number, what: string): Buffer {
    checkRange(this, offset, length, what);
    if (this.whole) return this.whole.subarray(offset, offset + length);
    return this.src.read(this.s.offset + offset, length, `${this.name} ${what}`);
  }
  contents(): Buffer {
    this.whole ??= this.src.read(this.s.offset, this.s.size, `contents of ${this.name}`);
    return this.whole;
  }
  cstring(offset: number, what: string): string {
    if (this.whole) return stringAt(this.whole, offset, this, what);
    this.pages ??= new StringPages(this, (at, len) => this.read(at, len, what));
    return this.pages.get(offset, what);
  }
  private pages: StringPages | null = null;
  targetAt(): number {
    return this.relocatable ? -1 : 0;
  }
  fix(_offset: number, raw: number): number {
    return raw;
  }
  fixAddress(_offset: number, raw: bigint): bigint {
    return raw;
  }
  reader(offset: number, length = this.size - offset): DwarfReader {
    return new DwarfReader(this.read(offset, length, 'section range'), this.little, this, offset);
  }
  readInto(offset: number, target: Buffer, what: string): void {
    const length = target.length;
    checkRange(this, offset, length, what);
    if (this.whole) {
      this.whole.copy(target, 0, offset, offset + length);
      return;
    }
    // ByteSource.read always returns a new buffer; pread into the caller's buffer needs our own descriptor.
    this.fd ??= openSync(this.src.file, 'r');
    const got = preadFully(this.fd, target, this.s.offset + offset);
    if (got < length) throw new DwarfError(this, offset + got, `${what}: the file ended while reading`, 'io');
  }
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * Strings of a large string section read page by page (amdgpu.ko's .debug_str is 72 MB; a lookup needs a
 * few thousand names from it). Pages are cached, the most recently used kept.
 */
class StringPages {
  private pages = new Map<number, Buffer>();
  constructor(private section: DwarfSection, private read: (offset: number, length: number) => Buffer) {}

  get(offset: number, what: string): string {
    const size = this.section.size;
    if (offset < 0 || offset >= size) throw new DwarfError(this.section, offset, `${what}: expected an offset below 0x${size.toString(16)}`);
    let start = offset;
    const parts: Buffer[] = [];
    for (;;) {
      const page = Math.floor(start / PAGE);
      const b = this.page(page);
      const from = start - page * PAGE;
      const z = b.indexOf(0, from);
      if (z >= 0) {
        parts.push(b.subarray(from, z));
        break;
      }
      parts.push(b.subarray(from));
      start = (page + 1) * PAGE;
      if (start >= size) throw new DwarfError(this.section, offset, `${what}: expected a NUL-terminated string`, 'truncated');
    }
    return (parts.length === 1 ? parts[0] : Buffer.concat(parts)).toString('latin1');
  }

  private page(n: number): Buffer {
    let b = this.pages.get(n);
    if (b) {
      this.pages.delete(n);
      this.pages.set(n, b);
      return b;
    }
    b = this.read(n * PAGE, Math.min(PAGE, this.section.size - n * PAGE));
    this.pages.set(n, b);
    if (this.pages.size > PAGES) this.pages.delete(this.pages.keys().next().value!);
    return b;
  }
}

const PAGE = 4096;
/** Relocation slices kept per large section: a unit's addresses are looked up while it is decoded. */
const RECENT = 64;
const PAGES = 512;
/**
 * Sections of on-disk objects at least `diskMin` bytes are read by ranges, never whole. Exported so that
 * tests can drive small fixtures through the large-object paths.
 */
export const tuning = { diskMin: 16 << 20 };

/**
 * A large section of a relocatable object on disk (amdgpu.ko: 90 MB of .debug_info and 137 MB of
 * relocations for it): ranges are read with pread and relocated with just the relocation entries that
 * fall in them, found by binary search in the on-disk table (sorted by r_offset, as ld -r writes it;
 * checked on a sample, otherwise the caller loads the section whole).
 */
class DiskRelocatedSection implements DwarfSection {
  readonly relocatable = true;
  readonly inMemory = false;
  readonly fileOffset: number;
  private readonly entsize: number;
  private readonly count: number;
  private readonly symValues: SymbolValues;
  /**
   * Relocators of recently read ranges, newest last, for targetAt(): their entries say which section a place
   * points into. Each holds its slice of the relocation table in a recycled buffer until it is dropped.
   */
  private recent: { first: number; last: number; r: LazyRelocator; entries: Buffer }[] = [];
  private probes = new Map<number, number>();
  private whole: Buffer | null = null;
  private pages: StringPages | null = null;

  constructor(
    readonly file: string,
    readonly name: string,
    readonly index: number,
    readonly little: boolean,
    private fd: () => number,
    private s: Section,
    private rela: Section,
    private h: ElfHeader,
    private symtab: SymbolTable,
    private onError: (e: ObjectError) => void,
    /** Relocate field by field (fix()) instead of applying every relocation of each range read. */
    private byField: boolean,
  ) {
    this.fileOffset = s.offset;
    this.entsize = (h.is64 ? 8 : 4) * (rela.type === SHT_RELA ? 3 : 2);
    this.count = Math.floor(rela.size / this.entsize);
    this.symValues = new SymbolValues(symtab);
  }

  get size(): number {
    return this.s.size;
  }

  private pread(target: Buffer, fileOffset: number, what: string): void {
    const got = preadFully(this.fd(), target, fileOffset);
    if (got < target.length) throw new ObjectError(this.file, fileOffset + got, `${what}: the file ended while reading`, 'io');
  }

  /** r_offset of relocation entry k, read from the file (cached: searches revisit the same probes). */
  private placeOf(k: number): number {
    let v = this.probes.get(k);
    if (v === undefined) {
      const b = Buffer.allocUnsafe(this.h.is64 ? 8 : 4);
      this.pread(b, this.rela.offset + k * this.entsize, `relocation entry ${k} of ${this.rela.name}`);
      v = this.h.is64
        ? (this.little ? b.readUInt32LE(0) + b.readUInt32LE(4) * 0x1_0000_0000 : b.readUInt32BE(4) + b.readUInt32BE(0) * 0x1_0000_0000)
        : (this.little ? b.readUInt32LE(0) : b.readUInt32BE(0));
      if (this.probes.size > 65536) this.probes.clear();
      this.probes.set(k, v);
    }
    return v;
  }

  /** True when a sample of the table is in r_offset order (the whole table is never read). */
  sortedSample(): boolean {
    let prev = -1;
    for (let i = 0; i <= 64; i++) {
      const v = this.placeOf(Math.floor(((this.count - 1) * i) / 64));
      if (v < prev) return false;
      prev = v;
    }
    return true;
  }

  private lowerBound(offset: number): number {
    return partitionPoint(this.count, (k) => this.placeOf(k) < offset);
  }

  /** Relocates `target`, which holds section bytes [offset, offset + target.length). */
  private relocate(offset: number, target: Buffer): LazyRelocator | null {
    const end = offset + target.length;
    const lo = this.lowerBound(Math.max(0, offset - 7));
    const hi = this.lowerBound(end);
    if (hi <= lo) return null;
    const size = (hi - lo) * this.entsize;
    const backing = sectionBuffers.take(size);
    const entries = backing.subarray(0, size);
    this.pread(entries, this.rela.offset + lo * this.entsize, `relocations ${lo}..${hi} of ${this.rela.name}`);
    const slice: Section = { ...this.rela, offset: this.rela.offset + lo * this.entsize, size };
    const table = new RelocationTable(this.file, slice, entries, this.h);
    const r = new LazyRelocator(this.file, this.h, this.s, target, [table], this.symtab, offset, this.symValues, true);
    if (!this.byField) {
      r.apply(offset, end);
      for (const e of r.errors.splice(0)) this.onError(e);
    }
    this.recent.push({ first: r.first, last: r.last, r, entries: backing });
    if (this.recent.length > RECENT) sectionBuffers.release(this.recent.shift()!.entries);
    return r;
  }

  /** Hands the relocation slices back (the object is done). */
  close(): void {
    for (const x of this.recent.splice(0)) sectionBuffers.release(x.entries);
  }

  read(offset: number, length: number, what: string): Buffer {
    checkRange(this, offset, length, what);
    if (this.whole) return this.whole.subarray(offset, offset + length);
    const b = Buffer.allocUnsafe(length);
    this.readInto(offset, b, what);
    return b;
  }

  readInto(offset: number, target: Buffer, what: string): void {
    checkRange(this, offset, target.length, what);
    if (this.whole) {
      this.whole.copy(target, 0, offset, offset + target.length);
      return;
    }
    this.pread(target, this.s.offset + offset, `${this.name} ${what}`);
    this.relocate(offset, target);
  }

  contents(): Buffer {
    if (!this.whole) {
      const b = Buffer.allocUnsafe(this.size);
      this.readInto(0, b, `contents of ${this.name}`);
      this.whole = b;
    }
    return this.whole;
  }

  cstring(offset: number, what: string): string {
    this.pages ??= new StringPages(this, (at, len) => this.read(at, len, what));
    return this.pages.get(offset, what);
  }

  /** The relocator whose entries cover `offset`: one of a recent read, else one made for that spot. */
  private covering(offset: number): LazyRelocator | null {
    for (let i = this.recent.length - 1; i >= 0; i--) {
      const x = this.recent[i];
      if (offset >= x.first && offset <= x.last) return x.r;
    }
    // A place no recent read covered (never for unit-local fields): look up just that spot.
    const end = Math.min(this.size, offset + 8);
    if (offset >= end) return null;
    const probe = Buffer.alloc(end - offset);
    this.pread(probe, this.s.offset + offset, `${this.name} place`);
    return this.relocate(offset, probe);
  }

  targetAt(offset: number): number {
    return this.covering(offset)?.sectionAt(offset) ?? -1;
  }

  fix(offset: number, raw: number): number {
    if (!this.byField) return raw;
    return this.covering(offset)?.valueAt(offset, raw) ?? raw;
  }

  fixAddress(offset: number, raw: bigint): bigint {
    if (!this.byField || raw > 0xffff_ffffn) return raw;
    const r = this.covering(offset);
    return r ? BigInt(r.valueAt(offset, Number(raw))) : raw;
  }

  reader(offset: number, length = this.size - offset): DwarfReader {
    return new DwarfReader(this.read(offset, length, 'section range'), this.little, this, offset);
  }
}

/**
 * The DWARF sections of one ELF object, opened lazily by name. A problem with one section (bad compression,
 * an unknown relocation) is reported through `onError` and that section is treated as absent or partially
 * relocated; the other sections stay usable.
 */
export class DwarfFile implements DwarfSections {
  readonly relocatable: boolean;
  private byName = new Map<string, Section>();
  private cache = new Map<string, DwarfSection | null>();
  private taken: Buffer[] = [];
  private fd: number | null = null;

  constructor(
    readonly src: ByteSource,
    readonly h: ElfHeader,
    readonly sections: readonly Section[],
    private symtab: SymbolTable | null,
    private onError: (e: ObjectError) => void,
  ) {
    this.relocatable = h.type === ET_REL;
    for (const s of sections) {
      if (s.type === SHT_NOBITS || s.size === 0) continue;
      const name = debugSectionName(s.name);
      if (!name.startsWith('.debug_')) continue;
      // If both `.debug_x` and `.zdebug_x` exist (never seen), the first one wins.
      if (!this.byName.has(name)) this.byName.set(name, s);
    }
  }

  get file(): string {
    return this.src.file;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The named section (`.debug_info`), or null when the object has none or it could not be opened. */
  section(name: string): DwarfSection | null {
    let sec = this.cache.get(name);
    if (sec !== undefined) return sec;
    try {
      sec = this.open(name);
    } catch (e) {
      if (!(e instanceof Error) || !('file' in e)) throw e;
      this.onError(e as ObjectError);
      sec = null;
    }
    this.cache.set(name, sec);
    return sec;
  }

  /** Releases file descriptors and hands the section buffers back for the next object. */
  close(): void {
    for (const s of this.cache.values()) if (s instanceof FileRangeSection || s instanceof DiskRelocatedSection) s.close();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    for (const b of this.taken.splice(0)) sectionBuffers.release(b);
    this.cache.clear();
  }

  /**
   * A section's stored bytes in a recycled buffer: a private copy (relocations may write to it) that costs
   * no fresh memory once the worker has seen an object of this size.
   */
  private readPooled(s: Section): Buffer {
    const b = sectionBuffers.take(s.size);
    this.taken.push(b);
    const out = b.subarray(0, s.size);
    const { src } = this;
    if (s.offset + s.size > src.size) {
      throw new ObjectError(src.file, s.headerOffset, `section ${s.index} (${s.name}): expected ${s.size} bytes at 0x${s.offset.toString(16)}, the object ends at 0x${src.size.toString(16)}`, 'truncated');
    }
    if (src instanceof BufferSource) {
      src.bytes.copy(out, 0, s.offset, s.offset + s.size);
      return out;
    }
    this.fd ??= openSync(src.file, 'r');
    const got = preadFully(this.fd, out, s.offset);
    if (got < s.size) throw new ObjectError(src.file, s.offset + got, `section ${s.index} (${s.name}): the file ended while reading`, 'io');
    return out;
  }

  private open(name: string): DwarfSection | null {
    const s = this.byName.get(name);
    if (!s) return null;
    const { src, h } = this;
    const compressed = isCompressedSection(s);
    const fileOffset = compressed ? null : s.offset;
    const onDisk = !compressed && !(src instanceof BufferSource);
    if (!this.relocatable && onDisk && (RANGED.has(name) || s.size >= tuning.diskMin)) {
      // Unit by unit for .debug_info/.debug_line; page by page for a huge string section.
      return new FileRangeSection(src.file, name, s.index, h.little, src, s);
    }
    if (this.relocatable && onDisk && s.size >= tuning.diskMin) {
      const rels = relocationSectionsFor(this.sections, s);
      if (rels.length === 0) return new FileRangeSection(src.file, name, s.index, h.little, src, s, true);
      if (rels.length === 1 && this.symtab && RANGED.has(name)) {
        const disk = new DiskRelocatedSection(src.file, name, s.index, h.little, () => (this.fd ??= openSync(src.file, 'r')), s, rels[0], h, this.symtab, this.onError, BY_FIELD.has(name));
        if (disk.sortedSample()) return disk;
      }
    }
    const bytes = compressed ? sectionContents(src, h, s) : this.readPooled(s);
    if (!this.relocatable) return new MemorySection(src.file, name, s.index, fileOffset, h.little, bytes, null);
    const rels = relocationSectionsFor(this.sections, s);
    if (rels.length === 0 || !this.symtab) return new MemorySection(src.file, name, s.index, fileOffset, h.little, bytes, RelocatedTargets.EMPTY);
    const tables = rels.map((r) => {
      const want = (h.is64 ? 8 : 4) * (r.type === SHT_RELA ? 3 : 2);
      if (r.entsize !== 0 && r.entsize !== want) {
        throw new ObjectError(src.file, r.headerOffset, `section ${r.index} (${r.name}): expected sh_entsize ${want}, found ${r.entsize}`);
      }
      return new RelocationTable(src.file, r, this.readPooled(r), h);
    });
    const relocator = new LazyRelocator(src.file, h, s, bytes, tables, this.symtab);
    if (BY_FIELD.has(name)) {
      // DIE attributes: relocated one field at a time as the cursor decodes them.
      return new MemorySection(src.file, name, s.index, fileOffset, h.little, bytes, relocator, null, relocator);
    }
    if (!RANGED.has(name)) {
      // Read at arbitrary offsets with open-ended readers (range lists, address tables): relocate them whole.
      relocator.apply(0, bytes.length);
      for (const e of relocator.errors.splice(0)) this.onError(e);
      return new MemorySection(src.file, name, s.index, fileOffset, h.little, bytes, relocator);
    }
    // Units and line programs are read by exact ranges: relocate only the ones decoded.
    return new MemorySection(src.file, name, s.index, fileOffset, h.little, bytes, relocator, { r: relocator, onError: this.onError });
  }
}

/**
 * A section held in memory, for callers that already have the bytes (tests, other containers).
 * `targets` marks it as belonging to a relocatable object (see DwarfSection.targetAt).
 */
export function memorySection(file: string, name: string, bytes: Buffer, options: { index?: number; little?: boolean; targets?: AddressTargets | null } = {}): DwarfSection {
  return new MemorySection(file, name, options.index ?? 0, null, options.little ?? true, bytes, options.targets ?? null);
}
