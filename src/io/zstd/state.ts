// What the zstd decoder carries from block to block: the output (grown as it fills, never past the cap or a
// frame's declared content size) and each frame's window, repeat offsets and reusable tables.
import type { ZstdSource } from './bits.js';
import type { FseTable } from './fse.js';
import type { HuffmanTable } from './huffman.js';

/** The largest block the format allows (a smaller window makes it smaller). */
export const BLOCK_LIMIT = 128 * 1024;

/** The literals, sequences and block modes a decoder met, by name (`literals:rle`, `offsets:repeat`, ...): a test's coverage hook. */
export type ZstdModes = Set<string>;

export interface FrameState {
  /** Output offset of the frame's first byte: no match reaches before it. */
  readonly start: number;
  readonly window: number;
  /** Largest block, compressed or not: the window or 128 KB, whichever is smaller. */
  readonly blockMax: number;
  /** The frame's declared content size, or null. */
  readonly contentSize: number | null;
  huffman: HuffmanTable | null;
  literalLengths: FseTable | null;
  offsets: FseTable | null;
  matchLengths: FseTable | null;
  /** The three repeat offsets, most recent first. */
  readonly rep: [number, number, number];
  readonly seen: ZstdModes | undefined;
}

export class Output {
  bytes: Buffer = Buffer.alloc(0);
  length = 0;

  constructor(
    private readonly src: ZstdSource,
    readonly cap: number,
  ) {}

  /**
   * Room for `n` more bytes of `frame` (read from input offset `at`), failing past the cap or the frame's
   * content size; capacity grows by doubling, at most to what the frame may still produce.
   */
  room(frame: FrameState, n: number, at: number): void {
    const end = this.length + n;
    if (frame.contentSize !== null && end - frame.start > frame.contentSize) {
      this.src.fail(at, 'block', `at most ${frame.contentSize} bytes of content (the frame header's content size), the frame produces more`);
    }
    if (end > this.cap) this.src.fail(at, 'block', `at most ${this.cap} bytes of output (the decompressed size cap), the stream produces more`);
    if (end > this.bytes.length) this.resize(Math.max(end, Math.min(this.limit(frame), 2 * this.bytes.length)));
  }

  /** The capacity for a frame starting now that is expected to produce `hint` bytes. */
  expect(frame: FrameState, hint: number): void {
    const want = Math.min(this.limit(frame), this.length + hint);
    if (want > this.bytes.length) this.resize(want);
  }

  /** The output, without unused capacity beyond a quarter of it. */
  result(): Buffer {
    return this.length * 4 >= this.bytes.length * 3 ? this.bytes.subarray(0, this.length) : Buffer.from(this.bytes.subarray(0, this.length));
  }

  private limit(frame: FrameState): number {
    return Math.min(this.cap, frame.contentSize === null ? Infinity : frame.start + frame.contentSize);
  }

  private resize(size: number): void {
    const bytes = Buffer.allocUnsafe(size);
    this.bytes.copy(bytes, 0, 0, this.length);
    this.bytes = bytes;
  }
}
