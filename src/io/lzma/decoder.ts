// The LZMA decoder both containers share: the range decoder and the literal/match model, with every distance
// and length checked, so no input costs more than its output. lzma_alone (alone.ts) runs it once over a
// stream; LZMA2 (lzma2.ts) runs it chunk by chunk, keeping or resetting its state as each chunk says.
import type { CappedOutput } from '../capped-output.js';

const STATES = 12;
const POS_STATES_MAX = 1 << 4;
const LEN_TO_POS_STATES = 4;
const END_POS_MODEL_INDEX = 14;
const FULL_DISTANCES = 1 << (END_POS_MODEL_INDEX >> 1);
const ALIGN_BITS = 4;
const MATCH_MIN_LEN = 2;
/** The probability of a 0 bit, in 1/2048ths, before any bit was seen. */
const PROB_INIT = 1024;
/** The range coder's first five bytes: a zero and the initial code. */
export const RANGE_INIT_BYTES = 5;

/** Throws with the input offset it is given and what was expected there. */
export type DecodeError = (at: number, message: string) => never;

/** The range decoder of an LZMA stream over `input[pos, end)`. */
export class RangeDecoder {
  range = 0xffffffff;
  code = 0;

  constructor(private input: Uint8Array, public pos: number, private end: number, private fail: DecodeError) {
    if (this.byte() !== 0) fail(pos, 'range coder: expected its first byte to be 0');
    for (let i = 0; i < 4; i++) this.code = ((this.code << 8) | this.byte()) >>> 0;
    if (this.code === this.range) fail(pos, 'range coder: its initial code equals its range');
  }

  private byte(): number {
    if (this.pos >= this.end) this.fail(this.pos, 'expected more compressed data, the stream ended');
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
  // choice, choice2, low[16][8], mid[16][8], high[256]
  readonly probs = new Uint16Array(2 + 2 * POS_STATES_MAX * 8 + 256);

  decode(rc: RangeDecoder, posState: number): number {
    const { probs } = this;
    if (rc.bit(probs, 0) === 0) return rc.tree(probs, 2 + posState * 8, 3);
    if (rc.bit(probs, 1) === 0) return 8 + rc.tree(probs, 2 + POS_STATES_MAX * 8 + posState * 8, 3);
    return 16 + rc.tree(probs, 2 + 2 * POS_STATES_MAX * 8, 8);
  }
}

/** lc (literal context bits), lp (literal position bits), pb (position bits), from a properties byte. */
export interface LzmaProperties {
  readonly lc: number;
  readonly lp: number;
  readonly pb: number;
}

/** The properties byte `(pb * 5 + lp) * 9 + lc`, or null when it is 225 or more. */
export function lzmaProperties(byte: number): LzmaProperties | null {
  if (byte >= 9 * 5 * 5) return null;
  return { lc: byte % 9, lp: Math.floor(byte / 9) % 5, pb: Math.floor(byte / 45) };
}

/** Where a run of the decoder must stop: the output size to reach, or null to run to the end marker. */
export interface DecodeLimit {
  readonly end: number | null;
  /** Whether an end marker may end the run (lzma_alone; never in LZMA2). */
  readonly endMarker: boolean;
}

/**
 * The LZMA model: probabilities, the state machine and the four repeated distances. Its output is the
 * dictionary: matches reach back at most `dictSize` bytes and never before `dictStart` (the last dictionary
 * reset); positions (for pb and lp) count from there.
 */
export class LzmaDecoder {
  private props: LzmaProperties = { lc: 0, lp: 0, pb: 0 };
  private literals = new Uint16Array(0x300);
  private readonly isMatch = new Uint16Array(STATES << 4);
  private readonly isRep = new Uint16Array(STATES);
  private readonly isRepG0 = new Uint16Array(STATES);
  private readonly isRepG1 = new Uint16Array(STATES);
  private readonly isRepG2 = new Uint16Array(STATES);
  private readonly isRep0Long = new Uint16Array(STATES << 4);
  private readonly posSlots = new Uint16Array(LEN_TO_POS_STATES << 6);
  private readonly posDecoders = new Uint16Array(1 + FULL_DISTANCES - END_POS_MODEL_INDEX);
  private readonly align = new Uint16Array(1 << ALIGN_BITS);
  private readonly lengths = new LengthDecoder();
  private readonly repLengths = new LengthDecoder();
  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;
  dictStart = 0;

  constructor(private readonly out: CappedOutput, private readonly dictSize: number) {}

  /** New properties, and with them a state reset. */
  setProperties(props: LzmaProperties): void {
    this.props = props;
    if (this.literals.length !== 0x300 << (props.lc + props.lp)) this.literals = new Uint16Array(0x300 << (props.lc + props.lp));
    this.resetState();
  }

