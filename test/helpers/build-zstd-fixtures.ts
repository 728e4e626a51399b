/**
 * zstd streams for the decoder's tests, written by the zstd CLI (the oracle) at several settings, each with what
 * `zstd -dc` makes of it; cached under test/.fixtures/zstd-<hash>/ (./fixture-cache.ts). Inputs: the fixture
 * kernel's objects (real ELF bytes), and synthetic ones shaped so that together they make the compressor use
 * every literals and sequences mode (test/zstd.test.ts asserts that it did).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_SOURCES, buildFixtures } from './build-fixtures.js';
import { cachedBuild } from './fixture-cache.js';
import { repoPath } from './repo.js';

export interface ZstdCase {
  /** `input name: zstd arguments`. */
  readonly name: string;
  readonly input: string;
  readonly zst: string;
  /** `zstd -dc` of `zst`. */
  readonly oracle: string;
}

export interface ZstdFixtures {
  readonly cases: readonly ZstdCase[];
}

/** The same bytes at every run: xorshift32 from a fixed seed. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

/** Synthetic inputs, each named for the mode it is there to bring out. */
function synthetic(): Record<string, Buffer> {
  const rnd = random(0x12345678);
  const bytes = (n: number, f: (i: number, b: Buffer) => number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = f(i, b);
    return b;
  };
  const noise = bytes(131072, () => rnd() & 255);
  // After a block of noise: 'x' + 40 bytes of the noise, 1,500 times, all offsets of one code: literals all 'x'
  // (RLE literals), literal lengths all 1 and match lengths all 40 (RLE code tables).
  const units: Buffer[] = [noise];
  for (let u = 0, p = 0; u < 1500; u++, p += 41) {
    const low = Math.max(p + 40, 65600);
    const from = 131072 + p + 1 - (low + (rnd() % (131000 - low)));
    units.push(Buffer.from('x'), noise.subarray(from, from + 40));
  }
  return {
    empty: Buffer.alloc(0),
    'one-byte': Buffer.from('k'),
    repetitive: Buffer.from('ksymtree'.repeat(50000)),
    random: bytes(200000, () => rnd() & 255),
    'rle-literals': Buffer.concat(units),
    // Few distinct literal values: the Huffman weights are written directly, not FSE-compressed.
    'small-alphabet': bytes(20000, () => { const r = rnd(); return (r & 7) === 0 ? (r >>> 8) & 15 : (r >>> 8) & 3; }),
    // Every match at distance 1000: after the first block, offsets are all repeat code 0 (RLE offsets).
    periodic: bytes(300000, (i, b) => (i < 1000 || i % 45 < 5 ? rnd() & 255 : b[i - 1000])),
    // Text-like bytes a little over one block: the last block's few literals reuse the Huffman table (treeless, one stream).
    'short-tail': bytes(131072 + 200, () => { const r = rnd(); return 97 + ((r & 7) === 0 ? (r >>> 8) % 26 : (r >>> 8) % 6); }),
  };
}

/** zstd settings: levels, the largest window, small windows (so small blocks), no checksum. */
const SETTINGS: readonly (readonly string[])[] = [
  ['-1'], ['-3'], ['-19'], ['--ultra', '-22'], ['--long=27'], ['--zstd=wlog=10'], ['-19', '--zstd=wlog=10'], ['--no-check', '-3'],
];

let memo: Promise<ZstdFixtures> | undefined;

export function buildZstdFixtures(): Promise<ZstdFixtures> {
  memo ??= build();
  return memo;
}

async function build(): Promise<ZstdFixtures> {
  const fx = await buildFixtures();
  const objects = fx.objects.filter((o) => o.available && o.compression === 'none' && (o.variant === 'plain' || o.variant === 'installed'));
  const zstdVersion = execFileSync('zstd', ['--version'], { encoding: 'utf8' }).trim();
  const { manifest } = await cachedBuild<ZstdFixtures>({
    name: 'zstd',
    files: [FIXTURE_SOURCES, repoPath('test', 'helpers', 'build-zstd-fixtures.ts')],
    facts: { zstdVersion, objects: objects.map((o) => o.id) },
    async build(tmp) {
      const inputs: Record<string, Buffer> = { ...synthetic(), 'fixture-objects': Buffer.concat(objects.map((o) => readFileSync(o.path))) };
      const cases: ZstdCase[] = [];
      for (const [name, data] of Object.entries(inputs)) {
        const input = join(tmp, `${name}.raw`);
        writeFileSync(input, data);
        SETTINGS.forEach((args, k) => {
          const zst = join(tmp, `${name}.${k}.zst`);
          execFileSync('zstd', ['-q', '-f', ...args, input, '-o', zst]);
          const oracle = join(tmp, `${name}.${k}.out`);
          writeFileSync(oracle, execFileSync('zstd', ['-dc', '--long=27', zst], { maxBuffer: 1 << 28 }));
          cases.push({ name: `${name}: ${args.join(' ')}`, input, zst, oracle });
        });
      }
      // Frames one after another, as `zstd` writes for concatenated files, with a skippable frame between them.
      const skippable = Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
      const [first, second] = [cases.find((c) => c.name === 'repetitive: -1')!, cases.find((c) => c.name === 'fixture-objects: -19')!];
      const concat = join(tmp, 'concatenated.zst');
      writeFileSync(concat, Buffer.concat([readFileSync(first.zst), skippable, readFileSync(second.zst)]));
      const input = join(tmp, 'concatenated.raw');
      writeFileSync(input, Buffer.concat([readFileSync(first.input), readFileSync(second.input)]));
      const oracle = join(tmp, 'concatenated.out');
      writeFileSync(oracle, execFileSync('zstd', ['-dc', concat], { maxBuffer: 1 << 28 }));
      cases.push({ name: 'concatenated frames and a skippable frame', input, zst: concat, oracle });
      return { cases };
    },
  });
  return manifest;
}
