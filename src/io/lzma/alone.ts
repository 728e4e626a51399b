// The lzma_alone format (`xz --format=lzma`, CONFIG_KERNEL_LZMA payloads): a 13-byte header and one LZMA1
// stream, decoded in this thread by decoder.ts.
import { ObjectError } from '../../errors.js';
import { CappedOutput } from '../capped-output.js';
import { LzmaDecoder, lzmaProperties, RangeDecoder } from './decoder.js';

const HEADER_SIZE = 13;

/**
 * Decodes an lzma_alone stream (properties byte, dictionary size, uncompressed size or all ones, then LZMA1
 * data) into at most `cap` bytes. Errors name the file and the offset in it (`at` is where `input` starts).
 */
export function lzmaAloneDecompress(file: string, input: Buffer, at: number, cap: number): Buffer {
  const fail = (offset: number, message: string): never => {
    throw new ObjectError(file, at + offset, `lzma stream: ${message}`, offset >= input.length ? 'truncated' : 'compression');
  };
  if (input.length < HEADER_SIZE) fail(input.length, `expected a ${HEADER_SIZE}-byte header, the stream has ${input.length} bytes`);
  const props = lzmaProperties(input[0]) ?? fail(0, `properties byte: expected below 225, found ${input[0]}`);
  const dictSize = Math.max(input.readUInt32LE(1), 1 << 12);
  const sizeLow = input.readUInt32LE(5);
  const sizeHigh = input.readUInt32LE(9);
  const sizeKnown = !(sizeLow === 0xffffffff && sizeHigh === 0xffffffff);
  const size = sizeHigh * 2 ** 32 + sizeLow;
  if (sizeKnown && size > cap) fail(5, `uncompressed size: expected at most ${cap} bytes, the header says ${size}`);
  const failHere = (message: string) => fail(rc.pos, message);
  const out = new CappedOutput(sizeKnown ? size : null, cap, failHere);
  const rc = new RangeDecoder(input, HEADER_SIZE, input.length, fail);
  const lzma = new LzmaDecoder(out, dictSize);
  lzma.setProperties(props);
  lzma.decode(rc, { end: sizeKnown ? size : null, endMarker: true }, failHere);
  return out.result();
}
