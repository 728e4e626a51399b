/**
 * The fuzzer's mutations (AFL's "havoc" stage): a stack of 1-32 random edits of one corpus entry — bit and
 * byte flips, interesting integers and sizes near the input's length in either byte order, arithmetic,
 * chunk delete / insert / duplicate / copy, dictionary tokens, truncation — and splices with another entry.
 */

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40, 0x64];
const INTERESTING_16 = [0, 0xffff, 0x7fff, 0x8000, 0x100, 0x200, 0x3e8, 0x1000, 0xff, 0xfffe];
const INTERESTING_32 = [0, 0xffff_ffff, 0x7fff_ffff, 0x8000_0000, 0x1_0000, 0x10_0000, 0xffff, 0xffff_fffe, 0x4000_0000];
const INTERESTING_64 = [0n, 0xffff_ffff_ffff_ffffn, 0x7fff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, 1n << 53n, 1n << 32n];

export class Mutator {
  constructor(private rand: () => number, private dictionary: readonly Buffer[], private maxLength: number) {}

  private below(n: number): number {
    return Math.floor(this.rand() * n);
  }
  private pick<T>(list: readonly T[]): T {
    return list[this.below(list.length)];
  }

  /** A new input from `input`; `other` is a second corpus entry for splicing. */
  mutate(input: Buffer, other: Buffer): Buffer {
    let b: Buffer = Buffer.from(input);
    if (this.below(8) === 0 && other.length > 1 && b.length > 1) b = this.splice(b, other);
    const stack = 1 << this.below(6);
    for (let i = 0; i < stack; i++) b = this.edit(b, other);
    return b.length > this.maxLength ? b.subarray(0, this.maxLength) : b;
  }

  private splice(a: Buffer, b: Buffer): Buffer {
    const at = this.below(Math.min(a.length, b.length));
    return Buffer.concat([a.subarray(0, at), b.subarray(at)]);
  }

  private edit(b: Buffer, other: Buffer): Buffer {
    if (b.length === 0) return Buffer.from(this.token());
    const at = this.position(b.length);
    switch (this.below(16)) {
      case 0:
        b[at] ^= 1 << this.below(8);
        return b;
      case 1:
        b[at] = this.below(256);
        return b;
      case 2:
        b[at] = this.pick(INTERESTING_8);
        return b;
      case 3:
        return this.writeInt(b, at, 2, BigInt(this.pick(INTERESTING_16)));
      case 4:
        return this.writeInt(b, at, 4, BigInt(this.pick(INTERESTING_32)));
      case 5:
        return this.writeInt(b, at, 8, this.pick(INTERESTING_64));
      case 6:
        return this.arithmetic(b, at);
      case 7:
        return this.nearSize(b, at);
      case 8:
        return this.deleteChunk(b, at);
      case 9:
        return this.insert(b, at, this.below(4) === 0 ? this.randomBytes() : this.chunkOf(b));
      case 10:
        this.chunkOf(b).copy(b, at);
        return b;
      case 11:
        this.token().copy(b, at);
        return b;
      case 12:
        return this.insert(b, at, this.token());
      case 13:
        return this.below(4) === 0 ? b.subarray(0, at) : this.edit(b, other);
      case 14:
        // Same offset in another entry: structured formats keep fields where they were.
        if (at < other.length) other.copy(b, at, at, Math.min(other.length, at + 1 + this.below(64)));
        return b;
      default:
        return this.insert(b, at, Buffer.alloc(1 + this.below(32), this.below(2) ? 0 : 0xff));
    }
  }

  /**
   * Where to edit: a quarter of the edits go to the first 128 or the last 2048 bytes, where headers and
   * trailers sit (the ELF header and section table, a signature, a payload's appended size).
   */
  private position(length: number): number {
    const r = this.rand();
    if (r < 0.125) return this.below(Math.min(length, 128));
    if (r < 0.25) return length - 1 - this.below(Math.min(length, 2048));
    return this.below(length);
  }

  private writeInt(b: Buffer, at: number, width: 2 | 4 | 8, value: bigint): Buffer {
    if (at + width > b.length) return b;
    const little = this.below(2) === 0;
    for (let i = 0; i < width; i++) {
      const byte = Number((value >> BigInt(8 * i)) & 0xffn);
      b[little ? at + i : at + width - 1 - i] = byte;
    }
    return b;
  }

  private arithmetic(b: Buffer, at: number): Buffer {
    const width = this.pick([1, 2, 4, 8] as const);
    if (at + width > b.length) return b;
    const little = this.below(2) === 0;
    let v = 0n;
    for (let i = 0; i < width; i++) v |= BigInt(b[little ? at + i : at + width - 1 - i]) << BigInt(8 * i);
    const delta = BigInt(1 + this.below(35));
    v = (this.below(2) ? v + delta : v - delta) & ((1n << BigInt(8 * width)) - 1n);
    return width === 1 ? (b[at] = Number(v), b) : this.writeInt(b, at, width, v);
  }

  /** Sizes and offsets a parser compares with the input's length: len, len ± 1, len - at, a few more. */
  private nearSize(b: Buffer, at: number): Buffer {
    const sizes = [b.length, b.length - 1, b.length + 1, b.length - at, b.length - at + 1, b.length * 2, b.length >> 1];
    return this.writeInt(b, at, this.pick([2, 4, 8] as const), BigInt(Math.max(0, this.pick(sizes))));
  }

  private chunkOf(b: Buffer): Buffer {
    const at = this.below(b.length);
    return Buffer.from(b.subarray(at, at + 1 + this.below(Math.min(256, b.length - at))));
  }

  private deleteChunk(b: Buffer, at: number): Buffer {
    const n = 1 + this.below(Math.min(this.below(4) === 0 ? 1024 : 16, b.length - at));
    return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
  }

  private insert(b: Buffer, at: number, piece: Buffer): Buffer {
    if (b.length + piece.length > this.maxLength) return b;
    return Buffer.concat([b.subarray(0, at), piece, b.subarray(at)]);
  }

  private randomBytes(): Buffer {
    const out = Buffer.alloc(1 + this.below(16));
    for (let i = 0; i < out.length; i++) out[i] = this.below(256);
    return out;
  }

  private token(): Buffer {
    return this.dictionary.length ? this.pick(this.dictionary) : this.randomBytes();
  }
}

/** Dictionary entries for literals of the instrumented parsers: strings as latin1, numbers in both byte orders and as ULEB128. */
export function literalTokens(words: Iterable<string>, numbers: Iterable<number>): Buffer[] {
  const out: Buffer[] = [];
  for (const w of words) out.push(Buffer.from(w, 'latin1'));
  for (const n of numbers) {
    const width = n <= 0xff ? 1 : n <= 0xffff ? 2 : 4;
    const le = Buffer.alloc(width);
    le.writeUIntLE(n, 0, width);
    out.push(le, Buffer.from(le).reverse(), uleb128(n));
  }
  return out;
}

function uleb128(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
}
