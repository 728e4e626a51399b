// DiskRelocatedSection, a large section of a relocatable object on disk (amdgpu.ko's 90 MB .debug_info): ranges
// read with pread and relocated through a DiskRelocation with just the relocation entries that fall in them.
import type { Section } from '../elf/sections.js';
import { ObjectError } from '../errors.js';
import { preadFully } from '../io/source.js';
import { DwarfReader } from './reader.js';
import type { DiskRelocation } from './relocate.js';
import { checkRange, type DwarfSection } from './section.js';
import { StringPages } from './string-pages.js';

export class DiskRelocatedSection implements DwarfSection {
  readonly relocatable = true;
  readonly inMemory = false;
  readonly fileOffset: number;
  private whole: Buffer | null = null;
  private pages: StringPages | null = null;

  constructor(
    readonly file: string,
    readonly name: string,
    readonly index: number,
    readonly little: boolean,
    private fd: () => number,
    private s: Section,
    private relocation: DiskRelocation,
  ) {
    this.fileOffset = s.offset;
  }

  get size(): number {
    return this.s.size;
  }

  /** Hands the relocation slices back (the object is done). */
  close(): void {
    this.relocation.close();
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
    const at = this.s.offset + offset;
    const got = preadFully(this.fd(), target, at);
    if (got < target.length) throw new ObjectError(this.file, at + got, `${this.name} ${what}: the file ended while reading`, 'io');
    this.relocation.read(offset, target);
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

  targetAt(offset: number): number {
    return this.relocation.targetAt(offset);
  }

  fix(offset: number, raw: number): number {
    return this.relocation.fix(offset, raw);
  }

  fixAddress(offset: number, raw: bigint): bigint {
    return this.relocation.fixAddress(offset, raw);
  }

  reader(offset: number, length = this.size - offset): DwarfReader {
    return new DwarfReader(this.read(offset, length, 'section range'), this.little, this, offset);
  }
}
