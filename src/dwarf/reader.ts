// The bottom of the DWARF decoder: DwarfReader, a bounds-checked cursor over one section's bytes (integers,
// LEB128, initial lengths, addresses, strings), and DwarfError, which names the file, section and offset of a failure.
import { type ObjectErrorKind, ObjectError } from '../errors.js';
import { lebEnd, lebSkip, sleb, uleb, ulebBig } from './leb128.js';

/** Where bytes being decoded came from, so that an error can name file, section and offset. */
export interface SectionContext {
  readonly file: string;
  /** Canonical name (`.debug_info` also for `.zdebug_info`). */
  readonly name: string;
  /** File offset of the section's first byte, or null when the section was decompressed. */
  readonly fileOffset: number | null;
}

/**
 * A DWARF decoding failure. `offset` is the file offset when the section is stored plainly; for a compressed
 * (or otherwise in-memory) section it is the offset inside the uncompressed section, and the message says so.
 */
export class DwarfError extends ObjectError {
  constructor(readonly section: SectionContext, readonly sectionOffset: number, message: string, kind: ObjectErrorKind = 'format') {
    super(section.file, section.fileOffset === null ? sectionOffset : section.fileOffset + sectionOffset,
      `${section.name}+0x${sectionOffset.toString(16)}${section.fileOffset === null ? ' (uncompressed section offset)' : ''}: ${message}`, kind);
    this.name = 'DwarfError';
  }
}

/** An initial length with a reserved value (0xfffffff0–0xfffffffe): what follows it cannot be read. */
export class ReservedLengthError extends DwarfError {
  constructor(section: SectionContext, sectionOffset: number, readonly reason: string) {
    super(section, sectionOffset, reason);
    this.name = 'ReservedLengthError';
  }
}

/**
 * A forward-only cursor over bytes of one DWARF section. `buf[0]` is section offset `base`, so positions in
 * errors are always section offsets. Reading past `end` throws a DwarfError instead of returning garbage.
 */
