/**
 * Decompressing module files (and kernel payloads, through src/kallsyms/vmlinuz.ts): gzip, and zstd on
 * Node >= 22.15, with node:zlib; zstd on Node 20 with fzstd (pure JS); xz with xz-decompress (xz-embedded
 * as WebAssembly, runs on every platform). An xz stream with a branch filter (the kernel's xz_wrap.sh adds
 * one to vmlinuz) and the lzma_alone format go to the system `xz` (liblzma), which reads every filter.
 */
import { spawnSync } from 'node:child_process';
import * as zlib from 'node:zlib';
import { Decompress as ZstdStream } from 'fzstd';
import xz from 'xz-decompress';
import { ObjectError } from '../errors.js';
import { lebEnd, uleb } from '../dwarf/leb128.js';

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
 * The system `xz` (liblzma) over a whole stream: `--format=xz` reads every filter chain, `--format=lzma` the
 * lzma_alone streams of CONFIG_KERNEL_LZMA. Only the first xz stream is read (a vmlinuz payload found by
 * magic search runs on to the end of the file).
 */
export function systemXz(file: string, format: 'xz' | 'lzma', input: Buffer, at: number, cap = DEFAULT_DECOMPRESSED_CAP): Buffer {
  const args = ['--decompress', '--stdout', `--format=${format}`, ...(format === 'xz' ? ['--single-stream'] : [])];
  const r = spawnSync('xz', args, { input, maxBuffer: cap, stdio: ['pipe', 'pipe', 'pipe'] });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    throw new ObjectError(file, at, `${format} stream: its filters need the system xz (Debian package xz-utils), which is not on PATH`, 'unsupported');
  }
  if (code === 'ENOBUFS') throw capError(file, cap, at);
  if (r.error || r.status !== 0) {
    throw new ObjectError(file, at, `${format} stream: expected valid compressed data (xz: ${r.error?.message ?? r.stderr.toString().trim()})`, 'compression');
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
          if (e instanceof Error && XZ_OPTIONS_ERROR.test(e.message) && namesBranchFilter(input)) return systemXz(file, 'xz', input, 0, cap);
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
 * zstd where Node has it, else fzstd's streaming decoder. fzstd is never handed an output buffer: its frame
 * header reader compares that buffer with a number (`w == 1`), which turns the whole buffer into a string, per
 * frame (a 13 KB fuzzed module with a large declared section size took 3 s).
 */
export function zstdDecompress(file: string, input: Buffer, cap: number): Buffer {
  checkZstdWindow(file, input);
  if (nativeZstd) return nativeZstd(input, { maxOutputLength: cap });
  return collect(file, cap, (push) => {
    const stream = new ZstdStream((chunk) => push(chunk));
    stream.push(input, true);
  });
}

const ZSTD_MAGIC = 0xfd2fb528;
/**
 * zstd's reference decoder refuses a frame whose window is over 2^27 bytes unless told otherwise
 * (ZSTD_WINDOWLOG_LIMIT_DEFAULT); the kernel's zstd streams (modules, `zstd -22 --ultra` vmlinuz) stay within it.
 * fzstd allocates the window before it reads a block: a 28-byte frame claiming 2 GB took 2 GB and 10 s of CPU.
 */
export const ZSTD_WINDOW_LIMIT = 1 << 27;

/** The first frame's window (a single-segment frame's window is its content size), checked against the limit. */
function checkZstdWindow(file: string, input: Buffer): void {
  if (input.length < 6 || input.readUInt32LE(0) !== ZSTD_MAGIC) return; // fzstd reports what is wrong
  const fhd = input[4];
  const single = (fhd >> 5) & 1;
  let window: number;
  let at: number;
  if (!single) {
    at = 5;
    const base = 2 ** (10 + (input[5] >> 3));
    window = base + (base / 8) * (input[5] & 7);
  } else {
    at = 5 + [0, 1, 2, 4][fhd & 3];
    const width = [1, 2, 4, 8][fhd >> 6];
    if (at + width > input.length) return;
    window = width === 8 ? input.readUInt32LE(at) + input.readUInt32LE(at + 4) * 0x1_0000_0000 : input.readUIntLE(at, width) + (width === 2 ? 256 : 0);
  }
  if (window > ZSTD_WINDOW_LIMIT) {
    throw new ObjectError(file, at, `zstd frame header: expected a window of at most ${ZSTD_WINDOW_LIMIT} bytes (zstd's default decoder limit), found ${window}`, 'compression');
  }
}

function capError(file: string, cap: number, at = 0): ObjectError {
  return new ObjectError(file, at, `decompressed size: expected at most ${cap} bytes, the stream produces more`, 'compression');
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
