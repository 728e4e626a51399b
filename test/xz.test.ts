// The xz decoder (src/io/xz/, LZMA2 in src/io/lzma/) against liblzma: streams the `xz` tool wrote with every
// filter, check and setting decode to the bytes `xz -dc` gives; damaged ones are errors naming the offset,
// refused exactly when liblzma refuses them, never garbage.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import test from 'ava';
import { ObjectError } from '../src/errors.js';
import { xzDecompress } from '../src/io/xz/stream.js';
import { buildFixtures } from './helpers/build-fixtures.js';
import { noise } from './helpers/prng.js';

const fixtures = buildFixtures();
const elf = async () => readFileSync((await fixtures).tree.modules.find((m) => m.endsWith('.ko'))!);
const FILTER = /^--(delta|x86|powerpc|ia64|arm|armthumb|sparc|arm64)\b/;
/** `xz` with these options (a filter chain gets its LZMA2 appended, as xz requires). */
const xz = (args: string[], input: Buffer) =>
  execFileSync('xz', ['-c', '-T1', ...args, ...(args.some((a) => FILTER.test(a)) ? ['--lzma2=preset=6'] : [])], { input, maxBuffer: 1 << 28 });
/** liblzma's answer for a stream (null: it refuses it): the oracle. */
function liblzma(stream: Buffer): Buffer | null {
  try {
    return execFileSync('xz', ['-dc'], { input: stream, maxBuffer: 1 << 28, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch {
    return null;
  }
}
const CAP = 1 << 28;

/** Every filter xz_wrap.sh can add and every check type, block sizes that split the data, and LZMA2 settings. */
const SETTINGS = [[], ['--check=crc32'], ['--check=crc64'], ['--check=sha256'], ['--check=none'], ['--x86'], ['--x86=start=4096'],
  ['--powerpc'], ['--arm'], ['--armthumb'], ['--sparc'], ['--arm64'], ['--delta=dist=4'], ['--delta=dist=256', '--x86'],
  ['--block-size=50000'], ['-0'], ['-9e'], ['--lzma2=preset=6,lc=1,lp=3,pb=0'], ['--lzma2=preset=1,dict=4KiB,lc=4,lp=0,pb=4']];

test('streams of every filter, check and setting decode to the bytes xz -dc gives: a module, text, noise, zeros, one byte, nothing', async (t) => {
  const inputs: [string, Buffer][] = [['module', await elf()], ['text', Buffer.from('ksymtree xz test; '.repeat(4000))],
    ['noise', noise(150_000)], ['zeros', Buffer.alloc(300_000)], ['one byte', Buffer.from([0x5d])], ['empty', Buffer.alloc(0)]];
  for (const [what, raw] of inputs) {
    for (const args of SETTINGS) {
      const stream = xz(args, raw);
      const expected = liblzma(stream);
      t.true(expected?.equals(raw), `${what} ${args}: xz itself round-trips`);
      t.true(xzDecompress('m.ko.xz', stream, CAP).equals(expected!), `${what} ${args}`);
    }
  }
});

test('concatenated streams with stream padding between them decode as liblzma decodes them', async (t) => {
  const raw = await elf();
  const stream = Buffer.concat([xz(['--check=crc32'], raw), Buffer.alloc(8), xz(['--x86'], raw.subarray(0, 5000))]);
  const expected = liblzma(stream);
  t.true(expected !== null && expected.length === raw.length + 5000);
  t.true(xzDecompress('m.ko.xz', stream, CAP).equals(expected!));
});

test('the ia64 filter, which we do not decode, is refused as unsupported, naming it', async (t) => {
  const stream = xz(['--ia64'], Buffer.from('x'.repeat(1000)));
  const e = t.throws(() => xzDecompress('vmlinuz', stream, CAP), { instanceOf: ObjectError });
  t.is(e!.kind, 'unsupported');
  t.regex(e!.message, /^vmlinuz: at offset 0xe: xz stream: block header: the ia64 branch filter is not decoded here$/);
});

test('damaged streams: refused exactly when liblzma refuses them, with an ObjectError, and otherwise the same bytes', async (t) => {
  const raw = await elf();
  let refused = 0;
  let tried = 0;
  for (const args of [['--check=crc32', '--lzma2=dict=1MiB'], ['--x86', '--check=crc64'], ['--check=none', '--block-size=20000']]) {
    const stream = xz(args, raw);
    // Every byte of the headers, the index and the footer, and 8-byte runs spread over the data.
    const places = [...Array(32).keys(), ...Array.from({ length: 40 }, (_, k) => 40 + k * Math.floor((stream.length - 120) / 40)),
      ...Array.from({ length: 32 }, (_, k) => stream.length - 32 + k)];
    for (const from of places) {
      const broken = Buffer.from(stream);
      for (let i = from; i < Math.min(from + (from < 32 || from >= stream.length - 32 ? 1 : 8), broken.length); i++) broken[i] ^= 0xa5;
      const oracle = liblzma(broken);
      let ours: Buffer | null = null;
      try {
        ours = xzDecompress('m.ko.xz', broken, CAP);
      } catch (e) {
        t.true(e instanceof ObjectError && ['compression', 'truncated'].includes(e.kind), `${args} at ${from}: ${e}`);
      }
      tried++;
      if (oracle === null) refused++;
      t.is(ours === null, oracle === null, `${args}, damage at ${from}: liblzma ${oracle ? 'decoded' : 'refused'}, we ${ours ? 'decoded' : 'refused'}`);
      if (ours && oracle) t.true(ours.equals(oracle), `${args}, damage at ${from}: same bytes as liblzma`);
    }
  }
  t.true(refused > tried * 0.8, `liblzma refused only ${refused} of ${tried} damaged streams`);
});

test('every truncation is an error at the end of the input, never a short output', async (t) => {
  const stream = xz(['--x86', '--check=crc32'], await elf());
  for (let n = 0; n < stream.length; n += n < 64 ? 1 : Math.ceil(stream.length / 50)) {
    const e = t.throws(() => xzDecompress('m.ko.xz', stream.subarray(0, n), CAP), { instanceOf: ObjectError }, `${n} bytes`);
    t.is(e!.kind, 'truncated', `${n} bytes: ${e!.message}`);
    t.is(e!.offset, n, `${n} bytes: ${e!.message}`);
  }
});

test('the cap holds: a stream producing more than the cap is an error in the one cap wording', (t) => {
  const stream = xz(['--check=crc32'], Buffer.alloc(1 << 20, 0x41));
  const e = t.throws(() => xzDecompress('m.ko.xz', stream, (1 << 20) - 1), { instanceOf: ObjectError });
  t.regex(e!.message, /xz stream: decompressed size: expected at most 1048575 bytes, the stream produces more$/);
});
