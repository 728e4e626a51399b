// An object file opened the one way every reader opens it (the scan, the site finder, build-id pairing, apply,
// klp check): a plain file read by ranges (pread), a compressed module inflated into memory; an empty file refused.
import { ObjectError } from '../errors.js';
import { type Compression, decompress, detectCompression } from './decompress.js';
import { type ByteSource, BufferSource, FileSource } from './source.js';

/** The bytes at the start of a file that tell what it is (compression magic, ELF or bzImage header). */
const HEAD = 0x250;

export interface ObjectFile {
  readonly path: string;
  /** The file's own size (compressed, for a compressed module). */
  readonly size: number;
  readonly compression: Compression;
  /** The file's first bytes as stored (at most 0x250). */
  readonly head: Buffer;
  /** The object: the file itself, or the module inflated (on first call; a broken stream throws here). */
  image(): Promise<ByteSource>;
  /** The whole file as stored, read once from the open file (apply rewrites and hashes it). */
  stored(): Buffer;
  /** The object in one buffer: the stored file, or the module inflated (shared with image()). */
  imageBytes(): Promise<Buffer>;
  close(): void;
}

export function openObjectFile(path: string): ObjectFile {
  const file = FileSource.open(path);
  try {
    if (file.size === 0) throw new ObjectError(path, 0, 'expected an ELF object or a compressed module, the file is empty', 'truncated');
    const head = file.read(0, Math.min(HEAD, file.size), 'file magic');
    const compression = detectCompression(head);
    let whole: Buffer | null = null;
    const stored = () => (whole ??= file.read(0, file.size, 'file'));
    let inflated: Promise<Buffer> | null = null;
    const imageBytes = () => (compression === 'none' ? Promise.resolve(stored()) : (inflated ??= decompress(path, compression, stored())));
    let source: Promise<ByteSource> | null = null;
    const image = () => {
      if (compression === 'none') return Promise.resolve<ByteSource>(file);
      source ??= imageBytes().then((bytes) => new BufferSource(path, bytes));
      return source;
    };
    return { path, size: file.size, compression, head, image, stored, imageBytes, close: () => file.close() };
  } catch (e) {
    file.close();
    throw e;
  }
}
