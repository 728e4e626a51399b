// The vmlinux inside a compressed kernel image, so that an installed tree without a debug package still
// yields the kernel's kallsyms tables. An x86 bzImage says where its payload is (boot protocol ≥ 2.08:
// `payload_offset`/`payload_length` in the setup header); anything else is searched for compressed-stream
// magic numbers. x86's payload is `vmlinux.bin`: vmlinux after `objcopy -S`, so an ELF with sections and
// no `.symtab`, which decodeVmlinuxKallsyms reads by shape.
//
// Compressors, as the kernel's build writes them (scripts/Makefile.lib): every format but gzip has the
// uncompressed size appended as 4 little-endian bytes (size_append), which is stripped before decoding and
// checked after. lz4 is the legacy frame (`lz4 -l`), 8 MiB blocks, which no Node built-in reads.
import { ObjectError } from '../errors.js';
import { ELF_MAGIC } from '../elf/header.js';
import { capMessage } from '../io/capped-output.js';
import { DEFAULT_DECOMPRESSED_CAP, decompress } from '../io/decompress.js';
import { XZ_MAGIC } from '../io/xz/stream.js';
import { lzmaAloneDecompress } from '../io/lzma/alone.js';

export type KernelCompression = 'gzip' | 'xz' | 'zstd' | 'lz4' | 'lzma' | 'bzip2';

export interface ExtractedKernel {
  readonly image: Buffer;
  readonly compression: KernelCompression;
  /** Where the compressed stream starts in the file, and how many bytes were given to the decompressor. */
  readonly payloadOffset: number;
  readonly payloadLength: number;
  readonly found: 'setup-header' | 'magic-search';
}

const MAGICS: ReadonlyArray<readonly [KernelCompression, Buffer]> = [
  ['gzip', Buffer.from([0x1f, 0x8b, 0x08])],
  ['xz', XZ_MAGIC],
  ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ['lz4', Buffer.from([0x02, 0x21, 0x4c, 0x18])],
  ['bzip2', Buffer.from('BZh', 'latin1')],
  // lzma_alone: lc/lp/pb properties 0x5d and a dictionary size; the kernel's `lzma -9` writes these bytes.
  ['lzma', Buffer.from([0x5d, 0x00, 0x00])],
];

const SETUP_SECTS = 0x1f1;
const HEADER_MAGIC = 0x202;
const PROTOCOL_VERSION = 0x206;
const PAYLOAD_OFFSET = 0x248;
const PAYLOAD_LENGTH = 0x24c;

/** An x86 boot image: "HdrS" in the setup header. */
export function isBzImage(bytes: Buffer): boolean {
  return bytes.length >= 0x250 && bytes.toString('latin1', HEADER_MAGIC, HEADER_MAGIC + 4) === 'HdrS';
}

export function compressionAt(bytes: Buffer, at: number): KernelCompression | null {
  for (const [kind, magic] of MAGICS) {
    if (at + magic.length <= bytes.length && bytes.compare(magic, 0, magic.length, at, at + magic.length) === 0) return kind;
  }
  return null;
}

/**
 * Decompresses the kernel in a vmlinuz. Throws ObjectError when no payload decompresses to an ELF image
 * (the offset is the payload's, or 0 when none was found).
 */
export async function extractVmlinuz(file: string, bytes: Buffer, cap = DEFAULT_DECOMPRESSED_CAP): Promise<ExtractedKernel> {
  if (isBzImage(bytes) && bytes.readUInt16LE(PROTOCOL_VERSION) >= 0x208) {
    const setupSects = bytes[SETUP_SECTS] || 4; // 0 means 4, for the oldest boot loaders
    const start = (setupSects + 1) * 512 + bytes.readUInt32LE(PAYLOAD_OFFSET);
    const length = bytes.readUInt32LE(PAYLOAD_LENGTH);
    if (start + length > bytes.length) {
      throw new ObjectError(file, PAYLOAD_OFFSET, `bzImage payload: expected ${length} bytes at 0x${start.toString(16)}, the file ends at 0x${bytes.length.toString(16)}`, 'truncated');
    }
    const kind = compressionAt(bytes, start);
    if (!kind) {
      throw new ObjectError(file, start, `bzImage payload: expected a gzip, xz, zstd, lz4, lzma or bzip2 stream, found ${bytes.subarray(start, start + 6).toString('hex')}`, 'unsupported');
    }
    const image = await decompressKernel(file, kind, bytes.subarray(start, start + length), start, cap);
    requireElf(file, image, start, kind);
    return { image, compression: kind, payloadOffset: start, payloadLength: length, found: 'setup-header' };
  }
  // Not a bzImage (or a pre-2.08 one): try each magic number in file order until one yields an ELF image.
  let tried = 0;
  for (let at = 0; at < bytes.length && tried < 64; at++) {
    const kind = compressionAt(bytes, at);
    if (!kind) continue;
    tried++;
    try {
      const image = await decompressKernel(file, kind, bytes.subarray(at), at, cap);
      if (image.subarray(0, 4).equals(ELF_MAGIC)) {
        return { image, compression: kind, payloadOffset: at, payloadLength: bytes.length - at, found: 'magic-search' };
      }
    } catch (e) {
      if (!(e instanceof ObjectError) || e.kind === 'unsupported') throw e;
      // A magic number inside other data; keep looking.
    }
  }
  throw new ObjectError(file, 0, 'vmlinuz: expected a bzImage setup header or a compressed stream that holds an ELF vmlinux, found neither', 'unsupported');
}

