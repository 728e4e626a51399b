// The .xz container (the .xz file format 1.1.0): stream header, blocks (a header naming the filter chain, LZMA2
// data, padding, the check), the index and the footer, each checked against the others. Decoded in this
// thread: the branch filters of xz_wrap.sh's vmlinuz streams included, so no `xz` process is needed.
import { crc32 } from 'node:zlib';
import { ObjectError, type ObjectErrorKind } from '../../errors.js';
import { lebEnd, uleb } from '../../dwarf/leb128.js';
import { CappedOutput } from '../capped-output.js';
import { decodeLzma2, lzma2DictSize } from '../lzma/lzma2.js';
import { le32, XZ_CHECKS } from './check.js';
import { XZ_FILTERS } from './filters.js';

/** The magic every xz stream starts with (decompress.ts and vmlinuz.ts recognise xz by it). */
export const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const FOOTER_MAGIC = Buffer.from('YZ');
const STREAM_HEADER_SIZE = 12;
const LZMA2 = 0x21;

/** Where a stream breaks a rule: the offset in `input` and what was expected there. */
type Fail = (at: number, message: string, kind?: ObjectErrorKind) => never;

/** What the index must repeat about each block. */
interface BlockRecord {
  readonly unpadded: number;
  readonly uncompressed: number;
}

/**
 * Decodes the xz stream at the start of `input` and any streams concatenated after it (with their
 * zero padding) into at most `cap` bytes. Errors name `file` and the offset in it (`at`: where `input` starts).
 */
export function xzDecompress(file: string, input: Buffer, cap: number, at = 0): Buffer {
  const fail: Fail = (offset, message, kind = offset >= input.length ? 'truncated' : 'compression') => {
    throw new ObjectError(file, at + offset, `xz stream: ${message}`, kind);
  };
  const out = new CappedOutput(null, cap, (message) => fail(pos, message));
  let pos = 0;
  for (;;) {
    pos = decodeStream(input, pos, out, fail);
    while (pos + 4 <= input.length && input.readUInt32LE(pos) === 0) pos += 4;
    if (!input.subarray(pos, pos + XZ_MAGIC.length).equals(XZ_MAGIC)) return out.result();
  }
}

/** One stream from `pos`: returns the offset after its footer. */
function decodeStream(input: Buffer, pos: number, out: CappedOutput, fail: Fail): number {
  const need = (p: number, n: number, what: string) => {
    if (input.length - p < n) fail(input.length, `expected ${what}, the stream ended`);
  };
  need(pos, STREAM_HEADER_SIZE, 'a 12-byte stream header');
  if (!input.subarray(pos, pos + XZ_MAGIC.length).equals(XZ_MAGIC)) fail(pos, `expected the xz magic fd377a585a00, found ${input.subarray(pos, pos + 6).toString('hex')}`);
  const flags = input.subarray(pos + 6, pos + 8);
  checkCrc(input, pos + 6, 2, pos + 8, 'stream header', fail);
  if (flags[0] !== 0 || flags[1] > 0x0f) fail(pos + 6, `stream flags: expected 00 0x (a check type), found ${flags.toString('hex')}`);
  const check = XZ_CHECKS.get(flags[1]) ?? fail(pos + 7, `stream flags: check type ${flags[1]} is reserved, no xz tool writes it`);
  pos += STREAM_HEADER_SIZE;
  const records: BlockRecord[] = [];
  for (;;) {
    need(pos, 1, 'a block header or the index');
    if (input[pos] === 0) break;
    const blockStart = out.size;
    const block = decodeBlock(input, pos, out, fail);
    pos = block.end;
    const padding = (4 - ((pos - block.start) % 4)) % 4;
    need(pos, padding + check.size, `block padding and a ${check.name} check`);
    for (let i = 0; i < padding; i++) if (input[pos + i] !== 0) fail(pos + i, 'block padding: expected zero bytes');
    pos += padding;
    const stored = input.subarray(pos, pos + check.size);
    const computed = check.compute(out.bytes.subarray(blockStart, out.size));
    if (!computed.equals(stored)) fail(pos, `expected the block's ${check.name} ${stored.toString('hex')}, its data gives ${computed.toString('hex')}`);
    pos += check.size;
    records.push({ unpadded: block.end - block.start + check.size, uncompressed: out.size - blockStart });
  }
  const indexStart = pos;
  pos = checkIndex(input, pos, records, fail);
  need(pos, STREAM_HEADER_SIZE, 'a 12-byte stream footer');
  checkCrc(input, pos + 4, 6, pos, 'stream footer', fail);
  const backward = (input.readUInt32LE(pos + 4) + 1) * 4;
  if (backward !== pos - indexStart) fail(pos + 4, `stream footer: expected the index size ${pos - indexStart}, found ${backward}`);
  if (!input.subarray(pos + 8, pos + 10).equals(flags)) fail(pos + 8, `stream footer: expected the header's flags ${flags.toString('hex')}, found ${input.subarray(pos + 8, pos + 10).toString('hex')}`);
  if (!input.subarray(pos + 10, pos + 12).equals(FOOTER_MAGIC)) fail(pos + 10, 'stream footer: expected the magic "YZ"');
  return pos + STREAM_HEADER_SIZE;
}

