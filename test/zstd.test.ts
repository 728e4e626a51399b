// Our zstd decoder (src/io/zstd/) against the zstd CLI: streams it wrote at many settings decode to what `zstd -dc`
// makes of them, byte for byte, using every literals and sequences mode; broken and hostile streams fail with
// an error naming the offset and what was expected there.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import test from 'ava';
import { ObjectError } from '../src/errors.js';
import { zstdDecompress } from '../src/io/decompress.js';
import { decodeZstd } from '../src/io/zstd/frame.js';
import { xxh64 } from '../src/io/zstd/xxh64.js';
import { buildZstdFixtures } from './helpers/build-zstd-fixtures.js';
import { repoPath } from './helpers/repo.js';

const fixtures = buildZstdFixtures();
const GB = 1 << 30;

/** Every mode the format has, as the decoder names them when it meets one. */
const ALL_MODES = [
  'frame:checksum', 'frame:skippable', 'block:raw', 'block:rle', 'block:compressed',
  'literals:raw', 'literals:rle', 'literals:huffman-1', 'literals:huffman-4', 'literals:treeless-1', 'literals:treeless-4',
  'huffman:direct-weights', 'huffman:fse-weights',
  ...['literalLengths', 'offsets', 'matchLengths'].flatMap((k) => ['predefined', 'rle', 'fse', 'repeat'].map((m) => `${k}:${m}`)),
];

test('every stream the zstd CLI wrote decodes as `zstd -dc` decodes it, and together they use every mode', async (t) => {
  const { cases } = await fixtures;
  const seen = new Set<string>();
  t.true(cases.length > 70, `${cases.length} cases`);
  for (const c of cases) {
    const oracle = readFileSync(c.oracle);
    t.true(oracle.equals(readFileSync(c.input)), `${c.name}: zstd -dc gives the input back`);
    const out = decodeZstd(c.zst, readFileSync(c.zst), GB, seen);
    t.true(out.equals(oracle), `${c.name}: ${out.length} bytes, zstd -dc ${oracle.length}`);
  }
  t.deepEqual(ALL_MODES.filter((m) => !seen.has(m)), []);
  t.deepEqual([...seen].filter((m) => !ALL_MODES.includes(m)), []);
});

test('XXH64: the reference test vectors', (t) => {
  const hex = (h: readonly [number, number]) => h.map((x) => x.toString(16).padStart(8, '0')).join('');
  t.is(hex(xxh64(Buffer.alloc(0))), 'ef46db3751d8e999');
  t.is(hex(xxh64(Buffer.from('abc'))), '44bc2cf5ad770999');
});

/** The error `body` throws: an ObjectError of kind compression. */
function failure(t: import('ava').ExecutionContext, body: () => unknown): ObjectError {
  const e = t.throws(body);
  if (!(e instanceof ObjectError)) throw new Error(`expected an ObjectError, got ${String(e)}`);
  t.is(e.kind, 'compression');
  return e;
}

const caseNamed = async (name: string) => readFileSync((await fixtures).cases.find((c) => c.name === name)!.zst);

