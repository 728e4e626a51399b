// The lzma_alone format (`xz --format=lzma`, CONFIG_KERNEL_LZMA payloads): a 13-byte header and one LZMA1
// stream, decoded in this thread with every distance and length checked, so no input costs more than its output.
import { ObjectError } from '../errors.js';

const HEADER_SIZE = 13;
const STATES = 12;
const POS_STATES_MAX = 1 << 4;
const LEN_TO_POS_STATES = 4;
const END_POS_MODEL_INDEX = 14;
const FULL_DISTANCES = 1 << (END_POS_MODEL_INDEX >> 1);
const ALIGN_BITS = 4;
const MATCH_MIN_LEN = 2;
/** The probability of a 0 bit, in 1/2048ths, before any bit was seen. */
const PROB_INIT = 1024;

/** The range decoder of an LZMA stream over `input` from `pos`; `fail` throws with the offset it is given. */
class RangeDecoder {
  range = 0xffffffff;
  code = 0;

  constructor(private input: Buffer, public pos: number, private fail: (at: number, message: string) => never) {
    if (this.byte() !== 0) fail(pos, 'range coder: expected its first byte to be 0');
    for (let i = 0; i < 4; i++) this.code = ((this.code << 8) | this.byte()) >>> 0;
    if (this.code === this.range) fail(pos, 'range coder: its initial code equals its range');
  }

  private byte(): number {
    if (this.pos >= this.input.length) this.fail(this.pos, 'expected more compressed data, the stream ended');
    return this.input[this.pos++];
  }

  private normalize(): void {
    if (this.range < 0x1000000) {
      this.range = (this.range << 8) >>> 0;
      this.code = ((this.code << 8) | this.byte()) >>> 0;
    }
  }

  /** One bit coded with probability `probs[i]`, which adapts to it. */
  bit(probs: Uint16Array, i: number): number {
    const p = probs[i];
    const bound = (this.range >>> 11) * p;
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      probs[i] = p + ((2048 - p) >>> 5);
      bit = 0;
    } else {
      this.range -= bound;
      this.code -= bound;
      probs[i] = p - (p >>> 5);
      bit = 1;
    }
    this.normalize();
    return bit;
  }

  /** `count` bits of equal probability, most significant first. */
  direct(count: number): number {
    let v = 0;
    for (let i = 0; i < count; i++) {
      this.range >>>= 1;
      let bit = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        bit = 1;
      }
      v = v * 2 + bit;
      this.normalize();
    }
    return v;
  }

  /** A `bits`-bit symbol from the bit tree at `probs[base + 1 …]` (a tree's slot 0 is unused), most significant bit first. */
  tree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    for (let i = 0; i < bits; i++) m = (m << 1) + this.bit(probs, base + m);
    return m - (1 << bits);
  }

  /** The same, least significant bit first. */
  reverseTree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    let v = 0;
    for (let i = 0; i < bits; i++) {
      const bit = this.bit(probs, base + m);
      m = (m << 1) + bit;
      v |= bit << i;
    }
    return v;
  }
}

/** Match and rep-match lengths: a choice bit, then a 3-bit (low, mid: per position state) or 8-bit tree. */
class LengthDecoder {
  private probs: Uint16Array;
  constructor() {
    // choice, choice2, low[16][8], mid[16][8], high[256]
    this.probs = new Uint16Array(2 + 2 * POS_STATES_MAX * 8 + 256).fill(PROB_INIT);
  }

  decode(rc: RangeDecoder, posState: number): number {
    const { probs } = this;
    if (rc.bit(probs, 0) === 0) return rc.tree(probs, 2 + posState * 8, 3);
    if (rc.bit(probs, 1) === 0) return 8 + rc.tree(probs, 2 + POS_STATES_MAX * 8 + posState * 8, 3);
    return 16 + rc.tree(probs, 2 + 2 * POS_STATES_MAX * 8, 8);
  }
}

/** The decoded bytes, grown as needed up to `cap`. */
class Output {
  bytes: Buffer;
  size = 0;
  constructor(expected: number | null, private cap: number, private fail: (message: string) => never) {
    // A header's size is a claim: memory beyond 16 MB comes as the output grows.
    this.bytes = Buffer.allocUnsafe(Math.max(Math.min(expected ?? 1 << 16, cap, 1 << 24), 1));
  }

