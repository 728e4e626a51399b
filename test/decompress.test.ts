// xz in process (xz-decompress) for kbuild's module streams; the system xz (liblzma) for branch filters, with a
// clear error when it is missing. Oracle: the xz tool that made the streams. (lzma_alone: test/lzma.test.ts.)
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

/** Runs `body` with PATH emptied, so that no system xz can be found. */
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

test.serial('an xz stream with a branch filter (--x86, --arm64) decodes through the system xz, byte for byte', async (t) => {
  const original = await elf();
  for (const filter of ['--x86', '--arm64']) {
    const stream = xz(['--check=crc32', filter, '--lzma2=preset=6'], original);
    t.true((await decompress('m.ko.xz', 'xz', stream)).equals(original), filter);
  }
});

test.serial('without a system xz, a branch-filter stream is refused with the package to install, not garbage', async (t) => {
  const stream = xz(['--check=crc32', '--x86', '--lzma2=preset=6'], await elf());
  const e = await withoutPath(() => decompress('m.ko.xz', 'xz', stream).then(() => null, (err: unknown) => err));
  t.true(e instanceof ObjectError);
  t.is((e as ObjectError).kind, 'unsupported');
  t.regex((e as ObjectError).message, /m\.ko\.xz: .*system xz \(Debian package xz-utils\)/);
});

test.serial('an unknown filter id (header CRC intact) is a compression error in process: the system xz is asked only for branch filters', async (t) => {
  const stream = Buffer.from(xz(['--check=crc32', '--lzma2=preset=6'], await elf()));
  // The first block header follows the 12-byte stream header: size byte, flags, then the filter flags (id 0x21).
  const headerSize = (stream[12] + 1) * 4;
  const id = stream.indexOf(0x21, 14);
  t.true(id > 13 && id < 12 + headerSize - 4, 'LZMA2 filter id in the block header');
  stream[id] = 0x22;
  stream.writeUInt32LE(crc32(stream.subarray(12, 12 + headerSize - 4)), 12 + headerSize - 4);
  t.throws(() => execFileSync('xz', ['-dc'], { input: stream, stdio: ['pipe', 'pipe', 'pipe'] }), undefined, 'liblzma refuses it too');
  const e = await withoutPath(() => decompress('m.ko.xz', 'xz', stream).then(() => null, (err: unknown) => err));
  t.true(e instanceof ObjectError);
  t.is((e as ObjectError).kind, 'compression', String(e));
  t.regex((e as ObjectError).message, /m\.ko\.xz: .*xz stream: expected valid compressed data \(get_next_output failed with error code 6\)/);
});
