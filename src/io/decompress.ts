/**
 * Decompressing module files (and kernel payloads, through src/kallsyms/vmlinuz.ts): gzip, and zstd on
 * Node >= 22.15, with node:zlib; zstd on Node 20 with our own decoder (src/io/zstd/); xz with xz-decompress (xz-embedded
 * as WebAssembly, runs on every platform); an xz stream with a branch filter (the kernel's xz_wrap.sh adds
 * one to vmlinuz) goes to the system `xz` (liblzma). lzma_alone payloads: src/io/lzma.ts.
 */
import { spawnSync } from 'node:child_process';
import * as zlib from 'node:zlib';
import xz from 'xz-decompress';
import { ObjectError } from '../errors.js';
import { lebEnd, uleb } from '../dwarf/leb128.js';
import { decodeZstd, zstdFrames } from './zstd/frame.js';

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
/** Node ≥ 22.15 (and 23.8) decodes zstd natively, faster than our decoder. */
const nativeZstd = (zlib as unknown as { zstdDecompressSync?: NativeZstd }).zstdDecompressSync;

/** xz-embedded's XZ_OPTIONS_ERROR: a filter it was built without (the branch filters), or a damaged header. */
const XZ_OPTIONS_ERROR = /get_next_output failed with error code 6\b/;

/** The xz filter ids of LZMA2, which xz-embedded reads, and of the delta and branch (BCJ) filters, which it does not. */
const XZ_LZMA2 = 0x21;
const XZ_OTHER_FILTERS = { first: 0x03, last: 0x0b };

/**
 * Whether the first block of an xz stream names a delta or branch filter before LZMA2: only then is liblzma
 * asked (a process per stream). A damaged header xz-embedded also refuses as unsupported options is an error.
 */
function namesBranchFilter(input: Buffer): boolean {
  const at = 12; // past the stream header: magic, stream flags, CRC32
  if (input.length < at + 2 || input[at] === 0) return false;
  const end = Math.min(input.length, at + (input[at] + 1) * 4);
  const flags = input[at + 1];
  let p = at + 2;
  const vli = () => {
    const v = uleb(input, p, end);
    p = lebEnd;
    return v;
  };
  if (flags & 0x40) vli(); // compressed size
  if (flags & 0x80) vli(); // uncompressed size
  for (let k = 0; k <= (flags & 3) && p >= 0 && p < end; k++) {
    const id = vli();
    if (p < 0 || id === XZ_LZMA2) return false;
    if (id >= XZ_OTHER_FILTERS.first && id <= XZ_OTHER_FILTERS.last) return true;
    const properties = vli();
    if (p < 0) return false;
    p += properties;
  }
  return false;
}

/**
 * The system `xz` (liblzma) over an xz stream whose filter chain xz-embedded lacks (a branch or delta
 * filter). Only the first stream is read (a vmlinuz payload found by magic search runs on to the end of the file).
 */
function systemXz(file: string, input: Buffer, cap: number): Buffer {
  const r = spawnSync('xz', ['--decompress', '--stdout', '--format=xz', '--single-stream'], { input, maxBuffer: cap, stdio: ['pipe', 'pipe', 'pipe'] });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    throw new ObjectError(file, 0, 'xz stream: its filters need the system xz (Debian package xz-utils), which is not on PATH', 'unsupported');
  }
  if (code === 'ENOBUFS') throw capError(file, cap);
  if (r.error || r.status !== 0) {
    throw new ObjectError(file, 0, `xz stream: expected valid compressed data (xz: ${r.error?.message ?? r.stderr.toString().trim()})`, 'compression');
  }
  return r.stdout;
}

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
          if (e instanceof Error && XZ_OPTIONS_ERROR.test(e.message) && namesBranchFilter(input)) return systemXz(file, input, cap);
          throw e;
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
  return new ObjectError(file, at, `decompressed size: expected at most ${cap} bytes, the stream produces more`, 'compression');
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
