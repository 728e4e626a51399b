// LZMA2, the filter inside every xz block: chunks of LZMA data (each with its own range coder, and with the
// model's state, properties or dictionary reset as its control byte says) or of stored bytes.
import type { CappedOutput } from '../capped-output.js';
import { type DecodeError, LzmaDecoder, lzmaProperties, RANGE_INIT_BYTES, RangeDecoder } from './decoder.js';

/** The dictionary size an LZMA2 properties byte gives (2 or 3 times a power of two), or null above 40. */
export function lzma2DictSize(byte: number): number | null {
  if (byte > 40) return null;
  if (byte === 40) return 0xffffffff;
  return (2 | (byte & 1)) * 2 ** ((byte >>> 1) + 11);
}

/**
 * Decodes the LZMA2 chunks of `input` from `pos` into `out` until the end chunk (control byte 0). Returns the
 * offset after it. `fail` names the offset in `input` where a chunk breaks a rule.
 */
export function decodeLzma2(input: Uint8Array, pos: number, end: number, out: CappedOutput, dictSize: number, fail: DecodeError): number {
  const lzma = new LzmaDecoder(out, dictSize);
  let needDictReset = true;
  let needProperties = true;
  const need = (n: number, what: string) => {
    if (end - pos < n) fail(end, `LZMA2 chunk: expected ${what}, the block ended`);
  };
  for (;;) {
    need(1, 'a control byte');
    const at = pos;
    const control = input[pos++];
    if (control === 0x00) return pos;
    if (control >= 0xe0 || control === 0x01) {
      needProperties = true;
      needDictReset = false;
      lzma.dictStart = out.size;
    } else if (needDictReset) fail(at, `LZMA2 chunk: expected the first chunk to reset the dictionary, its control byte is 0x${hex(control)}`);
    if (control < 0x80) {
      if (control > 0x02) fail(at, `LZMA2 chunk: expected a control byte of 0x00-0x02 or 0x80-0xff, found 0x${hex(control)}`);
      need(2, 'a chunk size');
      const size = ((input[pos] << 8) | input[pos + 1]) + 1;
      pos += 2;
      need(size, `${size} stored bytes`);
      out.append(input.subarray(pos, pos + size));
      pos += size;
      continue;
    }
    need(4, 'the chunk sizes');
    const unpacked = (control & 0x1f) * 0x10000 + ((input[pos] << 8) | input[pos + 1]) + 1;
    const packed = ((input[pos + 2] << 8) | input[pos + 3]) + 1;
    pos += 4;
    const reset = (control >>> 5) & 3;
    if (reset >= 2) {
      need(1, 'a properties byte');
      const props = lzmaProperties(input[pos]);
      if (!props || props.lc + props.lp > 4) fail(pos, `LZMA2 chunk: expected properties with lc + lp <= 4, found byte ${input[pos]}`);
      lzma.setProperties(props!);
      needProperties = false;
      pos++;
    } else if (needProperties) {
      fail(at, `LZMA2 chunk: expected properties after a dictionary reset, control byte 0x${hex(control)} keeps the old ones`);
    } else if (reset === 1) lzma.resetState();
    if (packed < RANGE_INIT_BYTES) fail(pos, `LZMA2 chunk: expected at least ${RANGE_INIT_BYTES} compressed bytes, it says ${packed}`);
    need(packed, `${packed} compressed bytes`);
    const chunkEnd = pos + packed;
    const rc = new RangeDecoder(input, pos, chunkEnd, fail);
    const failHere = (message: string) => fail(rc.pos, `LZMA2 chunk: ${message}`);
    lzma.decode(rc, { end: out.size + unpacked, endMarker: false }, failHere);
    if (rc.pos !== chunkEnd || rc.code !== 0) failHere(`expected the chunk's ${packed} compressed bytes to end its ${unpacked} bytes, the range coder ${rc.code !== 0 ? 'has not finished' : `stopped at ${rc.pos - at} bytes`}`);
    pos = chunkEnd;
  }
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
