// FSE (tANS) decoding tables of the zstd format (RFC 8878 §4.1): read from a table description, built from a
// predefined distribution, or one symbol repeated (RLE mode); and the state machine that walks them.
import type { BackwardBits, ZstdSource } from './bits.js';

/** A decoding table: per state, the symbol it emits, and the bits and baseline of the next state. */
export interface FseTable {
  readonly log: number;
  readonly symbol: Uint8Array;
  readonly bits: Uint8Array;
  readonly base: Uint16Array;
}

/** A table whose single state emits `symbol` and reads no bits (RLE mode). */
export function rleTable(symbol: number): FseTable {
  return { log: 0, symbol: Uint8Array.of(symbol), bits: new Uint8Array(1), base: new Uint16Array(1) };
}

/**
 * The table a distribution describes: `norm[s]` states for symbol s, -1 for a "less than 1" probability
 * (one state, placed at the table's end). The counts are known to sum to 2^log.
 */
export function buildTable(norm: ArrayLike<number>, log: number): FseTable {
  const size = 1 << log;
  const symbol = new Uint8Array(size);
  const next = new Uint16Array(norm.length);
  let high = size - 1;
  for (let s = 0; s < norm.length; s++) {
    if (norm[s] === -1) {
      symbol[high--] = s;
      next[s] = 1;
    } else {
      next[s] = norm[s];
    }
  }
  const step = (size >> 1) + (size >> 3) + 3;
  let pos = 0;
  for (let s = 0; s < norm.length; s++) {
    for (let i = 0; i < norm[s]; i++) {
      symbol[pos] = s;
      do pos = (pos + step) & (size - 1);
      while (pos > high);
    }
  }
  const bits = new Uint8Array(size);
  const base = new Uint16Array(size);
  for (let u = 0; u < size; u++) {
    const state = next[symbol[u]]++;
    bits[u] = log - (31 - Math.clz32(state));
    base[u] = (state << bits[u]) - size;
  }
  return { log, symbol, bits, base };
}

/**
 * An FSE table description (RFC 8878 §4.1.1) at `at`, ending before `end`: the accuracy log (at most
 * `maxLog`), then the count of each symbol up to `maxSymbol`. Returns the table and the first byte after it.
 */
export function readTable(src: ZstdSource, at: number, end: number, maxLog: number, maxSymbol: number, what: string): { table: FseTable; next: number } {
  const b = src.bytes;
  let bit = 0;
  /** The next `n` bits (n ≤ 16), least significant first, without consuming them. */
  const peek = (n: number) => {
    const i = at + (bit >>> 3);
    if (at + ((bit + n + 7) >>> 3) > end) src.fail(i, what, `a table description of more bytes, found the end of its section at ${end}`);
    return ((b[i] | (b[i + 1] << 8) | (b[i + 2] << 16)) >>> (bit & 7)) & ((1 << n) - 1);
  };
  const log = peek(4) + 5;
  bit += 4;
  if (log > maxLog) src.fail(at, what, `an accuracy log of at most ${maxLog}, found ${log}`);
  const norm: number[] = [];
  let remaining = (1 << log) + 1;
  let threshold = 1 << log;
  let width = log + 1;
  while (remaining > 1) {
    if (norm.length > maxSymbol) src.fail(at + (bit >>> 3), what, `counts for symbols up to ${maxSymbol} summing to ${1 << log}, found ${(1 << log) + 1 - remaining} after symbol ${maxSymbol}`);
    const max = 2 * threshold - 1 - remaining;
    let value = peek(width);
    if ((value & (threshold - 1)) < max) {
      value &= threshold - 1;
      bit += width - 1;
    } else {
      value &= 2 * threshold - 1;
      if (value >= threshold) value -= max;
      bit += width;
    }
    const count = value - 1;
    remaining -= Math.abs(count);
    norm.push(count);
    while (remaining < threshold) {
      width--;
      threshold >>= 1;
    }
    if (count === 0) {
      // A zero count is followed by 2-bit repeat flags: 3 means three more zeros and another flag.
      for (let repeat = 3; repeat === 3; bit += 2) {
        repeat = peek(2);
        for (let k = 0; k < repeat; k++) norm.push(0);
        if (norm.length > maxSymbol + 1) src.fail(at + (bit >>> 3), what, `symbols up to ${maxSymbol}, found zero counts up to symbol ${norm.length - 1}`);
      }
    }
  }
  return { table: buildTable(norm, log), next: at + ((bit + 7) >>> 3) };
}

/** The state a table starts in: its first `log` bits. */
export function initState(t: FseTable, bits: BackwardBits): number {
  return bits.read(t.log);
}

/** The state after `state` (its symbol already taken). */
export function nextState(t: FseTable, state: number, bits: BackwardBits): number {
  return t.base[state] + bits.read(t.bits[state]);
}
