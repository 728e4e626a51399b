// FileRangeSection, a plain section of an on-disk object (not compressed, never relocated) read by ranges with
// pread, so that a 170 MB vmlinux .debug_info is never loaded whole; strings are read page by page.
import { closeSync, openSync } from 'node:fs';
import type { Section } from '../elf/sections.js';
import { type ByteSource, preadFully } from '../io/source.js';
import { DwarfError, DwarfReader, stringAt } from './reader.js';
import { checkRange, type DwarfSection } from './section.js';
import { StringPages } from './string-pages.js';

/** A plain (uncompressed, never relocated) section of an on-disk object: each read is a pread. */
export class FileRangeSection implements DwarfSection {
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
