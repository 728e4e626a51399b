// The integrity checks an xz stream may carry after each block: CRC32, CRC64 (ECMA-182, reflected) or SHA-256.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** CRC64's table, each entry split into high and low 32-bit words (no BigInt in the inner loop). */
const CRC64_HI = new Uint32Array(256);
const CRC64_LO = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let hi = 0;
  let lo = n;
  for (let k = 0; k < 8; k++) {
    const odd = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi >>>= 1;
    if (odd) {
      hi = (hi ^ 0xc96c5795) >>> 0;
      lo = (lo ^ 0xd7870f42) >>> 0;
    }
  }
  CRC64_HI[n] = hi;
  CRC64_LO[n] = lo;
}

/** CRC64 of `data`, as the 8 little-endian bytes xz stores. */
function crc64(data: Uint8Array): Buffer {
  let hi = 0xffffffff;
  let lo = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    const t = (lo ^ data[i]) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ CRC64_LO[t]) >>> 0;
    hi = ((hi >>> 8) ^ CRC64_HI[t]) >>> 0;
  }
  const out = Buffer.alloc(8);
  out.writeUInt32LE(~lo >>> 0, 0);
  out.writeUInt32LE(~hi >>> 0, 4);
  return out;
}

/** The check types of the stream flags: name, size in bytes, and how to compute it. */
export const XZ_CHECKS: ReadonlyMap<number, { name: string; size: number; compute: (data: Uint8Array) => Buffer }> = new Map([
  [0x00, { name: 'none', size: 0, compute: () => Buffer.alloc(0) }],
  [0x01, { name: 'CRC32', size: 4, compute: (d: Uint8Array) => le32(crc32(d)) }],
  [0x04, { name: 'CRC64', size: 8, compute: crc64 }],
  [0x0a, { name: 'SHA-256', size: 32, compute: (d: Uint8Array) => createHash('sha256').update(d).digest() }],
]);

/** A 32-bit value as the 4 little-endian bytes xz stores. */
export function le32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}
