// A zstd decoder for whole inputs (RFC 8878): frames one after another (skippable ones skipped), their blocks,
// the content checksum. Every length, offset and count is checked before use, so that any input costs time
// linear in its size plus the output it produces, and no more output than the cap.
import { ZstdSource } from './bits.js';
import { readLiterals } from './literals.js';
import { runSequences } from './sequences.js';
import { CappedOutput } from '../capped-output.js';
import { BLOCK_LIMIT, type FrameState, room, type ZstdModes } from './state.js';
import { xxh64 } from './xxh64.js';

export type { ZstdModes } from './state.js';

const ZSTD_MAGIC = 0xfd2fb528;
/**
 * zstd's reference decoder refuses a frame whose window is over 2^27 bytes unless told otherwise
 * (ZSTD_WINDOWLOG_LIMIT_DEFAULT); the kernel's zstd streams (modules, `zstd -22 --ultra` vmlinuz) stay within it.
 */
const ZSTD_WINDOW_LIMIT = 1 << 27;

interface FrameHeader {
  readonly window: number;
  readonly contentSize: number | null;
  readonly checksum: boolean;
  /** The offset of the first block. */
  readonly next: number;
}

/** The frame header after the magic number at `at` (RFC 8878 §3.1.1.1), its window checked against the limit. */
function readFrameHeader(src: ZstdSource, at: number): FrameHeader {
  const b = src.bytes;
  const what = 'frame header';
  src.need(at + 4, 1, b.length, what);
  const descriptor = b[at + 4];
  if (descriptor & 8) src.fail(at + 4, what, `the reserved bit 3 of the frame header descriptor clear, found 0x${descriptor.toString(16)}`);
  const single = (descriptor & 0x20) !== 0;
  const dictionaryWidth = [0, 1, 2, 4][descriptor & 3];
  const sizeWidth = [single ? 1 : 0, 2, 4, 8][descriptor >> 6];
  let p = at + 5;
  let window = 0;
  if (!single) {
    src.need(p, 1, b.length, what);
    const base = 2 ** (10 + (b[p] >> 3));
    window = base + (base / 8) * (b[p] & 7);
    p++;
  }
  src.need(p, dictionaryWidth + sizeWidth, b.length, what);
  const dictionaryAt = p;
  p += dictionaryWidth;
  let contentSize: number | null = null;
  if (sizeWidth) {
    contentSize = sizeWidth === 8 ? b.readUInt32LE(p) + b.readUInt32LE(p + 4) * 0x1_0000_0000 : b.readUIntLE(p, sizeWidth) + (sizeWidth === 2 ? 256 : 0);
  }
  if (single) window = contentSize!;
  if (window > ZSTD_WINDOW_LIMIT) {
    src.fail(single ? p : at + 5, what, `a window of at most ${ZSTD_WINDOW_LIMIT} bytes (zstd's default decoder limit), found ${window}`);
  }
  const dictionary = dictionaryWidth ? b.readUIntLE(dictionaryAt, dictionaryWidth) : 0;
  if (dictionary !== 0) src.fail(dictionaryAt, what, `no dictionary (ksymtree decodes none), found dictionary id ${dictionary}`);
  return { window, contentSize, checksum: (descriptor & 4) !== 0, next: p + sizeWidth };
}

/**
 * Walks the frames of `input` (at least one): calls `frame` at each zstd frame's offset, which returns the
 * offset after it, and steps over skippable frames.
 */
function eachFrame(src: ZstdSource, frame: (at: number) => number, seen?: ZstdModes): void {
  const input = src.bytes;
  if (input.length === 0) src.fail(0, 'stream', 'a frame, found an empty input');
  for (let at = 0; at < input.length; ) {
    src.need(at, 4, input.length, 'frame magic number');
    const magic = input.readUInt32LE(at);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      src.need(at + 4, 4, input.length, 'skippable frame size');
      const size = input.readUInt32LE(at + 4);
      src.need(at + 8, size, input.length, 'skippable frame');
      seen?.add('frame:skippable');
      at += 8 + size;
    } else if (magic === ZSTD_MAGIC) {
      at = frame(at);
    } else {
      src.fail(at, 'stream', `a frame (magic number 0xfd2fb528, or 0x184d2a5? for a skippable one), found 0x${magic.toString(16).padStart(8, '0')}`);
    }
  }
}

/**
 * Every frame of `input`, their contents concatenated, at most `cap` bytes; `seen` collects the block,
 * literals and sequence modes met (a test's coverage hook).
 */
export function decodeZstd(file: string, input: Buffer, cap: number, seen?: ZstdModes): Buffer {
  const src = new ZstdSource(file, input);
  const out = new CappedOutput(null, cap, () => src.overflow(0, cap));
  eachFrame(src, (at) => decodeFrame(src, out, at, seen), seen);
  return out.result();
}