  /** Every probability back to even and the state machine to its start. */
  resetState(): void {
    for (const probs of [this.literals, this.isMatch, this.isRep, this.isRepG0, this.isRepG1, this.isRepG2, this.isRep0Long,
      this.posSlots, this.posDecoders, this.align, this.lengths.probs, this.repLengths.probs]) probs.fill(PROB_INIT);
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
  }

  /**
   * Decodes from `rc` until the output reaches `limit.end` (or the end marker, where allowed). `fail` names
   * the range decoder's position. Returns whether the run ended with an end marker.
   */
  decode(rc: RangeDecoder, limit: DecodeLimit, fail: (message: string) => never): boolean {
    const { out, props, literals, isMatch, isRep, isRepG0, isRepG1, isRepG2, isRep0Long, lengths, repLengths } = this;
    const pbMask = (1 << props.pb) - 1;
    const lpMask = (1 << props.lp) - 1;
    const remaining = () => (limit.end === null ? Infinity : limit.end - out.size);
    const tooMuch = (found: string) => fail(`expected the end of the stream after ${limit.end} bytes, found ${found}`);

    const literal = () => {
      const pos = out.size - this.dictStart;
      const prev = pos > 0 ? out.back(1) : 0;
      const base = 0x300 * (((pos & lpMask) << props.lc) + (prev >>> (8 - props.lc)));
      let symbol = 1;
      if (this.state >= 7) {
        let matchByte = out.back(this.rep0 + 1);
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
      const slot = rc.tree(this.posSlots, Math.min(len, LEN_TO_POS_STATES - 1) << 6, 6);
      if (slot < 4) return slot;
      const directBits = (slot >>> 1) - 1;
      let dist = (2 | (slot & 1)) * 2 ** directBits;
      if (slot < END_POS_MODEL_INDEX) return dist + rc.reverseTree(this.posDecoders, dist - slot, directBits);
      dist += rc.direct(directBits - ALIGN_BITS) * 2 ** ALIGN_BITS;
      return dist + rc.reverseTree(this.align, 0, ALIGN_BITS);
    };

    for (;;) {
      if (remaining() === 0 && (!limit.endMarker || rc.code === 0)) return false;
      const posState = (out.size - this.dictStart) & pbMask;
      const state = this.state;
      if (rc.bit(isMatch, (state << 4) + posState) === 0) {
        if (remaining() === 0) tooMuch('more data');
        literal();
        this.state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      let len: number;
      if (rc.bit(isRep, state) !== 0) {
        if (remaining() === 0) tooMuch('more data');
        if (out.size === this.dictStart) fail('a repeated match before any byte was decoded');
        if (rc.bit(isRepG0, state) === 0) {
          if (rc.bit(isRep0Long, (state << 4) + posState) === 0) {
            this.state = state < 7 ? 9 : 11;
            out.put(out.back(this.rep0 + 1));
            continue;
          }
        } else {
          let dist: number;
          if (rc.bit(isRepG1, state) === 0) dist = this.rep1;
          else {
            if (rc.bit(isRepG2, state) === 0) dist = this.rep2;
            else {
              dist = this.rep3;
              this.rep3 = this.rep2;
            }
            this.rep2 = this.rep1;
          }
          this.rep1 = this.rep0;
          this.rep0 = dist;
        }
        len = repLengths.decode(rc, posState);
        this.state = state < 7 ? 8 : 11;
      } else {
        this.rep3 = this.rep2;
        this.rep2 = this.rep1;
        this.rep1 = this.rep0;
        len = lengths.decode(rc, posState);
        this.state = state < 7 ? 7 : 10;
        this.rep0 = distance(len);
        if (this.rep0 === 0xffffffff) {
          if (!limit.endMarker) fail('an end marker, which this format does not allow');
          if (rc.code !== 0) fail('end marker: expected the range coder to finish with code 0');
          if (limit.end !== null && remaining() !== 0) fail(`end marker after ${out.size} bytes, the header says ${limit.end}`);
          return true;
        }
        if (remaining() === 0) tooMuch('a match');
        if (this.rep0 >= this.dictSize) fail(`match distance ${this.rep0 + 1} exceeds the dictionary size ${this.dictSize}`);
      }
      const rep0 = this.rep0;
      if (rep0 >= out.size - this.dictStart) fail(`match distance ${rep0 + 1}: only ${out.size - this.dictStart} bytes were decoded`);
      len += MATCH_MIN_LEN;
      if (len > remaining()) fail(`a match of ${len} bytes runs past the ${limit.end} bytes the header says`);
      out.copy(rep0 + 1, len);
    }
  }
}
