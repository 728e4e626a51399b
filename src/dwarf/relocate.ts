// Relocation of the DWARF of relocatable objects (.o, .ko), an adapter between a section's storage and the
// decoder (gimli's relocate.rs in spirit): `.rela.debug_*` applied to bytes as they are read, or field by field
// as they are decoded, and the section each relocated place points into. Storage classes hold a Relocation.
import { SHT_RELA } from '../elf/constants.js';
import type { ElfHeader } from '../elf/header.js';
import { type AddressTargets, LazyRelocator, RelocationTable, SymbolValues } from '../elf/relocations.js';
import type { Section } from '../elf/sections.js';
import type { SymbolTable } from '../elf/symbols.js';
import { ObjectError } from '../errors.js';
import { preadFully } from '../io/source.js';
import { sectionBuffers } from './buffers.js';
import { partitionPoint } from '../partition-point.js';

/** How one section of a relocatable object is relocated (see DwarfSection.fix and targetAt). */
export interface Relocation {
  /** Relocates `bytes`, section bytes [offset, offset + bytes.length) just read. */
  read(offset: number, bytes: Buffer): void;
  /** The relocated value of the field at `offset` whose stored bytes hold `raw`. */
  fix(offset: number, raw: number): number;
  fixAddress(offset: number, raw: bigint): bigint;
  /** The section the address stored at `offset` points into; -1 when nothing was relocated there. */
  targetAt(offset: number): number;
}

/** When the relocations of an in-memory section are applied. */
type Mode = 'never' | 'reads' | 'fields';

/**
 * The relocations of a section held in memory, found through a LazyRelocator over its whole buffer:
 * applied to the ranges read (`reads`), computed per decoded field (`fields`), or already applied at open
 * (`never`: only targetAt is left to answer).
 */
export class MemoryRelocation implements Relocation {
  /** A section whose relocated places are known from `targets` alone (nothing to apply). */
  static targets(targets: AddressTargets): MemoryRelocation {
    return new MemoryRelocation(targets, null, 'never', () => {});
  }

  /** Applies every relocation now: for sections read at arbitrary offsets by open-ended readers. */
  static applied(relocator: LazyRelocator, size: number, onError: (e: ObjectError) => void): MemoryRelocation {
    relocator.apply(0, size);
    for (const e of relocator.errors.splice(0)) onError(e);
    return new MemoryRelocation(relocator, null, 'never', onError);
  }

  /** Relocations applied to the ranges read (units, line programs), each at most once. */
  static onRead(relocator: LazyRelocator, onError: (e: ObjectError) => void): MemoryRelocation {
    return new MemoryRelocation(relocator, relocator, 'reads', onError);
  }

  /** Relocations computed field by field as DIE attributes are decoded. */
  static byField(relocator: LazyRelocator): MemoryRelocation {
    return new MemoryRelocation(relocator, relocator, 'fields', () => {});
  }

  private constructor(
    private targetsOf: AddressTargets,
    private relocator: LazyRelocator | null,
    private mode: Mode,
    private onError: (e: ObjectError) => void,
  ) {}

  read(offset: number, bytes: Buffer): void {
    const r = this.relocator;
    if (this.mode !== 'reads' || !r) return;
    r.apply(offset, offset + bytes.length);
    if (r.errors.length) for (const e of r.errors.splice(0)) this.onError(e);
  }

  fix(offset: number, raw: number): number {
    return this.mode === 'fields' ? this.relocator!.valueAt(offset, raw) : raw;
  }

  fixAddress(offset: number, raw: bigint): bigint {
    if (this.mode !== 'fields' || raw > 0xffff_ffffn) return raw;
    return BigInt(this.relocator!.valueAt(offset, Number(raw)));
  }

  targetAt(offset: number): number {
    return this.targetsOf.sectionAt(offset);
  }
}

/** Relocation slices kept per large section: a unit's addresses are looked up while it is decoded. */
const RECENT = 64;

/**
 * The relocations of a large section read range by range from disk (amdgpu.ko: 90 MB of .debug_info and
 * 137 MB of relocations for it): each range read is relocated with just the entries that fall in it, found
 * by binary search in the on-disk table (sorted by r_offset, as ld -r writes it; check sortedSample() first,
 * otherwise the section is to be loaded whole).
 */
export class DiskRelocation implements Relocation {
  private readonly entsize: number;
  private readonly count: number;
  private readonly symValues: SymbolValues;
  /**
   * Relocators of recently read ranges, newest last, for targetAt(): their entries say which section a place
   * points into. Each holds its slice of the relocation table in a recycled buffer until it is dropped.
   */
  private recent: { first: number; last: number; r: LazyRelocator; entries: Buffer }[] = [];
  private probes = new Map<number, number>();

  constructor(
    private file: string,
    /** The section's canonical name, for messages. */
    private name: string,
    private fd: () => number,
    private s: Section,
    private rela: Section,
    private h: ElfHeader,
    private symtab: SymbolTable,
    private onError: (e: ObjectError) => void,
    /** Relocate field by field (fix()) instead of applying every relocation of each range read. */
    private byField: boolean,
  ) {
    this.entsize = (h.is64 ? 8 : 4) * (rela.type === SHT_RELA ? 3 : 2);
    this.count = Math.floor(rela.size / this.entsize);
    this.symValues = new SymbolValues(symtab);
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
      const little = this.h.little;
      v = this.h.is64
        ? (little ? b.readUInt32LE(0) + b.readUInt32LE(4) * 0x1_0000_0000 : b.readUInt32BE(4) + b.readUInt32BE(0) * 0x1_0000_0000)
        : (little ? b.readUInt32LE(0) : b.readUInt32BE(0));
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

  read(offset: number, bytes: Buffer): void {
    this.relocate(offset, bytes);
  }

  /** Relocates `target`, which holds section bytes [offset, offset + target.length); its relocator, or null. */
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

  /** The relocator whose entries cover `offset`: one of a recent read, else one made for that spot. */
  private covering(offset: number): LazyRelocator | null {
    for (let i = this.recent.length - 1; i >= 0; i--) {
      const x = this.recent[i];
      if (offset >= x.first && offset <= x.last) return x.r;
    }
    // A place no recent read covered (never for unit-local fields): look up just that spot.
    const end = Math.min(this.s.size, offset + 8);
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
}