/** A block from its header at `pos` through its compressed data; the filters are undone over its output. */
function decodeBlock(input: Buffer, pos: number, out: CappedOutput, fail: Fail): { start: number; end: number } {
  const start = pos;
  const headerSize = (input[pos] + 1) * 4;
  if (input.length - pos < headerSize) fail(input.length, `expected a ${headerSize}-byte block header, the stream ended`);
  const headerEnd = pos + headerSize - 4;
  checkCrc(input, pos, headerSize - 4, headerEnd, 'block header', fail);
  const flags = input[pos + 1];
  if (flags & 0x3c) fail(pos + 1, `block flags: expected the reserved bits 0, found 0x${flags.toString(16)}`);
  let p = pos + 2;
  const vli = (what: string): number => {
    const v = readVli(input, p, headerEnd, `block header: expected ${what}`, fail);
    p = lebEnd;
    return v;
  };
  const compressed = flags & 0x40 ? vli('the compressed size') : null;
  const uncompressed = flags & 0x80 ? vli('the uncompressed size') : null;
  if (compressed === 0) fail(pos + 2, 'block header: expected a compressed size above 0');
  const chain: { id: number; at: number; props: Buffer }[] = [];
  for (let k = 0; k <= (flags & 3); k++) { // the two low bits: 1 to 4 filters
    const filterAt = p;
    const id = vli('a filter id');
    const size = vli('the filter properties size');
    if (p + size > headerEnd) fail(p, `block header: expected ${size} bytes of filter properties, the header ends`);
    chain.push({ id, at: filterAt, props: input.subarray(p, p + size) });
    p += size;
  }
  for (; p < headerEnd; p++) if (input[p] !== 0) fail(p, 'block header: expected zero padding');
  const last = chain[chain.length - 1];
  if (last.id !== LZMA2) fail(last.at, `block header: expected LZMA2 (0x21) as the last filter, found 0x${last.id.toString(16)}`);
  if (last.props.length !== 1) fail(last.at, `block header: expected 1 byte of LZMA2 properties, found ${last.props.length}`);
  const dictSize = lzma2DictSize(last.props[0]) ?? fail(last.at, `block header: LZMA2 dictionary size byte ${last.props[0]} above 40`);
  const undo = chain.slice(0, -1).map((f) => filterDecoder(f.id, f.props, (message, kind) => fail(f.at, message, kind)));
  const dataStart = pos + headerSize;
  const dataEnd = compressed === null ? input.length : dataStart + compressed;
  if (dataEnd > input.length) fail(input.length, `expected ${compressed} bytes of block data, the stream ended`);
  const blockStart = out.size;
  const end = decodeLzma2(input, dataStart, dataEnd, out, dictSize, fail);
  if (compressed !== null && end !== dataEnd) fail(end, `block: the header says ${compressed} compressed bytes, LZMA2 ended after ${end - dataStart}`);
  if (uncompressed !== null && out.size - blockStart !== uncompressed) fail(end, `block: the header says ${uncompressed} uncompressed bytes, it decoded to ${out.size - blockStart}`);
  const data = out.bytes.subarray(blockStart, out.size);
  for (let k = undo.length - 1; k >= 0; k--) undo[k](data, 0);
  return { start, end };
}