/**
 * Where each zstd frame of `input` lies, [start, end), found from its headers alone (none decoded; skippable
 * frames left out): zlib's zstd (Node ≥ 22.15) stops after the first frame, so it is given one at a time.
 */
export function zstdFrames(file: string, input: Buffer): [number, number][] {
  const src = new ZstdSource(file, input);
  const frames: [number, number][] = [];
  eachFrame(src, (at) => {
    const header = readFrameHeader(src, at);
    const blockMax = Math.min(header.window, BLOCK_LIMIT);
    let p = header.next;
    for (let last = false; !last; ) {
      const block = readBlockHeader(src, p, blockMax);
      last = block.last;
      p = block.end;
    }
    if (header.checksum) src.need(p, 4, input.length, 'content checksum');
    const end = p + (header.checksum ? 4 : 0);
    frames.push([at, end]);
    return end;
  });
  return frames;
}

const BLOCK_TYPES = ['raw', 'rle', 'compressed'] as const;

interface Block {
  readonly last: boolean;
  readonly type: (typeof BLOCK_TYPES)[number];
  /** Raw and RLE blocks: the bytes they produce; compressed blocks: the bytes of their body. */
  readonly size: number;
  readonly body: number;
  /** The offset after the block: its body is in the input. */
  readonly end: number;
}

/** The block header at `p` (RFC 8878 §3.1.1.2), its size checked against `blockMax` and its body against the input's end. */
function readBlockHeader(src: ZstdSource, p: number, blockMax: number): Block {
  const b = src.bytes;
  src.need(p, 3, b.length, 'block header');
  const word = b.readUIntLE(p, 3);
  const type = BLOCK_TYPES[(word >> 1) & 3];
  if (!type) src.fail(p, 'block header', 'a block type of 0 (raw), 1 (RLE) or 2 (compressed), found 3 (reserved)');
  const size = word >>> 3;
  if (size > blockMax) src.fail(p, 'block header', `a block size of at most ${blockMax} (the window or 128 KB, whichever is smaller), found ${size}`);
  const body = p + 3;
  const stored = type === 'rle' ? 1 : size;
  src.need(body, stored, b.length, `${type === 'rle' ? 'RLE' : type} block`);
  return { last: (word & 1) === 1, type, size, body, end: body + stored };
}

/** One frame at `at` into `out`; returns the offset after it. */
function decodeFrame(src: ZstdSource, out: CappedOutput, at: number, seen: ZstdModes | undefined): number {
  const header = readFrameHeader(src, at);
  const b = src.bytes;
  const blockMax = Math.min(header.window, BLOCK_LIMIT);
  const frame: FrameState = {
    start: out.size, window: header.window, blockMax, contentSize: header.contentSize,
    huffman: null, literalLengths: null, offsets: null, matchLengths: null, rep: [1, 4, 8], seen,
  };
  if (header.contentSize !== null && out.size + header.contentSize > out.cap) {
    src.fail(header.next - 1, 'frame header', `a content size within the decompressed size cap of ${out.cap - out.size} bytes, found ${header.contentSize}`);
  }
  // Each block takes at least 3 bytes of input and gives at most blockMax bytes: no more is reserved than that.
  const bound = Math.ceil((b.length - header.next) / 3) * blockMax;
  out.reserve(out.size + Math.min(header.contentSize ?? 4 * (b.length - header.next), bound));
  let p = header.next;
  for (let last = false; !last; ) {
    const block = readBlockHeader(src, p, blockMax);
    last = block.last;
    if (block.type === 'compressed') {
      runSequences(src, frame, out, readLiterals(src, frame, block.body, block.end), block.end);
    } else {
      room(src, out, frame, block.size, p);
      if (block.type === 'raw') b.copy(out.bytes, out.size, block.body, block.end);
      else out.bytes.fill(b[block.body], out.size, out.size + block.size);
      out.size += block.size;
    }
    seen?.add(`block:${block.type}`);
    p = block.end;
  }
  const produced = out.size - frame.start;
  if (header.contentSize !== null && produced !== header.contentSize) {
    src.fail(p, 'frame', `${header.contentSize} bytes of content (the frame header's content size), found ${produced}`);
  }
  if (!header.checksum) return p;
  src.need(p, 4, b.length, 'content checksum');
  const [, low] = xxh64(out.bytes.subarray(frame.start, out.size));
  const stored = b.readUInt32LE(p);
  if (stored !== low) src.fail(p, 'content checksum', `0x${low.toString(16).padStart(8, '0')} (the low 32 bits of the content's XXH64), found 0x${stored.toString(16).padStart(8, '0')}`);
  seen?.add('frame:checksum');
  return p + 4;
}
