// The sequences section of a compressed zstd block (RFC 8878 §3.1.1.3.2): the three code tables (predefined,
// RLE, FSE-compressed or repeated), then each sequence decoded and executed at once: literals copied, then a
// match copied from the window, every length and offset checked first.
import { BackwardBits, type ZstdSource } from './bits.js';
import { type FseTable, buildTable, initState, nextState, readTable, rleTable } from './fse.js';
import type { Literals } from './literals.js';
import type { CappedOutput } from '../capped-output.js';
import { type FrameState, room } from './state.js';

/** One code table kind: its name, predefined distribution, largest accuracy log and, per code, baseline and extra bits. */
interface CodeKind {
  readonly name: 'literal lengths' | 'offsets' | 'match lengths';
  readonly key: 'literalLengths' | 'offsets' | 'matchLengths';
  readonly predefined: FseTable;
  readonly maxLog: number;
  readonly maxCode: number;
}

const LITERAL_LENGTHS: CodeKind = {
  name: 'literal lengths', key: 'literalLengths', maxLog: 9, maxCode: 35,
  predefined: buildTable([4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1], 6),
};
const MATCH_LENGTHS: CodeKind = {
  name: 'match lengths', key: 'matchLengths', maxLog: 9, maxCode: 52,
  predefined: buildTable([1, 4, 3, 2, 2, 2, 2, 2, 2, ...Array<number>(37).fill(1), ...Array<number>(7).fill(-1)], 6),
};
const OFFSETS: CodeKind = {
  name: 'offsets', key: 'offsets', maxLog: 8, maxCode: 31,
  predefined: buildTable([1, 1, 1, 1, 1, 1, 2, 2, 2, ...Array<number>(15).fill(1), ...Array<number>(5).fill(-1)], 5),
};

/** Literal length codes 16..35 and match length codes 32..52: [baseline, extra bits]; lower codes are their own value (+3 for matches). */
const LL_LONG = [[16, 1], [18, 1], [20, 1], [22, 1], [24, 2], [28, 2], [32, 3], [40, 3], [48, 4], [64, 6], [128, 7], [256, 8], [512, 9], [1024, 10], [2048, 11], [4096, 12], [8192, 13], [16384, 14], [32768, 15], [65536, 16]];
const ML_LONG = [[35, 1], [37, 1], [39, 1], [41, 1], [43, 2], [47, 2], [51, 3], [59, 3], [67, 4], [83, 4], [99, 5], [131, 7], [259, 8], [515, 9], [1027, 10], [2051, 11], [4099, 12], [8195, 13], [16387, 14], [32771, 15], [65539, 16]];
const table = (long: number[][], first: number, count: number, add: number) => {
  const base = new Uint32Array(count);
  const bits = new Uint8Array(count);
  for (let c = 0; c < count; c++) [base[c], bits[c]] = c < first ? [c + add, 0] : long[c - first];
  return { base, bits };
};
const LL = table(LL_LONG, 16, 36, 0);
const ML = table(ML_LONG, 32, 53, 3);

const MODES = ['predefined', 'rle', 'fse', 'repeat'] as const;

/**
 * The sequences section at `lits.next` of a block ending before `end`, executed into `out` with the block's
 * literals; the literals left after the last sequence follow.
 */
export function runSequences(src: ZstdSource, frame: FrameState, out: CappedOutput, lits: Literals, end: number): void {
  const b = src.bytes;
  let at = lits.next;
  src.need(at, 1, end, 'sequences section header');
  let count = b[at];
  if (count >= 128) {
    const width = count === 255 ? 3 : 2;
    src.need(at, width, end, 'sequences section header');
    count = width === 3 ? b[at + 1] + (b[at + 2] << 8) + 0x7f00 : ((count - 128) << 8) + b[at + 1];
    at += width - 1;
  }
  at++;
  const block = { start: out.size, at: lits.next };
  let used = 0;
  if (count === 0) {
    if (at !== end) src.fail(at, 'sequences section', `the block to end after a section of no sequences, found ${end - at} more bytes`);
  } else {
    src.need(at, 1, end, 'sequences section header');
    const modes = b[at];
    if (modes & 3) src.fail(at, 'sequences section header', `reserved bits 0 in the compression modes byte, found 0x${modes.toString(16)}`);
    const ll = codeTable(src, frame, LITERAL_LENGTHS, modes >> 6, at + 1, end);
    const of = codeTable(src, frame, OFFSETS, (modes >> 4) & 3, ll, end);
    const ml = codeTable(src, frame, MATCH_LENGTHS, (modes >> 2) & 3, of, end);
    used = execute(src, frame, out, lits, count, new BackwardBits(src, ml, end, 'sequences bitstream'), block);
  }
  copyLiterals(src, frame, out, lits, used, lits.count - used, block);
}

