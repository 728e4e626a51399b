// The literals section of a compressed zstd block (RFC 8878 §3.1.1.3.1): raw, one byte repeated (RLE), or
// Huffman-coded in one or four streams with a new tree or the previous block's (treeless).
import type { ZstdSource } from './bits.js';
import { decodeLiterals, readHuffmanTable } from './huffman.js';
import { BLOCK_LIMIT, type FrameState } from './state.js';

/**
 * A block's literals: `count` bytes of `bytes` from `start` (raw ones stay in the input), or, when `rle` is
 * not null, that byte `count` times (never written out: a claimed count costs nothing until used).
 */
export interface Literals {
  readonly bytes: Buffer;
  readonly start: number;
  readonly count: number;
  readonly rle: number | null;
  /** The input offset of the sequences section that follows. */
  readonly next: number;
}

const TYPES = ['raw', 'rle', 'huffman', 'treeless'] as const;

/**
 * Where Huffman literals are decoded, one block's at a time (they are copied out before the next block is read):
 * one buffer per process, so that a stream of many tiny frames costs no allocation per frame. A Buffer, as the
 * input and the output are: one array kind in the copy loops.
 */
const HUFFMAN_LITERALS = Buffer.allocUnsafe(BLOCK_LIMIT);

/** The literals section at `at` of a block ending before `end`. */
export function readLiterals(src: ZstdSource, frame: FrameState, at: number, end: number): Literals {
  const b = src.bytes;
  src.need(at, 1, end, 'literals section header');
  const type = TYPES[b[at] & 3];
  const format = (b[at] >> 2) & 3;
  if (type === 'raw' || type === 'rle') {
    const width = format === 3 ? 3 : format === 1 ? 2 : 1;
    src.need(at, width, end, 'literals section header');
    const count = width === 1 ? b[at] >> 3 : width === 2 ? (b[at] >> 4) + (b[at + 1] << 4) : (b[at] >> 4) + (b[at + 1] << 4) + (b[at + 2] << 12);
    checkCount(src, frame, at, count);
    const start = at + width;
    frame.seen?.add(`literals:${type}`);
    if (type === 'rle') {
      src.need(start, 1, end, 'RLE literals');
      return { bytes: b, start, count, rle: b[start], next: start + 1 };
    }
    src.need(start, count, end, 'raw literals');
    return { bytes: b, start, count, rle: null, next: start + count };
  }
  const width = format === 3 ? 5 : format === 2 ? 4 : 3;
  const bitsEach = width === 5 ? 18 : width === 4 ? 14 : 10;
  src.need(at, width, end, 'literals section header');
  let header = 0;
  for (let i = width - 1; i >= 0; i--) header = header * 256 + b[at + i];
  const mask = 2 ** bitsEach;
  const count = Math.floor(header / 16) % mask;
  const size = Math.floor(header / 16 / mask) % mask;
  checkCount(src, frame, at, count);
  const start = at + width;
  src.need(start, size, end, `Huffman literals (${size} bytes)`);
  const streams = format === 0 ? 1 : 4;
  let from = start;
  if (type === 'huffman') {
    const tree = readHuffmanTable(src, start, start + size);
    frame.huffman = tree.table;
    from = tree.next;
    frame.seen?.add(tree.direct ? 'huffman:direct-weights' : 'huffman:fse-weights');
  } else if (!frame.huffman) {
    src.fail(at, 'literals section', 'a Huffman tree description before treeless literals, found none in this frame');
  }
  frame.seen?.add(`literals:${type}-${streams}`);
  decodeLiterals(src, frame.huffman!, from, start + size, streams, HUFFMAN_LITERALS, count);
  return { bytes: HUFFMAN_LITERALS, start: 0, count, rle: null, next: start + size };
}

function checkCount(src: ZstdSource, frame: FrameState, at: number, count: number): void {
  if (count > frame.blockMax) src.fail(at, 'literals section header', `at most ${frame.blockMax} literals (the block size limit), found ${count}`);
}
