// xz in process (xz-decompress) for kbuild's module streams; the system xz (liblzma) for branch filters, with a
// clear error when it is missing. Oracle: the xz tool that made the streams. (lzma_alone: test/lzma.test.ts.)
import { execFileSync } from 'node:child_process';
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