export class DwarfReader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    readonly little: boolean,
    readonly ctx: SectionContext,
    /** Section offset of buf[0]. */
    readonly base = 0,
    start = 0,
    public end = buf.length,
  ) {
    this.pos = start;
  }

  /** Section offset of the cursor. */
  get offset(): number {
    return this.base + this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(message: string, at = this.pos, kind: ObjectErrorKind = 'format'): never {
    throw new DwarfError(this.ctx, this.base + at, message, kind);
  }

  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
      this.fail(`${what}: expected ${n} bytes, only ${Math.max(this.end - this.pos, 0)} remain`, this.pos, 'truncated');
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }
  s8(what = 's8'): number {
    const v = this.u8(what);
    return v >= 0x80 ? v - 0x100 : v;
  }
  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.little ? this.buf.readUInt16LE(this.pos) : this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u24(what = 'u24'): number {
    this.need(3, what);
    const b = this.buf;
    const p = this.pos;
    this.pos += 3;
    return this.little ? b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) : (b[p] << 16) | (b[p + 1] << 8) | b[p + 2];
  }
  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.little ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  /** A 64-bit length or offset; values above 2^53 cannot index anything we hold and are an error. */
  u64(what = 'u64'): number {
    this.need(8, what);
    const lo = this.little ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos + 4);
    const hi = this.little ? this.buf.readUInt32LE(this.pos + 4) : this.buf.readUInt32BE(this.pos);
    if (hi >= 0x20_0000) this.fail(`${what}: 64-bit value 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} is too large for an offset`);
    this.pos += 8;
    return hi * 0x1_0000_0000 + lo;
  }
  u64big(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.little ? this.buf.readBigUInt64LE(this.pos) : this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  /** An offset of the unit's format: 4 bytes in 32-bit DWARF, 8 in 64-bit DWARF. */
  offsetOf(is64: boolean, what = 'offset'): number {
    return is64 ? this.u64(what) : this.u32(what);
  }
  /** A target address of `size` bytes, kept exact (kernel addresses do not fit a double). */
  address(size: number, what = 'address'): bigint {
    switch (size) {
      case 8: return this.u64big(what);
      case 4: return BigInt(this.u32(what));
      case 2: return BigInt(this.u16(what));
      case 1: return BigInt(this.u8(what));
      default: return this.fail(`${what}: unsupported address size ${size}`, this.pos, 'unsupported');
    }
  }
  /**
   * The initial length of a unit, line program or address range set (DWARF 5 §7.4): 4 bytes, or 0xffffffff
   * and 8 bytes in 64-bit DWARF. 0xfffffff0–0xfffffffe are reserved: a ReservedLengthError.
   */
  initialLength(what = 'unit_length'): InitialLength {
    const at = this.pos;
    const len32 = this.u32(what);
    if (len32 < 0xfffffff0) return { length: len32, is64: false };
    if (len32 === 0xffffffff) return { length: this.u64(`${what} (64-bit DWARF)`), is64: true };
    throw new ReservedLengthError(this.ctx, this.base + at, `${what} 0x${len32.toString(16)} is a reserved value`);
  }
  /** Unsigned LEB128. Exact up to 2^53; larger values (never a valid offset or index) are an error. */
  uleb(what = 'ULEB128'): number {
    const start = this.pos;
    const v = uleb(this.buf, start, this.end);
    this.lebDone(start, what);
    if (v > Number.MAX_SAFE_INTEGER) this.fail(`${what}: ULEB128 value exceeds 2^53`, start);
    return v;
  }
  /** Unsigned LEB128 of any size, for constants that may use all 64 bits. */
  ulebBig(what = 'ULEB128'): bigint {
    const start = this.pos;
    const v = ulebBig(this.buf, start, this.end);
    this.lebDone(start, what);
    return v;
  }
  /** Signed LEB128, exact in the double range DWARF line/advance values use. */
  sleb(what = 'SLEB128'): number {
    const start = this.pos;
    const v = sleb(this.buf, start, this.end);
    this.lebDone(start, what);
    return v;
  }
  /** Skips a LEB128 of either signedness. */
  skipLeb(what = 'LEB128'): void {
    const start = this.pos;
    lebSkip(this.buf, start, this.end);
    this.lebDone(start, what);
  }
  skip(n: number, what = 'bytes'): void {
    this.need(n, what);
    this.pos += n;
  }
  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** A NUL-terminated string (DW_FORM_string, line-table v2–4 names). Kernel paths are ASCII; latin1 keeps bytes 1:1. */
  cstring(what = 'string'): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0 || end >= this.end) this.fail(`${what}: expected a NUL-terminated string`, this.pos, 'truncated');
    const s = this.buf.toString('latin1', this.pos, end);
    this.pos = end + 1;
    return s;
  }
  skipCstring(what = 'string'): void {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0 || end >= this.end) this.fail(`${what}: expected a NUL-terminated string`, this.pos, 'truncated');
    this.pos = end + 1;
  }

  /** After a LEB128 that started at `start`: moves past it, or fails when it is cut off or over 10 bytes long. */
  private lebDone(start: number, what: string): void {
    const end = lebEnd;
    if (end < 0 ? this.end - start >= 10 : end - start > 10) this.fail(`${what}: LEB128 longer than 10 bytes`, start);
    if (end < 0) this.fail(`${what}: LEB128 runs past the end`, start, 'truncated');
    this.pos = end;
  }
}

/** A DWARF initial length: the length of what follows the field, and whether the unit is 64-bit DWARF. */
export interface InitialLength {
  readonly length: number;
  readonly is64: boolean;
}

/** Reads a NUL-terminated string at `offset` of a string section (.debug_str, .debug_line_str). */
export function stringAt(buf: Buffer, offset: number, ctx: SectionContext, what: string): string {
  if (offset >= buf.length) {
    throw new DwarfError(ctx, offset, `${what}: expected an offset below 0x${buf.length.toString(16)}`);
  }
  const end = buf.indexOf(0, offset);
  if (end < 0) throw new DwarfError(ctx, offset, `${what}: expected a NUL-terminated string`, 'truncated');
  return buf.toString('latin1', offset, end);
}
