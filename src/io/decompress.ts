import { gunzipSync } from 'node:zlib';
import { Decompress as ZstdStream } from 'fzstd';
import xz from 'xz-decompress';
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

export async function decompress(file: string, kind: Exclude<Compression, 'none'>, input: Buffer, cap = DEFAULT_DECOMPRESSED_CAP): Promise<Buffer> {
  try {
    switch (kind) {
      case 'gzip':
        return gunzipSync(input, { maxOutputLength: cap });
      case 'zstd':
        return collect(file, cap, (push) => {
          const stream = new ZstdStream((chunk) => push(chunk));
          stream.push(input, true);
        });
      case 'xz':
        return await decompressXz(file, input, cap);
    }
  } catch (e) {
    if (e instanceof ObjectError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    if (/maxOutputLength|Cannot create a Buffer larger/i.test(message)) throw capError(file, cap);
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
