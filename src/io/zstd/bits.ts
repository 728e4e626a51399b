// The input of the zstd decoder (RFC 8878) and its bit readers: the errors every check throws (file, input
// offset, what was expected) and the backward bitstreams that Huffman, FSE and sequence data are written in.
import { ObjectError } from '../../errors.js';
import { capMessage } from '../capped-output.js';

/** The whole compressed input, with the file it came from, for errors. */
export class ZstdSource {
  constructor(
    readonly file: string,
    readonly bytes: Buffer,
  ) {}

  fail(at: number, what: string, expected: string): never {
    throw new ObjectError(this.file, at, `zstd ${what}: expected ${expected}`, 'compression');
  }

  /** The output would pass `cap` at input offset `at`. */
  overflow(at: number, cap: number): never {
    throw new ObjectError(this.file, at, `zstd stream: ${capMessage(cap)}`, 'compression');
  }

  /** Checks that `count` bytes from `at` lie before `end`. */
  need(at: number, count: number, end: number, what: string): void {
    if (at + count > end) this.fail(at, what, `${count} bytes, found ${Math.max(0, end - at)} before the end of ${end === this.bytes.length ? 'the input' : 'its block'}`);
  }
}

/**
 * A bitstream read from its last byte towards its first (RFC 8878 §4.1): the last byte's highest set bit marks
 * where it begins. `left` counts the bits not read yet; a read past the first byte leaves it negative (the
 * missing bits read as zeros), which every caller checks.
 */
export class BackwardBits {
  left: number;

  constructor(
    private readonly src: ZstdSource,
    private readonly start: number,
    end: number,
    readonly what: string,
  ) {
    if (end <= start) src.fail(start, what, 'a bitstream of at least one byte, found none');
    const last = src.bytes[end - 1];
    if (last === 0) src.fail(end - 1, what, 'a last byte holding the end-of-stream mark (a set bit), found 0x00');
    this.left = (end - start) * 8 - (Math.clz32(last) - 24) - 1;
  }

  /** The next `n` bits (0 ≤ n ≤ 31) as a number, the first of them the most significant. */
  read(n: number): number {
    if (n === 0) return 0;
    if (n > 24) {
      const high = this.read(n - 24);
      return high * 0x100_0000 + this.read(24);
    }
    this.left -= n;
    return this.bitsAt(this.left, n);
  }

  /** The next `n` bits (n ≤ 24) without consuming them. */
  peek(n: number): number {
    return this.bitsAt(this.left - n, n);
  }

  skip(n: number): void {
    this.left -= n;
  }

  /** The input offset of the byte being read, for errors. */
  get offset(): number {
    return this.start + Math.max(0, Math.floor(this.left / 8));
  }

  /** Fails unless every bit was read, none past the first byte. */
  expectEnd(after: string): void {
    if (this.left !== 0) this.src.fail(this.offset, this.what, `to end after ${after}, found ${this.left < 0 ? `${-this.left} bits missing` : `${this.left} bits left`}`);
  }

  /** Bits [p, p + n) of the stream (n ≤ 24); bits before its first byte read as zeros. */
  private bitsAt(p: number, n: number): number {
    if (p < 0) return p + n <= 0 ? 0 : this.bitsAt(0, n + p) << -p;
    const b = this.src.bytes;
    const i = this.start + (p >>> 3);
    // Bytes past the stream's end (or the buffer's, read as undefined → 0) fall above bit p + n and are masked off.
    const word = b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
    return (word >>> (p & 7)) & ((1 << n) - 1);
  }
}
