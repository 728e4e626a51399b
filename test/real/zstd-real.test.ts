// Our zstd decoder over real Debian modules (6.1 cloud-amd64 debug tree) as the zstd CLI compresses them at
// kbuild's and distributions' settings: the output is what `zstd -dc` gives, byte for byte, and the module itself.
// Skipped (by name, counted as skipped) when the corpus is absent.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { zstdDecompress } from '../../src/io/decompress.js';
import { decodeZstd } from '../../src/io/zstd/frame.js';
import { corpus61 } from '../helpers/corpus.js';

const corpus = corpus61();
const real = corpus ? test.serial : test.skip;
const MODULES = ['kernel/fs/binfmt_misc.ko', 'kernel/net/tls/tls.ko'];
const SETTINGS = [['-3'], ['-19'], ['--ultra', '-22', '--long=27'], ['--no-check', '-1']];

for (const module of MODULES) {
  real(`${module}: every zstd setting decodes as zstd -dc decodes it`, (t) => {
    const path = join(corpus!.debug, module);
    const original = readFileSync(path);
    for (const args of SETTINGS) {
      const z = execFileSync('zstd', ['-q', '-c', ...args, path], { maxBuffer: 1 << 28 });
      const oracle = execFileSync('zstd', ['-dc', '--long=27'], { input: z, maxBuffer: 1 << 28 });
      t.true(oracle.equals(original), `${args.join(' ')}: zstd -dc`);
      t.true(decodeZstd(path, z, 1 << 30).equals(oracle), `${args.join(' ')}: our decoder`);
      t.true(zstdDecompress(path, z, 1 << 30).equals(oracle), `${args.join(' ')}: zstdDecompress`);
    }
  });
}
