// Compressed debug sections: SHF_COMPRESSED (zlib or zstd behind an Elf_Chdr) and legacy `.zdebug_*` (zlib-gnu),
// inflated into the bytes a DWARF reader expects, under the uncompressed section name.
import { inflateSync } from 'node:zlib';
import { ObjectError } from '../errors.js';
import { zstdDecompress } from '../io/decompress.js';
import type { ByteSource } from '../io/source.js';
import { SHF_COMPRESSED } from './constants.js';
import { type ElfHeader, readOffset64, viewOf } from './header.js';
import { type Section, sectionBytes } from './sections.js';

// gABI Elf_Chdr ch_type values.
export const ELFCOMPRESS_ZLIB = 1;
export const ELFCOMPRESS_ZSTD = 2;

/** Legacy GNU compressed sections (`.zdebug_*`, objcopy --compress-debug-sections=zlib-gnu) start with this. */
const ZDEBUG_MAGIC = Buffer.from('ZLIB', 'latin1');

/** `.zdebug_info` → `.debug_info`: DWARF consumers ask for a section by its uncompressed name. */
export function debugSectionName(name: string): string {
  return name.startsWith('.zdebug_') ? `.debug_${name.slice('.zdebug_'.length)}` : name;
}

export function isCompressedSection(s: Section): boolean {
  return (s.flags & SHF_COMPRESSED) !== 0 || s.name.startsWith('.zdebug_');
}

/**
 * The contents of a section as a consumer sees them: SHF_COMPRESSED (zlib or zstd) and `.zdebug_*`
 * sections are inflated into a new buffer; anything else is returned as read by the source (a view for
 * in-memory objects). The declared uncompressed size must match exactly: a mismatch means a corrupt section
 * whose offsets (and relocations) would silently point at the wrong bytes.
 */
export function sectionContents(src: ByteSource, h: ElfHeader, s: Section): Buffer {
  const raw = sectionBytes(src, s);
  if (s.flags & SHF_COMPRESSED) return inflateChdr(src.file, h, s, raw);
  if (s.name.startsWith('.zdebug_')) return inflateZdebug(src.file, s, raw);
  return raw;
}

function where(s: Section): string {
  return `section ${s.index} (${s.name})`;
}

function inflateChdr(file: string, h: ElfHeader, s: Section, raw: Buffer): Buffer {
  const chdrSize = h.is64 ? 24 : 12;
  if (raw.length < chdrSize) {
    throw new ObjectError(file, s.offset, `${where(s)}: SHF_COMPRESSED but shorter than its ${chdrSize}-byte compression header`, 'truncated');
  }
  const v = viewOf(raw);
  const type = v.getUint32(0, h.little);
  const size = h.is64 ? readOffset64(v, 8, h.little) : v.getUint32(4, h.little);
  const body = raw.subarray(chdrSize);
  if (type === ELFCOMPRESS_ZLIB) return inflateZlib(file, s, body, size, s.offset + chdrSize);
  if (type === ELFCOMPRESS_ZSTD) return inflateZstd(file, s, body, size, s.offset + chdrSize);
  throw new ObjectError(file, s.offset, `${where(s)}: ch_type: expected 1 (zlib) or 2 (zstd), found ${type}`, 'unsupported');
}

function inflateZdebug(file: string, s: Section, raw: Buffer): Buffer {
  if (raw.length < 12 || !raw.subarray(0, 4).equals(ZDEBUG_MAGIC)) {
    throw new ObjectError(file, s.offset, `${where(s)}: expected a .zdebug header ("ZLIB" + 8-byte big-endian size)`, 'compression');
  }
  const size = raw.readUInt32BE(4) * 0x1_0000_0000 + raw.readUInt32BE(8);
  return inflateZlib(file, s, raw.subarray(12), size, s.offset + 12);
}

function inflateZlib(file: string, s: Section, body: Buffer, size: number, at: number): Buffer {
  let out: Buffer;
  try {
    out = inflateSync(body, { maxOutputLength: Math.max(size, 1) });
  } catch (e) {
    throw new ObjectError(file, at, `${where(s)}: expected a zlib stream of ${size} bytes (${(e as Error).message})`, 'compression');
  }
  return checkSize(file, s, out, size, at);
}

function inflateZstd(file: string, s: Section, body: Buffer, size: number, at: number): Buffer {
  let out: Buffer;
  try {
    // Capped at the declared size: a stream longer than declared stops there and fails.
    out = zstdDecompress(file, body, Math.max(size, 1));
  } catch (e) {
    const reason = e instanceof ObjectError ? e.expected : (e as Error).message;
    throw new ObjectError(file, at, `${where(s)}: expected a zstd stream of ${size} bytes (${reason})`, 'compression');
  }
  return checkSize(file, s, out, size, at);
}

function checkSize(file: string, s: Section, out: Buffer, size: number, at: number): Buffer {
  if (out.length !== size) {
    throw new ObjectError(file, at, `${where(s)}: expected ${size} bytes after decompression, found ${out.length}`, 'compression');
  }
  return out;
}
