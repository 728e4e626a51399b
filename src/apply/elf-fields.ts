/**
 * Field offsets and little writers for the ELF structures `apply` patches: the file header, section headers,
 * symbols and relocation entries, for ELF32 and ELF64 in either byte order.
 */

export interface ElfShape {
  readonly is64: boolean;
  readonly little: boolean;
}

/** Offsets inside one section header. */
export function shdrLayout(is64: boolean) {
  return is64
    ? { name: 0, type: 4, flags: 8, addr: 16, offset: 24, size: 32, link: 40, info: 44, addralign: 48, entsize: 56, entry: 64 }
    : { name: 0, type: 4, flags: 8, addr: 12, offset: 16, size: 20, link: 24, info: 28, addralign: 32, entsize: 36, entry: 40 };
}

/** Offsets inside the ELF file header. */
export function ehdrLayout(is64: boolean) {
  return is64 ? { shoff: 40, shnum: 60, shstrndx: 62, size: 64 } : { shoff: 32, shnum: 48, shstrndx: 50, size: 52 };
}

/** Offsets inside one symbol. */
export function symLayout(is64: boolean) {
  return is64 ? { name: 0, info: 4, other: 5, shndx: 6, value: 8, size: 16, entry: 24 } : { name: 0, value: 4, size: 8, info: 12, other: 13, shndx: 14, entry: 16 };
}

export class FieldWriter {
  readonly view: DataView;
  constructor(readonly buf: Buffer, private shape: ElfShape) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  u16(at: number, v: number): void {
    this.view.setUint16(at, v, this.shape.little);
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, this.shape.little);
  }
  /** A file offset or size: 64 bits in ELF64, 32 in ELF32. */
  word(at: number, v: number): void {
    if (this.shape.is64) this.view.setBigUint64(at, BigInt(v), this.shape.little);
    else this.u32(at, v);
  }
  getU16(at: number): number {
    return this.view.getUint16(at, this.shape.little);
  }
  getU32(at: number): number {
    return this.view.getUint32(at, this.shape.little);
  }
  getWord(at: number): number {
    return this.shape.is64 ? Number(this.view.getBigUint64(at, this.shape.little)) : this.getU32(at);
  }
}

export function alignUp(n: number, align: number): number {
  if (align <= 1) return n;
  return Math.ceil(n / align) * align;
}
