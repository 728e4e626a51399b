import { ObjectError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import { SHT_NOBITS, SHT_STRTAB } from './constants.js';
import { type ElfHeader, readOffset64, viewOf } from './header.js';

export interface Section {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  /** sh_flags; every defined flag fits in the low 32 bits, OS/processor bits above are kept as read. */
  readonly flags: number;
  /** sh_addr as 16 hex digits (addresses of 64-bit kernels do not fit a double). */
  readonly addr: string;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  /** Offset of this header in the file, for error messages. */
  readonly headerOffset: number;
}

/** Two hex digits for each byte value. */
const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** A 64-bit value given as two 32-bit halves, as 16 hex digits. */
export function hex64(hi: number, lo: number): string {
  return HEX_BYTE[hi >>> 24] + HEX_BYTE[(hi >>> 16) & 0xff] + HEX_BYTE[(hi >>> 8) & 0xff] + HEX_BYTE[hi & 0xff]
    + HEX_BYTE[lo >>> 24] + HEX_BYTE[(lo >>> 16) & 0xff] + HEX_BYTE[(lo >>> 8) & 0xff] + HEX_BYTE[lo & 0xff];
}

/** Reads the section header table and names every section. */
export function readSections(src: ByteSource, h: ElfHeader): Section[] {
  if (h.shoff === 0 || h.shnum === 0) return [];
  const table = src.read(h.shoff, h.shnum * h.shentsize, `section header table (${h.shnum} entries of ${h.shentsize} bytes)`);
  const v = viewOf(table);
  const { little, is64 } = h;
  const raw = [];
  for (let i = 0; i < h.shnum; i++) {
    const o = i * h.shentsize;
    const u32 = (at: number) => v.getUint32(o + at, little);
    const word = (at32: number, at64: number) => (is64 ? readOffset64(v, o + at64, little) : u32(at32));
    raw.push({
      nameOff: u32(0),
      type: u32(4),
      flags: is64 ? readOffset64(v, o + 8, little) : u32(8),
      addr: is64 ? hex64(v.getUint32(o + 16 + (little ? 4 : 0), little), v.getUint32(o + 16 + (little ? 0 : 4), little))
                 : hex64(0, u32(12)),
      offset: word(16, 24),
      size: word(20, 32),
      link: u32(is64 ? 40 : 24),
      info: u32(is64 ? 44 : 28),
      addralign: word(32, 48),
      entsize: word(36, 56),
      headerOffset: h.shoff + o,
    });
  }
  if (h.shstrndx >= h.shnum) {
    throw new ObjectError(src.file, h.is64 ? 62 : 50, `e_shstrndx: expected a section index below ${h.shnum}, found ${h.shstrndx}`);
  }
  const shstr = raw[h.shstrndx];
  if (shstr.type !== SHT_STRTAB) {
    throw new ObjectError(src.file, shstr.headerOffset, `section ${h.shstrndx} (e_shstrndx): expected SHT_STRTAB, found type ${shstr.type}`);
  }
  const names = new StringTable(src.read(shstr.offset, shstr.size, `section name table (section ${h.shstrndx})`), src.file, shstr.offset);
  return raw.map((s, index) => ({ ...s, index, name: index === 0 ? '' : names.get(s.nameOff, `name of section ${index}`) }));
}

/** Contents of a section; NOBITS sections have none. */
export function sectionBytes(src: ByteSource, s: Section): Buffer {
  if (s.type === SHT_NOBITS) return Buffer.alloc(0);
  return src.read(s.offset, s.size, `contents of section ${s.index} (${s.name})`);
}

/** A NUL-terminated string table read in place. */
export class StringTable {
  constructor(readonly bytes: Buffer, private file: string, private fileOffset: number) {}

  /** The end (exclusive) of the string at `offset`, or throws when it is outside the table or unterminated. */
  end(offset: number, what: string): number {
    if (offset >= this.bytes.length) {
      throw new ObjectError(this.file, this.fileOffset + offset,
        `${what}: expected a string table offset below 0x${this.bytes.length.toString(16)}, found 0x${offset.toString(16)}`);
    }
    const end = this.bytes.indexOf(0, offset);
    if (end < 0) {
      throw new ObjectError(this.file, this.fileOffset + offset, `${what}: expected a NUL-terminated string, the table ends first`, 'truncated');
    }
    return end;
  }

  get(offset: number, what: string): string {
    return this.bytes.toString('latin1', offset, this.end(offset, what));
  }
}