/** The decoder of a filter before LZMA2, with its properties checked. */
function filterDecoder(id: number, props: Buffer, fail: (message: string, kind?: ObjectErrorKind) => never): (buf: Buffer, start: number) => void {
  const filter = XZ_FILTERS.get(id);
  if (!filter) fail(`block header: expected a filter id (delta, x86, powerpc, ia64, arm, armthumb, sparc, arm64, riscv, LZMA2), found 0x${id.toString(16)}`);
  if (!filter!.decode) fail(`block header: the ${filter!.name} branch filter is not decoded here`, 'unsupported');
  try {
    return filter!.decode(props);
  } catch (e) {
    return fail(`block header: ${filter!.name} filter: ${(e as Error).message}`);
  }
}

/** The index at `pos` (its records must equal the blocks decoded); returns the offset after it. */
function checkIndex(input: Buffer, pos: number, records: readonly BlockRecord[], fail: Fail): number {
  const start = pos;
  let p = pos + 1;
  const vli = (what: string): number => {
    const v = readVli(input, p, input.length, `index: expected ${what}`, fail);
    p = lebEnd;
    return v;
  };
  const count = vli('the number of records');
  if (count !== records.length) fail(pos + 1, `index: expected ${records.length} records (the blocks decoded), it says ${count}`);
  for (const r of records) {
    const at = p;
    const unpadded = vli('an unpadded size');
    const uncompressed = vli('an uncompressed size');
    if (unpadded !== r.unpadded || uncompressed !== r.uncompressed) {
      fail(at, `index: expected a record of ${r.unpadded} unpadded and ${r.uncompressed} uncompressed bytes, found ${unpadded} and ${uncompressed}`);
    }
  }
  while ((p - start) % 4 !== 0) {
    if (p >= input.length) fail(input.length, 'index: expected padding, the stream ended');
    if (input[p] !== 0) fail(p, 'index padding: expected zero bytes');
    p++;
  }
  if (input.length - p < 4) fail(input.length, 'index: expected its CRC32, the stream ended');
  checkCrc(input, start, p - start, p, 'index', fail);
  return p + 4;
}

/**
 * A variable-length integer (LEB128 of at most 9 bytes, no trailing zero byte) at `p`, read before `end`;
 * lebEnd is left just past it. Running into `end` at the input's end is a truncation; anything else breaks a rule.
 */
function readVli(input: Buffer, p: number, end: number, expected: string, fail: Fail): number {
  const v = uleb(input, p, end);
  if (lebEnd < 0 && end === input.length) fail(input.length, `${expected}, the stream ended`);
  if (lebEnd < 0 || lebEnd - p > 9 || (lebEnd - p > 1 && input[lebEnd - 1] === 0)) fail(p, `${expected} (a variable-length integer)`);
  return v;
}

/** The CRC32 stored at `crcAt` must be that of `input[from, from + length)`. */
function checkCrc(input: Buffer, from: number, length: number, crcAt: number, what: string, fail: Fail): void {
  const stored = input.subarray(crcAt, crcAt + 4);
  const computed = le32(crc32(input.subarray(from, from + length)));
  if (!computed.equals(stored)) fail(crcAt, `${what}: expected CRC32 ${stored.toString('hex')}, its bytes give ${computed.toString('hex')}`);
}