  private room(n: number): void {
    if (this.size + n <= this.bytes.length) return;
    if (this.size + n > this.cap) this.fail(`decompressed size: expected at most ${this.cap} bytes, the stream produces more`);
    const grown = Buffer.allocUnsafe(Math.min(Math.max(this.bytes.length * 2, this.size + n), this.cap));
    this.bytes.copy(grown, 0, 0, this.size);
    this.bytes = grown;
  }

  put(b: number): void {
    this.room(1);
    this.bytes[this.size++] = b;
  }

  /** `len` bytes from `distance` bytes back (overlapping copies repeat the pattern, as LZ77 means). */
  copy(distance: number, len: number): void {
    this.room(len);
    const { bytes } = this;
    let from = this.size - distance;
    for (let i = 0; i < len; i++) bytes[this.size++] = bytes[from++];
  }

  back(distance: number): number {
    return this.bytes[this.size - distance];
  }
}

/**
 * Decodes an lzma_alone stream (properties byte, dictionary size, uncompressed size or all ones, then LZMA1
 * data) into at most `cap` bytes. Errors name the file and the offset in it (`at` is where `input` starts).
 */
export function lzmaAloneDecompress(file: string, input: Buffer, at: number, cap: number): Buffer {
  const fail = (offset: number, message: string): never => {
    throw new ObjectError(file, at + offset, `lzma stream: ${message}`, offset >= input.length ? 'truncated' : 'compression');
  };
  if (input.length < HEADER_SIZE) fail(input.length, `expected a ${HEADER_SIZE}-byte header, the stream has ${input.length} bytes`);
  const props = input[0];
  if (props >= 9 * 5 * 5) fail(0, `properties byte: expected below 225, found ${props}`);
  const lc = props % 9;
  const lp = Math.floor(props / 9) % 5;
  const pb = Math.floor(props / 45);
  const dictSize = Math.max(input.readUInt32LE(1), 1 << 12);
  const sizeLow = input.readUInt32LE(5);
  const sizeHigh = input.readUInt32LE(9);
  const sizeKnown = !(sizeLow === 0xffffffff && sizeHigh === 0xffffffff);
  const size = sizeHigh * 2 ** 32 + sizeLow;
  if (sizeKnown && size > cap) fail(5, `uncompressed size: expected at most ${cap} bytes, the header says ${size}`);
  const out = new Output(sizeKnown ? size : null, cap, (message) => fail(rc.pos, message));
  const rc = new RangeDecoder(input, HEADER_SIZE, fail);
  decodeStream(rc, out, { lc, lp, pb, dictSize, size: sizeKnown ? size : null }, (message) => fail(rc.pos, message));
  return out.bytes.subarray(0, out.size);
}

interface StreamProperties {
  readonly lc: number;
  readonly lp: number;
  readonly pb: number;
  readonly dictSize: number;
  /** Null: the stream ends with an end marker. */
  readonly size: number | null;
}

