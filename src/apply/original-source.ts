/**
 * For `ksymtree index`: a module that `apply` rewrote must be indexed as its original, or the alias symbols
 * would be indexed as symbols (and the next alias pass would avoid their names and invent new ones) and
 * the globals' .symtab indices would be shifted. The original needs no copy: it is the bytes before the
 * marker's `elfSize` with the saved ELF header in front (see marker.ts).
 *
 *   const image = signature ? new PrefixSource(source, signature.elfSize) : source;
 *   const elfSource = appliedOriginal(image) ?? image;   // then read header, sections, symbols from it
 */
import { ObjectError } from '../errors.js';
import { readElfHeader } from '../elf/header.js';
import { readSections, sectionBytes } from '../elf/sections.js';
import type { ByteSource } from '../io/source.js';
import { MARKER_SECTION, type Marker, decodeMarker } from './marker.js';

/** The original ELF image of a module apply rewrote, read in place; null for any other object. */
export function appliedOriginal(src: ByteSource): ByteSource | null {
  let marker: Marker;
  try {
    const h = readElfHeader(src);
    const section = readSections(src, h).find((s) => s.name === MARKER_SECTION);
    if (!section) return null;
    marker = decodeMarker(sectionBytes(src, section));
  } catch {
    return null;
  }
  if (marker.elfSize > src.size || marker.elfSize < marker.header.length) return null;
  return new OriginalSource(src, marker.header, marker.elfSize);
}

class OriginalSource implements ByteSource {
  readonly file: string;
  constructor(private inner: ByteSource, private header: Buffer, readonly size: number) {
    this.file = inner.file;
  }

  read(offset: number, length: number, what: string): Buffer {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new ObjectError(this.file, offset, `${what}: expected ${length} bytes but the object ends at 0x${this.size.toString(16)}`, 'truncated');
    }
    const h = this.header.length;
    if (offset >= h) return this.inner.read(offset, length, what);
    const out = Buffer.alloc(length);
    this.header.copy(out, 0, offset, Math.min(h, offset + length));
    if (offset + length > h) this.inner.read(h, offset + length - h, what).copy(out, h - offset);
    return out;
  }
}
