// Huffman-coded literals of the zstd format (RFC 8878 §4.2): the tree description (weights written directly
// or FSE-compressed), the decoding table built from it, and the one or four streams it decodes.
import { BackwardBits, type ZstdSource } from './bits.js';
import { initState, nextState, readTable } from './fse.js';

/** Indexed by the next `log` bits of a stream: the symbol they begin with and how many bits its code has. */
export interface HuffmanTable {
  readonly log: number;
  readonly symbol: Uint8Array;
  readonly bits: Uint8Array;
}

const MAX_CODE_BITS = 11;
const MAX_WEIGHT_LOG = 6;
const MAX_WEIGHTS = 255;

/** A tree description at `at` (ending before `end`): the table, the first byte after it, and how its weights were written. */
export function readHuffmanTable(src: ZstdSource, at: number, end: number): { table: HuffmanTable; next: number; direct: boolean } {
  src.need(at, 1, end, 'Huffman tree description');
  const header = src.bytes[at];
  let weights: Uint8Array;
  let next: number;
  if (header < 128) {
    next = at + 1 + header;
    src.need(at + 1, header, end, 'Huffman tree description (FSE-compressed weights)');
    weights = fseWeights(src, at + 1, next);
  } else {
    const count = header - 127;
    next = at + 1 + ((count + 1) >> 1);
    src.need(at + 1, (count + 1) >> 1, end, 'Huffman tree description (direct weights)');
    weights = new Uint8Array(count);
    for (let i = 0; i < count; i++) weights[i] = (src.bytes[at + 1 + (i >> 1)] >> (i & 1 ? 0 : 4)) & 15;
  }
  return { table: tableFromWeights(src, at, weights), next, direct: header >= 128 };
}

/** Weights compressed with FSE: two states over one stream, taking turns until the stream runs out. */
function fseWeights(src: ZstdSource, at: number, end: number): Uint8Array {
  const what = 'Huffman weights';
  const { table, next } = readTable(src, at, end, MAX_WEIGHT_LOG, MAX_CODE_BITS, what);
  const bits = new BackwardBits(src, next, end, what);
  const out: number[] = [];
  const states = [initState(table, bits), initState(table, bits)];
  for (let turn = 0; ; turn ^= 1) {
    if (out.length >= MAX_WEIGHTS) src.fail(bits.offset, what, `at most ${MAX_WEIGHTS} weights, the stream holds more`);
    out.push(table.symbol[states[turn]]);
    states[turn] = nextState(table, states[turn], bits);
    if (bits.left < 0) {
      out.push(table.symbol[states[turn ^ 1]]);
      break;
    }
  }
  if (out.length > MAX_WEIGHTS) src.fail(bits.offset, what, `at most ${MAX_WEIGHTS} weights, the stream holds more`);
  return Uint8Array.from(out);
}

/**
 * The decoding table of the listed weights plus the last symbol's, implied: the one that makes the sum of
 * 2^(weight-1) a power of two, 2^maxBits.
 */
function tableFromWeights(src: ZstdSource, at: number, weights: Uint8Array): HuffmanTable {
  const what = 'Huffman tree description';
  let total = 0;
  for (const w of weights) if (w) total += 1 << (w - 1);
  if (total === 0) src.fail(at, what, 'at least one non-zero weight, found none');
  const log = 32 - Math.clz32(total);
  if (log > MAX_CODE_BITS) src.fail(at, what, `codes of at most ${MAX_CODE_BITS} bits, found weights summing to ${total}`);
  const rest = (1 << log) - total;
  if (rest & (rest - 1)) src.fail(at, what, `weights whose sum is a power of two short of one symbol's, found ${total} (${rest} short of ${1 << log})`);
  const all = new Uint8Array(weights.length + 1);
  all.set(weights);
  all[weights.length] = 32 - Math.clz32(rest);
  const start = new Uint32Array(log + 2);
  for (const w of all) if (w) start[w + 1] += 1 << (w - 1);
  for (let w = 1; w <= log; w++) start[w + 1] += start[w];
  const symbol = new Uint8Array(1 << log);
  const bits = new Uint8Array(1 << log);
  for (let s = 0; s < all.length; s++) {
    const w = all[s];
    if (!w) continue;
    const from = start[w];
    const to = from + (1 << (w - 1));
    symbol.fill(s, from, to);
    bits.fill(log + 1 - w, from, to);
    start[w] = to;
  }
  return { log, symbol, bits };
}

/**
 * `count` literals from one stream [start, end) into `out` at `at`. Every code takes at least one bit, so a
 * stream too short for `count` fails after at most 8 × its size symbols.
 */
function decodeStream(src: ZstdSource, t: HuffmanTable, start: number, end: number, out: Uint8Array, at: number, count: number, what: string): void {
  const bits = new BackwardBits(src, start, end, what);
  const { log, symbol, bits: width } = t;
  for (let i = at; i < at + count; i++) {
    const code = bits.peek(log);
    out[i] = symbol[code];
    bits.skip(width[code]);
    if (bits.left < 0) src.fail(start, what, `${count} literals, the stream ends after ${i - at}`);
  }
  bits.expectEnd(`its ${count} literals`);
}

/** `count` literals from the streams at [at, end): one stream, or four after a 6-byte jump table. */
export function decodeLiterals(src: ZstdSource, t: HuffmanTable, at: number, end: number, streams: 1 | 4, out: Uint8Array, count: number): void {
  if (streams === 1) return decodeStream(src, t, at, end, out, 0, count, 'Huffman literals stream');
  src.need(at, 6, end, 'Huffman jump table');
  const b = src.bytes;
  const sizes = [b.readUInt16LE(at), b.readUInt16LE(at + 2), b.readUInt16LE(at + 4)];
  const first = at + 6;
  const last = end - first - sizes[0] - sizes[1] - sizes[2];
  if (last < 1) src.fail(at, 'Huffman jump table', `stream sizes ${sizes.join(', ')} leaving a fourth stream inside ${end - first} bytes, found ${last}`);
  const segment = (count + 3) >> 2;
  if (count < 3 * segment) src.fail(at, 'Huffman literals', `at least ${3 * segment} literals for four streams of ${segment}, found ${count}`);
  let p = first;
  for (let k = 0; k < 4; k++) {
    const size = k < 3 ? sizes[k] : last;
    decodeStream(src, t, p, p + size, out, k * segment, k < 3 ? segment : count - 3 * segment, `Huffman literals stream ${k + 1}`);
    p += size;
  }
}
