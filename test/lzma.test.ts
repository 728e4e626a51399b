// The lzma_alone decoder (CONFIG_KERNEL_LZMA payloads) against liblzma: streams the `xz` tool wrote with every
// kind of setting decode to the bytes `xz -dc` gives; broken streams are errors naming the offset, never garbage.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import test from 'ava';
import { ObjectError } from '../src/errors.js';
import { lzmaAloneDecompress } from '../src/io/lzma/alone.js';
import { decompressKernel } from '../src/kallsyms/vmlinuz.js';
import { buildFixtures } from './helpers/build-fixtures.js';
import { noise } from './helpers/prng.js';

const fixtures = buildFixtures();
const elf = async () => readFileSync((await fixtures).tree.modules.find((m) => m.endsWith('.ko'))!);
const xz = (args: string[], input: Buffer) => execFileSync('xz', ['--format=lzma', ...args, '-c'], { input, maxBuffer: 1 << 28 });
/** liblzma's answer for a stream: the oracle. */
const xzDecoded = (stream: Buffer) => execFileSync('xz', ['--format=lzma', '-dc'], { input: stream, maxBuffer: 1 << 28, stdio: ['pipe', 'pipe', 'pipe'] });
const CAP = 1 << 28;

/** Settings that reach every part of the format: presets, the literal/position bits, a 4 KiB dictionary. */
const SETTINGS = [['-0'], ['-6'], ['-9'], ['-6e'], ['--lzma1=preset=6,lc=0,lp=0,pb=0'], ['--lzma1=preset=9,lc=4,lp=0,pb=2'],
  ['--lzma1=preset=9,lc=1,lp=3,pb=4'], ['--lzma1=preset=1,dict=4KiB,lc=0,lp=4,pb=0'], ['--lzma1=preset=6,mf=hc4,mode=fast']];

test('streams of every setting decode to the bytes xz -dc gives: a module, text, noise, a run of zeros, one byte, nothing', async (t) => {
  const inputs: [string, Buffer][] = [['module', await elf()], ['text', Buffer.from('ksymtree lzma test; '.repeat(3000))],
    ['noise', noise(70_000)], ['zeros', Buffer.alloc(300_000)], ['one byte', Buffer.from([0x5d])], ['empty', Buffer.alloc(0)]];
  for (const [what, raw] of inputs) {
    for (const args of SETTINGS) {
      const stream = xz(args, raw);
      const expected = xzDecoded(stream);
      t.true(expected.equals(raw), `${what} ${args}: xz itself round-trips`);
      t.true(lzmaAloneDecompress('vmlinuz', stream, 0, CAP).equals(expected), `${what} ${args}`);
    }
  }
});

test('a header giving the size (no end marker needed) decodes as liblzma decodes it, and a wrong size is an error', async (t) => {
  const raw = await elf();
  const stream = Buffer.from(xz(['-6'], raw));
  stream.writeUInt32LE(raw.length, 5);
  stream.writeUInt32LE(0, 9);
  t.true(xzDecoded(stream).equals(raw), 'liblzma accepts the stream with its size');
  t.true(lzmaAloneDecompress('vmlinuz', stream, 0, CAP).equals(raw));
  stream.writeUInt32LE(raw.length - 1000, 5);
  t.throws(() => xzDecoded(stream), undefined, 'liblzma refuses a size shorter than the data');
  const e = t.throws(() => lzmaAloneDecompress('vmlinuz', stream, 0x200, CAP), { instanceOf: ObjectError });
  // Where liblzma's size check bites depends on the data: at the next literal or inside a match.
  const short = raw.length - 1000;
  t.regex(e!.message, new RegExp(`^vmlinuz: at offset 0x[0-9a-f]+: lzma stream: (expected the end of the stream after ${short} bytes, found more data|a match of \\d+ bytes runs past the ${short} bytes the header says)`));
});

test('broken streams are errors at the offset where the decoder stopped, the payload offset added', async (t) => {
  const stream = xz(['-9'], await elf());
  const at = 0x4000;
  const cases: [string, Buffer, RegExp, number | null][] = [
    ['truncated', stream.subarray(0, stream.length >> 1), /expected more compressed data, the stream ended/, at + (stream.length >> 1)],
    ['a short header', stream.subarray(0, 9), /expected a 13-byte header, the stream has 9 bytes/, at + 9],
    ['properties byte 225', Buffer.concat([Buffer.from([225]), stream.subarray(1)]), /properties byte: expected below 225, found 225/, at],
    ['range coder start', Buffer.concat([stream.subarray(0, 13), Buffer.from([1]), stream.subarray(14)]), /range coder: expected its first byte to be 0/, at + 13],
  ];
  for (const [what, input, message, offset] of cases) {
    const e = t.throws(() => lzmaAloneDecompress('vmlinuz', input, at, CAP), { instanceOf: ObjectError }, what);
    t.regex(e!.message, message, what);
    if (offset !== null) t.is(e!.offset, offset, what);
  }
  // Bytes flipped in the middle: liblzma refuses the stream, and so do we (never a silent wrong output).
  let refused = 0;
  for (let k = 0; k < 40; k++) {
    const broken = Buffer.from(stream);
    const from = 200 + k * Math.floor((stream.length - 400) / 40);
    broken.fill(0xa5, from, from + 8);
    let oracle: Buffer | null = null;
    try {
      oracle = xzDecoded(broken);
    } catch {
      refused++;
    }
    let ours: Buffer | null = null;
    try {
      ours = lzmaAloneDecompress('vmlinuz', broken, at, CAP);
    } catch (e) {
      t.true(e instanceof ObjectError && ['compression', 'truncated'].includes(e.kind), String(e));
    }
    t.is(ours === null, oracle === null, `flip at ${from}: liblzma ${oracle ? 'decoded' : 'refused'}, we ${ours ? 'decoded' : 'refused'}`);
    if (ours && oracle) t.true(ours.equals(oracle), `flip at ${from}: same bytes as liblzma`);
  }
  t.true(refused > 30, `liblzma refused only ${refused} of 40 damaged streams`);
});

test('claims are not trusted: an 805 MB size with a tiny body, a cap below the output', async (t) => {
  const raw = Buffer.alloc(1 << 20, 0x41);
  const stream = Buffer.from(xz(['-9'], raw));
  t.regex(t.throws(() => lzmaAloneDecompress('vmlinuz', stream, 0, raw.length - 1))!.message, /lzma stream: decompressed size: expected at most 1048575 bytes, the stream produces more/);
  const claims = Buffer.from(stream.subarray(0, 40));
  claims.writeUInt32LE(0x30000000, 5);
  claims.writeUInt32LE(0, 9);
  t.regex(t.throws(() => lzmaAloneDecompress('vmlinuz', claims, 0, 1 << 30))!.message, /expected more compressed data, the stream ended/);
  t.regex(t.throws(() => lzmaAloneDecompress('vmlinuz', claims, 0, 1 << 20))!.message, /uncompressed size: expected at most 1048576 bytes, the header says 805306368/);
});

test('a CONFIG_KERNEL_LZMA payload (size appended, as the kernel build writes it) decodes without any system xz', async (t) => {
  const raw = await elf();
  const size = Buffer.alloc(4);
  size.writeUInt32LE(raw.length);
  const payload = Buffer.concat([xz(['-9'], raw), size]);
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    t.true((await decompressKernel('vmlinuz', 'lzma', payload, 0x4000)).equals(raw));
  } finally {
    process.env.PATH = saved;
  }
});
