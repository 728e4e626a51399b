// What the zstd decoder carries from block to block: the output (grown as it fills, never past the cap or a
// frame's declared content size) and each frame's window, repeat offsets and reusable tables.
import type { CappedOutput } from '../capped-output.js';
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

/**
 * Room in `out` for `n` more bytes of `frame` (read from input offset `at`), failing past the cap or the
 * frame's content size.
 */
export function room(src: ZstdSource, out: CappedOutput, frame: FrameState, n: number, at: number): void {
  const end = out.size + n;
  if (frame.contentSize !== null && end - frame.start > frame.contentSize) {
    src.fail(at, 'block', `at most ${frame.contentSize} bytes of content (the frame header's content size), the frame produces more`);
  }
  if (end > out.cap) src.overflow(at, out.cap);
  out.room(n);
}