test('a wrong content checksum is reported with both values, at the checksum', async (t) => {
  const z = Buffer.from(await caseNamed('fixture-objects: -19'));
  z[z.length - 1] ^= 0x40;
  const e = failure(t, () => decodeZstd('m.ko.zst', z, GB));
  t.is(e.offset, z.length - 4);
  t.regex(e.message, /^m\.ko\.zst: at offset 0x[0-9a-f]+: zstd content checksum: expected 0x[0-9a-f]{8} \(the low 32 bits of the content's XXH64\), found 0x[0-9a-f]{8}$/);
});

test('a truncated stream fails where its data runs out', async (t) => {
  const z = await caseNamed('fixture-objects: -3');
  // Cut inside the first block: its header says more bytes than there are.
  const e1 = failure(t, () => decodeZstd('m.ko.zst', z.subarray(0, 100), GB));
  t.regex(e1.message, /zstd compressed block: expected \d+ bytes, found \d+ before the end of the input$/);
  // Cut after the frame header (magic, descriptor, window unless single-segment, content size): no block header.
  const single = (z[4] & 0x20) !== 0;
  const headerEnd = 5 + (single ? 0 : 1) + [single ? 1 : 0, 2, 4, 8][z[4] >> 6];
  const e2 = failure(t, () => decodeZstd('m.ko.zst', z.subarray(0, headerEnd), GB));
  t.is(e2.offset, headerEnd);
  t.regex(e2.message, /zstd block header: expected 3 bytes, found 0 before the end of the input$/);
  // Every shorter prefix fails with an ObjectError (never a RangeError or a TypeError).
  for (let n = 1; n < z.length; n += 97) failure(t, () => decodeZstd('m.ko.zst', z.subarray(0, n), GB));
});

test('corrupted bytes anywhere give an ObjectError (or, when they still decode, a checksum mismatch)', async (t) => {
  const z = await caseNamed('fixture-objects: -19');
  for (let at = 4; at < z.length; at += 13) {
    const bad = Buffer.from(z);
    bad[at] ^= 0xa5;
    try {
      decodeZstd('m.ko.zst', bad, GB);
      t.fail(`a flipped byte at ${at} decoded without error`);
    } catch (e) {
      t.true(e instanceof ObjectError && e.kind === 'compression' && e.offset <= bad.length, `byte ${at}: ${String(e)}`);
    }
  }
});

/**
 * A frame (window 1 KB, no content size, no checksum) of one compressed block: raw `literals` and one
 * sequence, literal length 3, match length 3, offset code `ofCode` with `extra` bits, all three tables
 * predefined; `cutStream` bytes left out of the start of the sequences bitstream.
 */
function oneSequenceFrame(ofState: number, ofCode: number, extra: number, literals = 'abc', cutStream = 0): Buffer {
  // The backward bitstream, written in the reverse of reading order: offset extra bits, then the ML, OF and LL
  // states (predefined table states 0: ML code 0 = length 3; 3: LL code 3), then the end mark.
  let bits = 0n;
  let n = 0n;
  const put = (value: number, width: number) => {
    bits |= BigInt(value) << n;
    n += BigInt(width);
  };
  put(extra, ofCode);
  put(0, 6);
  put(ofState, 5);
  put(3, 6);
  put(1, 1);
  const whole = Buffer.alloc(Number((n + 7n) / 8n));
  for (let i = 0; i < whole.length; i++) whole[i] = Number((bits >> BigInt(8 * i)) & 0xffn);
  const stream = whole.subarray(cutStream);
  const block = Buffer.concat([Buffer.from([literals.length << 3]), Buffer.from(literals), Buffer.from([1, 0]), stream]);
  const header = (block.length << 3) | (2 << 1) | 1;
  return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, header & 0xff, (header >> 8) & 0xff, header >> 16]), block]);
}

test('a match offset before the start of the output is refused, as zstd refuses it', (t) => {
  // Offset value 6 (code 2, extra 2; predefined OF state 14) is offset 3: zstd decodes "abcabc".
  const good = oneSequenceFrame(14, 2, 2);
  t.is(execFileSync('zstd', ['-dc'], { input: good }).toString(), 'abcabc');
  t.is(decodeZstd('m.ko.zst', good, GB).toString(), 'abcabc');
  // Offset value 13 (code 3, extra 5; state 5) is offset 10, before the 3 bytes decoded.
  const bad = oneSequenceFrame(5, 3, 5);
  t.not(spawnSync('zstd', ['-dc'], { input: bad }).status, 0);
  const e = failure(t, () => decodeZstd('m.ko.zst', bad, GB));
  t.is(e.offset, 15); // the sequences bitstream: 9 bytes of frame and block header, 4 of literals, 2 of sequences header
  t.is(e.expected, 'zstd sequence 0: expected a match offset from 1 to 3 (the 3 bytes of the frame decoded so far), found 10');
});

test('a literal length past the block\'s literals, a bitstream read past its start: each refused where it happens', (t) => {
  // The sequence of the frame above (literal length 3) over only two literals.
  const e1 = failure(t, () => decodeZstd('m.ko.zst', oneSequenceFrame(14, 2, 2, 'ab'), GB));
  t.is(e1.offset, 14);
  t.is(e1.expected, 'zstd sequence 0: expected a literal length of at most 2 (the block\'s literals left), found 3');
  t.not(spawnSync('zstd', ['-dc'], { input: oneSequenceFrame(14, 2, 2, 'ab') }).status, 0);
  // Its 21-bit bitstream without its first byte: the reads run 7 bits past the start.
  const e2 = failure(t, () => decodeZstd('m.ko.zst', oneSequenceFrame(14, 2, 2, 'abc', 1), GB));
  t.is(e2.offset, 15);
  t.is(e2.expected, 'zstd sequences bitstream: expected 1 sequences, the stream ends in sequence 0');
});

test('a block over the window, an FSE table over the maximum accuracy log: each refused at its header', (t) => {
  // Window 1 KB (descriptor 0), a raw block of 2,000 bytes.
  const big = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, (2000 << 3) & 0xff, (2000 << 3) >> 8, 0]), Buffer.alloc(2000)]);
  const e1 = failure(t, () => decodeZstd('m.ko.zst', big, GB));
  t.is(e1.offset, 6);
  t.is(e1.expected, 'zstd block header: expected a block size of at most 1024 (the window or 128 KB, whichever is smaller), found 2000');
  // A compressed block: no literals, one sequence, literal lengths FSE-compressed with accuracy log 5 + 5 = 10 (at most 9).
  const steep = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, (4 << 3) | (2 << 1) | 1, 0, 0, 0x00, 0x01, 0x80, 0x05]);
  const e2 = failure(t, () => decodeZstd('m.ko.zst', steep, GB));
  t.is(e2.offset, 12);
  t.is(e2.expected, 'zstd literal lengths table description: expected an accuracy log of at most 9, found 10');
  for (const input of [big, steep]) t.not(spawnSync('zstd', ['-dc'], { input }).status, 0);
});

