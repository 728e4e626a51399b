// The ELF file header (class, byte order, type, machine, where the section headers are, extended numbering
// resolved): every read of an object starts here.
import { ObjectError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import { ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, SHN_XINDEX } from './constants.js';

export interface ElfHeader {
  readonly is64: boolean;
  readonly little: boolean;
  readonly type: number;
  readonly machine: number;
  readonly shoff: number;
  readonly shentsize: number;
  /** Section count, already resolved through section 0 when e_shnum is 0 (extended numbering). */
  readonly shnum: number;
  /** Index of the section-name string table, resolved through section 0 when it is SHN_XINDEX. */
  readonly shstrndx: number;
}

export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** Reads a 64-bit file offset or size; ELF objects larger than 2^53 bytes do not exist. */
export function readOffset64(view: DataView, at: number, little: boolean): number {
  const lo = view.getUint32(at + (little ? 0 : 4), little);
  const hi = view.getUint32(at + (little ? 4 : 0), little);
  return hi * 0x1_0000_0000 + lo;
}

export function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function readElfHeader(src: ByteSource): ElfHeader {
  if (src.size < 16) {
    throw new ObjectError(src.file, 0, `ELF identification: expected 16 bytes, the file has ${src.size}`, 'truncated');
  }
  const ident = src.read(0, 16, 'ELF identification');
  if (!ident.subarray(0, 4).equals(ELF_MAGIC)) {
    throw new ObjectError(src.file, 0, `expected ELF magic 7f 45 4c 46, found ${ident.subarray(0, 4).toString('hex').replace(/(..)(?!$)/g, '$1 ')}`);
  }
  const cls = ident[4];
  const data = ident[5];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) throw new ObjectError(src.file, 4, `EI_CLASS: expected 1 (ELF32) or 2 (ELF64), found ${cls}`, 'unsupported');
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) throw new ObjectError(src.file, 5, `EI_DATA: expected 1 (LSB) or 2 (MSB), found ${data}`, 'unsupported');
  const is64 = cls === ELFCLASS64;
  const little = data === ELFDATA2LSB;
  const ehsize = is64 ? 64 : 52;
  const v = viewOf(src.read(0, ehsize, `ELF${is64 ? 64 : 32} file header`));
  const type = v.getUint16(16, little);
  const machine = v.getUint16(18, little);
  const shoff = is64 ? readOffset64(v, 40, little) : v.getUint32(32, little);
  const shentsize = v.getUint16(is64 ? 58 : 46, little);
  let shnum = v.getUint16(is64 ? 60 : 48, little);
  let shstrndx = v.getUint16(is64 ? 62 : 50, little);
  const wantEntsize = is64 ? 64 : 40;
  if (shoff !== 0 && shentsize !== wantEntsize) {
    throw new ObjectError(src.file, is64 ? 58 : 46, `e_shentsize: expected ${wantEntsize}, found ${shentsize}`);
  }
  if (shoff !== 0 && (shnum === 0 || shstrndx === SHN_XINDEX)) {
    // Extended numbering: the real values live in the first section header.
    const zero = viewOf(src.read(shoff, wantEntsize, 'section header 0 (extended numbering)'));
    if (shnum === 0) shnum = is64 ? readOffset64(zero, 32, little) : zero.getUint32(20, little);
    if (shstrndx === SHN_XINDEX) shstrndx = zero.getUint32(is64 ? 40 : 24, little);
  }
  return { is64, little, type, machine, shoff, shentsize, shnum, shstrndx };
}