/** The LZMA1 decoding loop: literals, matches and the four repeated distances, until the size or the end marker. */
function decodeStream(rc: RangeDecoder, out: Output, p: StreamProperties, fail: (message: string) => never): void {
  const pbMask = (1 << p.pb) - 1;
  const lpMask = (1 << p.lp) - 1;
  const literals = new Uint16Array(0x300 << (p.lc + p.lp)).fill(PROB_INIT);
  const isMatch = new Uint16Array(STATES << 4).fill(PROB_INIT);
  const isRep = new Uint16Array(STATES).fill(PROB_INIT);
  const isRepG0 = new Uint16Array(STATES).fill(PROB_INIT);
  const isRepG1 = new Uint16Array(STATES).fill(PROB_INIT);
  const isRepG2 = new Uint16Array(STATES).fill(PROB_INIT);
  const isRep0Long = new Uint16Array(STATES << 4).fill(PROB_INIT);
  const posSlots = new Uint16Array(LEN_TO_POS_STATES << 6).fill(PROB_INIT);
  const posDecoders = new Uint16Array(1 + FULL_DISTANCES - END_POS_MODEL_INDEX).fill(PROB_INIT);
  const align = new Uint16Array(1 << ALIGN_BITS).fill(PROB_INIT);
  const lengths = new LengthDecoder();
  const repLengths = new LengthDecoder();
  let state = 0;
  let rep0 = 0;
  let rep1 = 0;
  let rep2 = 0;
  let rep3 = 0;
  const remaining = () => (p.size === null ? Infinity : p.size - out.size);

  const literal = () => {
    const prev = out.size > 0 ? out.back(1) : 0;
    const base = 0x300 * (((out.size & lpMask) << p.lc) + (prev >>> (8 - p.lc)));
    let symbol = 1;
    if (state >= 7) {
      let matchByte = out.back(rep0 + 1);
      while (symbol < 0x100) {
        const matchBit = (matchByte >>> 7) & 1;
        matchByte <<= 1;
        const bit = rc.bit(literals, base + ((1 + matchBit) << 8) + symbol);
        symbol = (symbol << 1) | bit;
        if (matchBit !== bit) break;
      }
    }
    while (symbol < 0x100) symbol = (symbol << 1) | rc.bit(literals, base + symbol);
    out.put(symbol - 0x100);
  };

  const distance = (len: number): number => {
    const slot = rc.tree(posSlots, Math.min(len, LEN_TO_POS_STATES - 1) << 6, 6);
    if (slot < 4) return slot;
    const directBits = (slot >>> 1) - 1;
    let dist = (2 | (slot & 1)) * 2 ** directBits;
    if (slot < END_POS_MODEL_INDEX) return dist + rc.reverseTree(posDecoders, dist - slot, directBits);
    dist += rc.direct(directBits - ALIGN_BITS) * 2 ** ALIGN_BITS;
    return dist + rc.reverseTree(align, 0, ALIGN_BITS);
  };

  for (;;) {
    if (remaining() === 0 && rc.code === 0) return;
    const posState = out.size & pbMask;
    if (rc.bit(isMatch, (state << 4) + posState) === 0) {
      if (remaining() === 0) fail(`expected the end of the stream after ${p.size} bytes, found more data`);
      literal();
      state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
      continue;
    }
    let len: number;
    if (rc.bit(isRep, state) !== 0) {
      if (remaining() === 0) fail(`expected the end of the stream after ${p.size} bytes, found more data`);
      if (out.size === 0) fail('a repeated match before any byte was decoded');
      if (rc.bit(isRepG0, state) === 0) {
        if (rc.bit(isRep0Long, (state << 4) + posState) === 0) {
          state = state < 7 ? 9 : 11;
          out.put(out.back(rep0 + 1));
          continue;
        }
      } else {
        let dist: number;
        if (rc.bit(isRepG1, state) === 0) dist = rep1;
        else {
          if (rc.bit(isRepG2, state) === 0) dist = rep2;
          else {
            dist = rep3;
            rep3 = rep2;
          }
          rep2 = rep1;
        }
        rep1 = rep0;
        rep0 = dist;
      }
      len = repLengths.decode(rc, posState);
      state = state < 7 ? 8 : 11;
    } else {
      rep3 = rep2;
      rep2 = rep1;
      rep1 = rep0;
      len = lengths.decode(rc, posState);
      state = state < 7 ? 7 : 10;
      rep0 = distance(len);
      if (rep0 === 0xffffffff) {
        if (rc.code !== 0) fail('end marker: expected the range coder to finish with code 0');
        if (p.size !== null && remaining() !== 0) fail(`end marker after ${out.size} bytes, the header says ${p.size}`);
        return;
      }
      if (remaining() === 0) fail(`expected the end of the stream after ${p.size} bytes, found a match`);
      if (rep0 >= p.dictSize) fail(`match distance ${rep0 + 1} exceeds the dictionary size ${p.dictSize}`);
    }
    if (rep0 >= out.size) fail(`match distance ${rep0 + 1}: only ${out.size} bytes were decoded`);
    len += MATCH_MIN_LEN;
    if (len > remaining()) fail(`a match of ${len} bytes runs past the ${p.size} bytes the header says`);
    out.copy(rep0 + 1, len);
  }
}
