// Random access to an object's bytes (ByteSource): a file read by pread, a decompressed image in memory, or a
// signed module's image without its signature; every parser reads through it.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ObjectError } from '../errors.js';

/** Reads into all of `target` from file position `position`; returns how many bytes it got before the file ended. */
export function preadFully(fd: number, target: Buffer, position: number): number {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, target.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * Random access to the bytes of one object. Parsers ask for exactly the ranges they need, so an
 * uncompressed 600 MB vmlinux costs only its headers and symbol table, never a whole-file read.
 */
export interface ByteSource {
  readonly file: string;
  readonly size: number;
  /** The bytes [offset, offset+length); throws ObjectError when the range leaves the object. */
  read(offset: number, length: number, what: string): Buffer;
}

function checkRange(src: ByteSource, offset: number, length: number, what: string): void {
  if (offset < 0 || length < 0 || offset + length > src.size) {
    throw new ObjectError(src.file, offset,
      `${what}: expected ${length} bytes but the object ends at 0x${src.size.toString(16)}`, 'truncated');
  }
}

/** An object held in memory (a decompressed module): reads are views, never copies. */
export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(readonly file: string, readonly bytes: Buffer) {
    this.size = bytes.length;
  }
  read(offset: number, length: number, what: string): Buffer {
    checkRange(this, offset, length, what);
    return this.bytes.subarray(offset, offset + length);
  }
}

/** An object on disk read with pread: only the requested ranges are ever loaded. */
export class FileSource implements ByteSource {
  readonly size: number;
  private constructor(readonly file: string, private fd: number) {
    this.size = fstatSync(fd).size;
  }
  static open(file: string): FileSource {
    return new FileSource(file, openSync(file, 'r'));
  }
  read(offset: number, length: number, what: string): Buffer {
    checkRange(this, offset, length, what);
    const out = Buffer.allocUnsafe(length);
    const got = preadFully(this.fd, out, offset);
    if (got < length) throw new ObjectError(this.file, offset + got, `${what}: file shrank while reading`, 'io');
    return out;
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** The first `size` bytes of another source: a signed module's ELF image without its signature. */
export class PrefixSource implements ByteSource {
  readonly file: string;
  constructor(private inner: ByteSource, readonly size: number) {
    this.file = inner.file;
  }
  read(offset: number, length: number, what: string): Buffer {
    checkRange(this, offset, length, what);
    return this.inner.read(offset, length, what);
  }
}
