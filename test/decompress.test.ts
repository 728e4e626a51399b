// xz in process for every stream: xz-decompress (xz-embedded as WebAssembly) for kbuild's module streams, our
// decoder (src/io/xz/) for the branch filters xz_wrap.sh adds and for streams xz-embedded refuses, so the
// error says where and what. Oracle: the xz tool that made the streams. (The decoder itself: test/xz.test.ts.)
import { execFileSync } from 'node:child_process';
import { crc32 } from 'node:zlib';
import { readFileSync } from 'node:fs';
import test from 'ava';
import { decompress } from '../src/io/decompress.js';
import { ObjectError } from '../src/errors.js';
import { buildFixtures } from './helpers/build-fixtures.js';

const fixtures = buildFixtures();
const elf = async () => readFileSync((await fixtures).tree.modules.find((m) => m.endsWith('.ko'))!);
const xz = (args: string[], input: Buffer) => execFileSync('xz', [...args, '-c'], { input, maxBuffer: 1 << 28 });

/** Runs `body` with PATH emptied, so that no system xz could be found. */
async function withoutPath<T>(body: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    return await body();
  } finally {
    process.env.PATH = saved;
  }
}

test.serial('a kbuild .ko.xz (crc32, LZMA2) decodes in process, without any system xz', async (t) => {
  const original = await elf();
  const stream = xz(['--check=crc32', '--lzma2=dict=1MiB'], original);
  t.true((await withoutPath(() => decompress('m.ko.xz', 'xz', stream))).equals(original));
});

test.serial('an xz stream with a branch filter (--x86, --arm64) decodes in process too, byte for byte', async (t) => {
  const original = await elf();
  for (const filter of ['--x86', '--arm64']) {
    const stream = xz(['--check=crc32', filter, '--lzma2=preset=6'], original);
    t.true((await withoutPath(() => decompress('m.ko.xz', 'xz', stream))).equals(original), filter);
  }
});

test.serial('an unknown filter id where LZMA2 belongs (header CRC intact) is a compression error naming it and its offset', async (t) => {
  const stream = Buffer.from(xz(['--check=crc32', '--lzma2=preset=6'], await elf()));
  // The first block header follows the 12-byte stream header: size byte, flags, then the filter flags (id 0x21).
  const headerSize = (stream[12] + 1) * 4;
  const id = stream.indexOf(0x21, 14);
  t.true(id > 13 && id < 12 + headerSize - 4, 'LZMA2 filter id in the block header');
  stream[id] = 0x22;
  stream.writeUInt32LE(crc32(stream.subarray(12, 12 + headerSize - 4)), 12 + headerSize - 4);
  t.throws(() => execFileSync('xz', ['-dc'], { input: stream, stdio: ['pipe', 'pipe', 'pipe'] }), undefined, 'liblzma refuses it too');
  const e = await decompress('m.ko.xz', 'xz', stream).then(() => null, (err: unknown) => err);
  t.true(e instanceof ObjectError);
  t.is((e as ObjectError).kind, 'compression', String(e));
  t.is((e as ObjectError).message, `m.ko.xz: at offset 0x${id.toString(16)}: xz stream: block header: expected LZMA2 (0x21) as the last filter, found 0x22`);
});

test.serial('a damaged block (xz-embedded says only "error code 7") is reported with the offset and the check that failed', async (t) => {
  const original = await elf();
  const stream = Buffer.from(xz(['--check=crc32', '--lzma2=preset=6'], original));
  // The CRC32 of the only block sits 4 bytes before the index; the index is 12 bytes before the footer here.
  const indexSize = (stream.readUInt32LE(stream.length - 8) + 1) * 4;
  const checkAt = stream.length - 12 - indexSize - 4;
  stream[checkAt] ^= 0xff;
  t.throws(() => execFileSync('xz', ['-dc'], { input: stream, stdio: ['pipe', 'pipe', 'pipe'] }), undefined, 'liblzma refuses it too');
  const e = await decompress('m.ko.xz', 'xz', stream).then(() => null, (err: unknown) => err);
  t.true(e instanceof ObjectError, String(e));
  t.regex((e as ObjectError).message, new RegExp(`^m\\.ko\\.xz: at offset 0x${checkAt.toString(16)}: xz stream: expected the block's CRC32 [0-9a-f]{8}, its data gives [0-9a-f]{8}$`));
});