/** A frame claiming 2 GB of content (4-byte size field, 1 KB window) whose one raw block holds 10 bytes. */
const claims2gb = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x80, 0x00, 0, 0, 0, 0x80, (10 << 3) | 1, 0, 0]), Buffer.from('0123456789')]);

test('a frame claiming 2 GB with a tiny body fails at once, allocating no more than its blocks can fill', (t) => {
  const e1 = failure(t, () => decodeZstd('m.ko.zst', claims2gb, GB));
  t.is(e1.offset, 9);
  t.is(e1.expected, `zstd frame header: expected a content size within the decompressed size cap of ${GB} bytes, found 2147483648`);
  const before = process.memoryUsage().arrayBuffers;
  const e2 = failure(t, () => decodeZstd('m.ko.zst', claims2gb, 4 * GB));
  t.true(process.memoryUsage().arrayBuffers - before < 64 << 20);
  t.is(e2.offset, claims2gb.length);
  t.is(e2.expected, 'zstd frame: expected 2147483648 bytes of content (the frame header\'s content size), found 10');
});

test('output past the cap, a dictionary, a reserved block type, a stray magic number: each a clear error', async (t) => {
  const z = await caseNamed('repetitive: -1');
  const e1 = failure(t, () => decodeZstd('m.ko.zst', z, 1000));
  t.regex(e1.expected, /^zstd frame header: expected a content size within the decompressed size cap of 1000 bytes, found 400000$/);
  const noSize = await caseNamed('rle-literals: --zstd=wlog=10');
  t.regex(failure(t, () => decodeZstd('m.ko.zst', noSize, 5000)).expected, /^zstd (stream: decompressed size: expected at most 5000 bytes, the stream produces more|frame header: expected a content size within the decompressed size cap of 5000 bytes, found \d+)$/);
  const dict = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x00, 0x05, 1, 0, 0]);
  const e3 = failure(t, () => decodeZstd('m.ko.zst', dict, GB));
  t.is(e3.offset, 6);
  t.is(e3.expected, 'zstd frame header: expected no dictionary (ksymtree decodes none), found dictionary id 5');
  const reserved = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x07, 0, 0]);
  t.is(failure(t, () => decodeZstd('m.ko.zst', reserved, GB)).expected, 'zstd block header: expected a block type of 0 (raw), 1 (RLE) or 2 (compressed), found 3 (reserved)');
  const trailing = Buffer.concat([z, Buffer.from('garbage!')]);
  const e5 = failure(t, () => decodeZstd('m.ko.zst', trailing, GB));
  t.is(e5.offset, z.length);
  t.regex(e5.expected, /^zstd stream: expected a frame \(magic number 0xfd2fb528, or 0x184d2a5\? for a skippable one\), found 0x62726167$/);
});

test('zstdDecompress (what index calls) decodes the CLI streams on every Node line', async (t) => {
  for (const name of ['fixture-objects: --ultra -22', 'concatenated frames and a skippable frame']) {
    const c = (await fixtures).cases.find((x) => x.name === name)!;
    t.true(zstdDecompress(c.zst, readFileSync(c.zst), GB).equals(readFileSync(c.oracle)), name);
  }
});

test('a SHF_COMPRESSED section declaring 1.6 GB (fuzz regression dwarf/abbrev-claims-1.6-gb.ko) decodes its 1,097 bytes without reserving the claim', (t) => {
  const ko = readFileSync(repoPath('test', 'fuzz', 'regressions', 'dwarf', 'abbrev-claims-1.6-gb.ko'));
  // .debug_abbrev: at 0x800, 0x20d bytes, an Elf64_Chdr (24 bytes) declaring 1,677,722,697 bytes, then the zstd stream.
  t.is(ko.readUInt32LE(0x808), 1677722697);
  const before = process.memoryUsage().arrayBuffers;
  const out = zstdDecompress('fuzz.ko', ko.subarray(0x818, 0x800 + 0x20d), 1677722697);
  t.true(process.memoryUsage().arrayBuffers - before < 64 << 20);
  t.true(out.equals(execFileSync('zstd', ['-dc'], { input: ko.subarray(0x818, 0x800 + 0x20d) })));
});