function requireElf(file: string, image: Buffer, at: number, kind: KernelCompression): void {
  if (!image.subarray(0, 4).equals(ELF_MAGIC)) {
    throw new ObjectError(file, at, `${kind} payload: expected it to decompress to an ELF vmlinux, it starts with ${image.subarray(0, 4).toString('hex')}`, 'unsupported');
  }
}

/** The appended uncompressed size, when the stream is long enough to have one. */
function appendedSize(payload: Buffer): number | null {
  return payload.length >= 8 ? payload.readUInt32LE(payload.length - 4) : null;
}

export async function decompressKernel(file: string, kind: KernelCompression, payload: Buffer, at: number, cap = DEFAULT_DECOMPRESSED_CAP): Promise<Buffer> {
  const size = appendedSize(payload);
  const body = kind === 'gzip' ? payload : payload.subarray(0, payload.length - 4);
  let out: Buffer;
  try {
    switch (kind) {
      // xz_wrap.sh adds a branch filter (--x86, --arm64, ...): decompress() hands such streams to src/io/xz/.
      case 'xz':
      case 'zstd':
      case 'gzip':
        out = await rebased(at, () => decompress(file, kind, body, cap));
        break;
      case 'lz4':
        out = await lz4Legacy(file, body, size, at, cap);
        break;
      case 'lzma':
        out = lzmaAloneDecompress(file, body, at, cap);
        break;
      case 'bzip2':
        out = Buffer.from((await optional<{ default: { decode(b: Buffer): Uint8Array } }>('seek-bzip', 'seek-bzip', kind, file, at)).default.decode(body));
        break;
    }
  } catch (e) {
    if (e instanceof ObjectError) throw e;
    throw new ObjectError(file, at, `${kind} stream: expected valid compressed data (${e instanceof Error ? e.message : String(e)})`, 'compression');
  }
  if (out.length > cap) throw new ObjectError(file, at, capMessage(cap), 'compression');
  if (kind !== 'gzip' && size !== null && out.length !== size) {
    throw new ObjectError(file, at + payload.length - 4, `${kind} payload: the appended size says ${size} bytes, the stream decompressed to ${out.length}`, 'compression');
  }
  return out;
}

/** src/io/decompress.ts reports offsets in the stream it was given; the payload starts at `at` in the file. */
async function rebased(at: number, run: () => Promise<Buffer>): Promise<Buffer> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof ObjectError) throw new ObjectError(e.file, at + e.offset, e.expected, e.kind);
    throw e;
  }
}

/** Each optional package's import, started once (a loader hook makes every import() a round trip). */
const imported = new Map<string, Promise<unknown>>();

/** A decompressor from an npm package that only compressed kernels need (loaded when one is met). */
async function optional<T>(specifier: string, pkg: string, kind: KernelCompression, file: string, at: number): Promise<T> {
  let loading = imported.get(specifier);
  if (!loading) imported.set(specifier, (loading = import(specifier)));
  try {
    return (await loading) as T;
  } catch (e) {
    throw new ObjectError(file, at, `${kind} stream: decoding it needs the npm package ${pkg}, which could not be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`, 'unsupported');
  }
}

const LZ4_LEGACY_MAGIC = 0x184c2102;
/** `lz4 -l` compresses independent blocks of this many bytes; only the last one is shorter. */
const LZ4_LEGACY_BLOCK = 8 << 20;

interface Lz4Napi {
  uncompressSync(data: Uint8Array): Buffer;
}

/**
 * The legacy lz4 frame: magic, then blocks of [u32 LE compressed size][raw lz4 block]; the kernel's
 * decompressor also accepts the magic again between blocks (concatenated streams). lz4-napi decodes a raw
 * block when told its decompressed size first, which is 8 MiB for every block but the last.
 */
async function lz4Legacy(file: string, body: Buffer, total: number | null, at: number, cap: number): Promise<Buffer> {
  const lz4 = await optional<Lz4Napi>('lz4-napi', 'lz4-napi', 'lz4', file, at);
  if (total === null || total > cap) {
    throw new ObjectError(file, at, `lz4 payload: expected an appended uncompressed size of at most ${cap} bytes`, 'compression');
  }
  const chunks: Buffer[] = [];
  let done = 0;
  let p = 4;
  while (p + 4 <= body.length && done < total) {
    const n = body.readUInt32LE(p);
    p += 4;
    if (n === LZ4_LEGACY_MAGIC) continue;
    if (p + n > body.length) {
      throw new ObjectError(file, p - 4, `lz4 block: expected ${n} compressed bytes, the payload ends after ${body.length - p}`, 'truncated');
    }
    const want = Math.min(LZ4_LEGACY_BLOCK, total - done);
    const framed = Buffer.allocUnsafe(4 + n);
    framed.writeUInt32LE(want, 0);
    body.copy(framed, 4, p, p + n);
    let block: Buffer;
    try {
      block = lz4.uncompressSync(framed);
    } catch (e) {
      throw new ObjectError(file, p - 4, `lz4 block: expected a valid block of ${want} bytes (${e instanceof Error ? e.message : String(e)})`, 'compression');
    }
    chunks.push(block);
    done += block.length;
    p += n;
  }
  return Buffer.concat(chunks, done);
}
