/**
 * Decompressing module files (and kernel payloads, through src/kallsyms/vmlinuz.ts): gzip, and zstd on
 * Node >= 22.15, with node:zlib; zstd on Node 20 with our own decoder (src/io/zstd/); xz with xz-decompress (xz-embedded
 * as WebAssembly, twice as fast as ours), and a stream it refuses (a branch filter: the kernel's xz_wrap.sh
 * adds one to vmlinuz; or a damaged header) with our own decoder (src/io/xz/). lzma_alone: src/io/lzma/.
 */
import * as zlib from 'node:zlib';
import xz from 'xz-decompress';
import { ObjectError } from '../errors.js';
import { capMessage } from './capped-output.js';
import { XZ_MAGIC, xzDecompress } from './xz/stream.js';
import { decodeZstd, zstdFrames } from './zstd/frame.js';

export type Compression = 'none' | 'gzip' | 'xz' | 'zstd';

const MAGIC: ReadonlyArray<readonly [Compression, Buffer]> = [
  ['gzip', Buffer.from([0x1f, 0x8b])],
  ['xz', XZ_MAGIC],
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
/** Node ≥ 22.15 (and 23.8) decodes zstd natively, faster than our decoder. */
const nativeZstd = (zlib as unknown as { zstdDecompressSync?: NativeZstd }).zstdDecompressSync;

export async function decompress(file: string, kind: Exclude<Compression, 'none'>, input: Buffer, cap = DEFAULT_DECOMPRESSED_CAP): Promise<Buffer> {
  try {
    switch (kind) {
      case 'gzip':
        return zlib.gunzipSync(input, { maxOutputLength: cap });
      case 'zstd':
        return zstdDecompress(file, input, cap);
      case 'xz':
        try {
          return await decompressXz(file, input, cap);
        } catch (e) {
          // A filter xz-embedded was built without (the branch filters) or broken data, which it reports by
          // a number only: our decoder reads the stream again, and says where and what, if it fails too.
          if (e instanceof ObjectError) throw e;
          return xzDecompress(file, input, cap);
        }
    }
  } catch (e) {
    if (e instanceof ObjectError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    if (/maxOutputLength|Cannot create a Buffer larger|ERR_BUFFER_TOO_LARGE/i.test(message)) throw capError(file, cap);
    throw new ObjectError(file, 0, `${kind} stream: expected valid compressed data (${message})`, 'compression');
  }
}

/**
 * A zstd stream, at most `cap` bytes out (module files, vmlinuz payloads, SHF_COMPRESSED debug sections): zlib's
 * zstd where Node has it, one frame at a time (it stops after the first; the frames are found, and their
 * headers checked, by our decoder's header reader), else our decoder, whose cost any input bounds (fzstd's
 * was not: a 1,889-byte block took 0.4 s before failing).
 */
export function zstdDecompress(file: string, input: Buffer, cap: number): Buffer {
  if (!nativeZstd) return decodeZstd(file, input, cap);
  const parts: Buffer[] = [];
  let total = 0;
  for (const [start, end] of zstdFrames(file, input)) {
    const part = nativeZstd(input.subarray(start, end), { maxOutputLength: Math.max(1, cap - total) });
    total += part.length;
    if (total > cap) throw capError(file, cap, start);
    parts.push(part);
  }
  return Buffer.concat(parts, total);
}

function capError(file: string, cap: number, at = 0): ObjectError {
  return new ObjectError(file, at, capMessage(cap), 'compression');
}

async function decompressXz(file: string, input: Buffer, cap: number): Promise<Buffer> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(input.buffer, input.byteOffset, input.byteLength));
      controller.close();
    },
  });
  const reader = new xz.XzReadableStream(source).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > cap) {
      await reader.cancel();
      throw capError(file, cap);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}
