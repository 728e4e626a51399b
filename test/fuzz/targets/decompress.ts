// Fuzz targets: each decompressor wrapper on its own — gzip, xz (both of its decoders) and zstd as index opens a
// module (src/io/decompress.ts), lz4, lzma and bzip2 as it opens a vmlinuz payload (decompressKernel). Seeds: a small
// fixture module compressed with each format's own tool, the way the kernel's build writes it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { decompress } from '../../../src/io/decompress.js';
import { type KernelCompression, decompressKernel } from '../../../src/kallsyms/vmlinuz.js';
import { COMPRESSION_TOKENS, type FuzzTarget } from '../target.js';
import { buildFixtures } from './seeds.js';

/** The command that writes each format, as the kernel's scripts/Makefile.lib runs it. */
const COMPRESSORS: Record<KernelCompression, readonly string[]> = {
  gzip: ['gzip', '-n', '-9', '-c'],
  xz: ['xz', '--check=crc32', '-c'],
  zstd: ['zstd', '-19', '-q', '-c'],
  lz4: ['lz4', '-l', '-9', '-c'],
  lzma: ['xz', '--format=lzma', '-9', '-c'],
  bzip2: ['bzip2', '-9', '-c'],
};

/** As index meets each format: a module file holds the bare stream; a vmlinuz payload ends with the uncompressed size (size_append) but gzip's. */
function compressed(kind: KernelCompression, raw: Buffer, asPayload: boolean): Buffer {
  const [cmd, ...args] = COMPRESSORS[kind];
  const packed = execFileSync(cmd, args, { input: raw, maxBuffer: 64 << 20 });
  if (!asPayload || kind === 'gzip') return packed;
  const size = Buffer.alloc(4);
  size.writeUInt32LE(raw.length);
  return Buffer.concat([packed, size]);
}

/** More xz seeds: the branch filters xz_wrap.sh adds, delta, every check type and several blocks (src/io/xz/ reads them). */
const XZ_VARIANTS: readonly (readonly string[])[] = [['--check=crc64', '--x86', '--lzma2'], ['--check=sha256', '--arm64', '--lzma2'],
  ['--check=none', '--delta=dist=4', '--powerpc', '--lzma2'], ['--check=crc32', '--block-size=4096', '--armthumb', '--lzma2=preset=0']];

const SMOKE_EXECS: Record<KernelCompression, number> = { gzip: 4000, xz: 4000, zstd: 1500, lz4: 4000, lzma: 1500, bzip2: 1500 };

function decompressorTarget(kind: KernelCompression): FuzzTarget {
  const moduleFormat = kind === 'gzip' || kind === 'xz' || kind === 'zstd';
  return {
    name: kind,
    fileName: `fuzz.${kind}`,
    smokeExecs: SMOKE_EXECS[kind],
    dictionary: COMPRESSION_TOKENS,
    async seeds() {
      const fx = await buildFixtures();
      const raws = fx.objects.filter((o) => o.available && o.variant === 'installed' && o.compression === 'none').slice(0, 2).map((o) => readFileSync(o.path));
      raws.push(Buffer.from('ksymtree'.repeat(64)), Buffer.alloc(0));
      const seeds = raws.map((raw) => compressed(kind, raw, !moduleFormat));
      if (kind === 'xz') for (const args of XZ_VARIANTS) seeds.push(execFileSync('xz', [...args, '-c'], { input: raws[0], maxBuffer: 64 << 20 }));
      return seeds;
    },
    async run(path, input) {
      if (moduleFormat) await decompress(path, kind, input);
      else await decompressKernel(path, kind, input, 0);
    },
  };
}

export default (['gzip', 'xz', 'zstd', 'lz4', 'lzma', 'bzip2'] as const).map(decompressorTarget);