/** The table of one code kind in `mode` (its description at `at`), kept in the frame for a later repeat; returns the offset after it. */
function codeTable(src: ZstdSource, frame: FrameState, kind: CodeKind, mode: number, at: number, end: number): number {
  frame.seen?.add(`${kind.key}:${MODES[mode]}`);
  let next = at;
  switch (MODES[mode]) {
    case 'predefined':
      frame[kind.key] = kind.predefined;
      break;
    case 'rle':
      src.need(at, 1, end, `${kind.name} RLE code`);
      if (src.bytes[at] > kind.maxCode) src.fail(at, `${kind.name} RLE code`, `a code of at most ${kind.maxCode}, found ${src.bytes[at]}`);
      frame[kind.key] = rleTable(src.bytes[at]);
      next = at + 1;
      break;
    case 'fse': {
      const read = readTable(src, at, end, kind.maxLog, kind.maxCode, `${kind.name} table description`);
      frame[kind.key] = read.table;
      next = read.next;
      break;
    }
    case 'repeat':
      if (!frame[kind.key]) src.fail(at, 'sequences section header', `a ${kind.name} table in an earlier block of the frame to repeat, found none`);
      break;
  }
  return next;
}

/** Where the block began: in the output, and in the input (for errors). */
interface BlockStart {
  readonly start: number;
  readonly at: number;
}

/** Decodes and executes `count` sequences; returns how many literals they used. */
function execute(src: ZstdSource, frame: FrameState, out: CappedOutput, lits: Literals, count: number, bits: BackwardBits, block: BlockStart): number {
  const ll = frame.literalLengths!;
  const of = frame.offsets!;
  const ml = frame.matchLengths!;
  let llState = initState(ll, bits);
  let ofState = initState(of, bits);
  let mlState = initState(ml, bits);
  const rep = frame.rep;
  let used = 0;
  for (let i = 0; i < count; i++) {
    const ofCode = of.symbol[ofState];
    const mlCode = ml.symbol[mlState];
    const llCode = ll.symbol[llState];
    const ofValue = (ofCode < 31 ? 1 << ofCode : 2 ** ofCode) + bits.read(ofCode);
    const matchLength = ML.base[mlCode] + bits.read(ML.bits[mlCode]);
    const literalLength = LL.base[llCode] + bits.read(LL.bits[llCode]);
    if (i < count - 1) {
      llState = nextState(ll, llState, bits);
      mlState = nextState(ml, mlState, bits);
      ofState = nextState(of, ofState, bits);
    }
    if (bits.left < 0) src.fail(bits.offset, 'sequences bitstream', `${count} sequences, the stream ends in sequence ${i}`);
    const offset = resolveOffset(rep, ofValue, literalLength);
    if (used + literalLength > lits.count) {
      src.fail(bits.offset, `sequence ${i}`, `a literal length of at most ${lits.count - used} (the block's literals left), found ${literalLength}`);
    }
    copyLiterals(src, frame, out, lits, used, literalLength, block);
    used += literalLength;
    copyMatch(src, frame, out, offset, matchLength, block, bits, i);
  }
  bits.expectEnd(`${count} sequences`);
  return used;
}

/** The match offset an offset value means, updating the repeat offsets (RFC 8878 §3.1.2.5); 0 is invalid. */
function resolveOffset(rep: [number, number, number], value: number, literalLength: number): number {
  if (value > 3) {
    rep[2] = rep[1];
    rep[1] = rep[0];
    rep[0] = value - 3;
    return rep[0];
  }
  const index = value - 1 + (literalLength === 0 ? 1 : 0);
  if (index === 0) return rep[0];
  const offset = index === 1 ? rep[1] : index === 2 ? rep[2] : rep[0] - 1;
  if (index !== 1) rep[2] = rep[1];
  rep[1] = rep[0];
  rep[0] = offset;
  return offset;
}

function checkBlockSize(src: ZstdSource, frame: FrameState, out: CappedOutput, n: number, block: BlockStart, at: number): void {
  if (out.size + n - block.start > frame.blockMax) {
    src.fail(at, 'block', `at most ${frame.blockMax} bytes of output per block, found ${out.size + n - block.start} by this sequence`);
  }
  room(src, out, frame, n, block.at);
}

/** Copies shorter than this go byte by byte: typed-array copies cost more to set up than they save. */
const SHORT_COPY = 32;

function copyLiterals(src: ZstdSource, frame: FrameState, out: CappedOutput, lits: Literals, from: number, n: number, block: BlockStart): void {
  if (n === 0) return;
  checkBlockSize(src, frame, out, n, block, block.at);
  const bytes = out.bytes;
  const dst = out.size;
  if (lits.rle !== null) {
    bytes.fill(lits.rle, dst, dst + n);
  } else if (n < SHORT_COPY) {
    const source = lits.bytes;
    const at = lits.start + from;
    for (let k = 0; k < n; k++) bytes[dst + k] = source[at + k];
  } else {
    bytes.set(lits.bytes.subarray(lits.start + from, lits.start + from + n), dst);
  }
  out.size += n;
}

function copyMatch(src: ZstdSource, frame: FrameState, out: CappedOutput, offset: number, n: number, block: BlockStart, bits: BackwardBits, i: number): void {
  const reach = Math.min(out.size - frame.start, frame.window);
  if (offset === 0 || offset > reach) {
    const limit = reach === frame.window ? `the window of ${frame.window} bytes` : `the ${reach} bytes of the frame decoded so far`;
    src.fail(bits.offset, `sequence ${i}`, `a match offset from 1 to ${reach} (${limit}), found ${offset}`);
  }
  checkBlockSize(src, frame, out, n, block, bits.offset);
  const bytes = out.bytes;
  const dst = out.size;
  const from = dst - offset;
  if (offset >= n && n >= SHORT_COPY) bytes.copyWithin(dst, from, from + n);
  else for (let k = 0; k < n; k++) bytes[dst + k] = bytes[from + k];
  out.size += n;
}
