/**
 * Decompressing module files (and kernel payloads, through src/kallsyms/vmlinuz.ts): gzip and, on Node
 * ≥ 22.15, zstd with node:zlib; zstd on older Node with fzstd (pure JS); xz with @napi-rs/lzma (liblzma's
 * format with every branch filter, native per platform). Streams are sized before they are decoded where the
 * format says how big they are (xz index), so a bomb is refused without allocating it.
 */
import * as zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { Decompress as ZstdStream } from 'fzstd';
import { ObjectError } from '../errors.js';

export type Compression = 'none' | 'gzip' | 'xz' | 'zstd';

const MAGIC: ReadonlyArray<readonly [Compression, Buffer]> = [
  ['gzip', Buffer.from([0x1f, 0x8b])],
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
];

/** Decided by content, not by file name: a `.ko.xz` that is really plain ELF is read as ELF. */
export function detectCompression(head: Buffer): Compression {
  for (const [kind, magic] of MAGIC) if (head.length >= magic.length && head.subarray(0, magic.length).equals(magic)) return kind;
  return 'none';
}

/** Largest decompressed module we accept; Debian's biggest debug module is well under this. */
export const DEFAULT_DECOMPRESSED_CAP = 1 << 30;

type NativeZstd = (b: Buffer, o: { maxOutputLength: number }) => Buffer;
/** Node ≥ 22.15 (and 23.8) decodes zstd natively, ten times faster than fzstd. */
const nativeZstd = (zlib as unknown as { zstdDecompressSync?: NativeZstd }).zstdDecompressSync;

interface LzmaBinding { decompressSync(b: Uint8Array): Uint8Array }
let lzmaModules: Record<string, LzmaBinding> = {};

/**
 * @napi-rs/lzma's `xz` or `lzma` (lzma_alone) decoder, loaded on first use: its native part comes from an
 * optional per-platform package, so a platform without one fails here, for the compressed file only.
 */
export function lzmaDecoder(format: 'xz' | 'lzma', file: string, at: number): LzmaBinding {
  if (!lzmaModules[format]) {
    try {
      lzmaModules = { ...lzmaModules, [format]: createRequire(import.meta.url)(`@napi-rs/lzma/${format}`) as LzmaBinding };
    } catch (e) {
      throw new ObjectError(file, at, `${format} stream: decoding it needs the npm package @napi-rs/lzma, whose native part for ${process.platform}-${process.arch} could not be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`, 'unsupported');
    }
  }
  return lzmaModules[format];
}

export async function decompress(file: string, kind: Exclude<Compression, 'none'>, input: Buffer, cap = DEFAULT_DECOMPRESSED_CAP): Promise<Buffer> {
  try {
    switch (kind) {
      case 'gzip':
        return zlib.gunzipSync(input, { maxOutputLength: cap });
      case 'zstd':
        if (nativeZstd) return nativeZstd(input, { maxOutputLength: cap });
        return collect(file, cap, (push) => {
          const stream = new ZstdStream((chunk) => push(chunk));
          stream.push(input, true);
        });
      case 'xz': {
        const size = xzDecompressedSize(file, input);
        if (size > cap) throw capError(file, cap);
        const out = lzmaDecoder('xz', file, 0).decompressSync(input);
        return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
      }
    }
  } catch (e) {
    if (e instanceof ObjectError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    if (/maxOutputLength|Cannot create a Buffer larger|ERR_BUFFER_TOO_LARGE/i.test(message)) throw capError(file, cap);
    throw new ObjectError(file, 0, `${kind} stream: expected valid compressed data (${message})`, 'compression');
  }
}

function capError(file: string, cap: number): ObjectError {
  return new ObjectError(file, 0, `decompressed size: expected at most ${cap} bytes, the stream produces more`, 'compression');
}

function collect(file: string, cap: number, run: (push: (chunk: Uint8Array) => void) => void): Buffer {
  const chunks: Uint8Array[] = [];
  let total = 0;
  run((chunk) => {
    total += chunk.length;
    if (total > cap) throw capError(file, cap);
    chunks.push(chunk);
  });
  return Buffer.concat(chunks, total);
}

const XZ_FOOTER = 12;

/**
 * The uncompressed size an xz file declares: the sum of the uncompressed sizes in the index of each stream,
 * read backwards from the last stream's footer (xz-file-format 1.2.1, §2.1.2.4 and §4), skipping stream
 * padding. Decoding still checks each block against these sizes.
 */
export function xzDecompressedSize(file: string, input: Buffer): number {
  let end = input.length;
  let total = 0;
  while (end > 0) {
    while (end >= 4 && input.readUInt32LE(end - 4) === 0) end -= 4; // stream padding
    if (end === 0) break;
    if (end < XZ_FOOTER * 2 || input.toString('latin1', end - 2, end) !== 'YZ') {
      throw new ObjectError(file, Math.max(0, end - 2), 'xz stream footer: expected the magic "YZ" at the end of the stream', 'compression');
    }
    const indexSize = (input.readUInt32LE(end - 8) + 1) * 4;
    const index = end - XZ_FOOTER - indexSize;
    if (index < XZ_FOOTER || input[index] !== 0) {
      throw new ObjectError(file, Math.max(0, index), `xz index: expected an index indicator (0x00) ${indexSize} bytes before the footer`, 'compression');
    }
    let p = index + 1;
    const varint = (): number => {
      let v = 0;
      for (let shift = 0; shift < 63; shift += 7) {
        if (p >= end - XZ_FOOTER) break;
        const b = input[p++];
        v += (b & 0x7f) * 2 ** shift;
        if (!(b & 0x80)) return v;
      }
      throw new ObjectError(file, p, 'xz index: expected a multibyte integer that ends inside the index', 'compression');
    };
    let unpadded = 0;
    for (let records = varint(); records > 0; records--) {
      unpadded += Math.ceil(varint() / 4) * 4;
      total += varint();
    }
    // The stream: header (12 bytes), its blocks (unpadded sizes rounded up to 4), index, footer.
    end = index - unpadded - XZ_FOOTER;
    if (end < 0) throw new ObjectError(file, index, 'xz index: expected its blocks to fit before it, they would start before the file', 'compression');
  }
  return total;
}
