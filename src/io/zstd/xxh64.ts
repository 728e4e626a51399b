// XXH64 (seed 0), the hash behind a zstd frame's content checksum (RFC 8878 §3.1.1), in 32-bit halves: Node's
// numbers hold no 64-bit products, and BigInt is far too slow for whole modules.

const P1 = [0x9e3779b1, 0x85ebca87] as const;
const P2 = [0xc2b2ae3d, 0x27d4eb4f] as const;
const P3 = [0x165667b1, 0x9e3779f9] as const;
const P4 = [0x85ebca77, 0xc2b2ae63] as const;
const P5 = [0x27d4eb2f, 0x165667c5] as const;

/** A 64-bit value as [high, low] unsigned 32-bit halves; the operations below return new pairs. */
type U64 = readonly [number, number];

function add(a: U64, b: U64): U64 {
  const lo = a[1] + b[1];
  return [(a[0] + b[0] + (lo > 0xffffffff ? 1 : 0)) >>> 0, lo >>> 0];
}

function mul(a: U64, b: U64): U64 {
  const a0 = a[1] & 0xffff;
  const a1 = a[1] >>> 16;
  const b0 = b[1] & 0xffff;
  const b1 = b[1] >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const carry = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  return [(carry + Math.imul(a[1], b[0]) + Math.imul(a[0], b[1])) >>> 0, (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0];
}

/** Rotation left by 0 < r < 32. */
function rotl(a: U64, r: number): U64 {
  return [((a[0] << r) | (a[1] >>> (32 - r))) >>> 0, ((a[1] << r) | (a[0] >>> (32 - r))) >>> 0];
}

function xor(a: U64, b: U64): U64 {
  return [(a[0] ^ b[0]) >>> 0, (a[1] ^ b[1]) >>> 0];
}

/** Right shift by 0 < r < 64. */
function shr(a: U64, r: number): U64 {
  return r >= 32 ? [0, a[0] >>> (r - 32)] : [a[0] >>> r, ((a[1] >>> r) | (a[0] << (32 - r))) >>> 0];
}

const lane = (b: Uint8Array, i: number): U64 => [(b[i + 4] | (b[i + 5] << 8) | (b[i + 6] << 16) | (b[i + 7] << 24)) >>> 0, (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0];
const round = (acc: U64, input: U64): U64 => mul(rotl(add(acc, mul(input, P2)), 31), P1);
const mergeRound = (acc: U64, v: U64): U64 => add(mul(xor(acc, round([0, 0], v)), P1), P4);

/** XXH64 of `b` with seed 0, as [high, low]. */
export function xxh64(b: Uint8Array): U64 {
  const n = b.length;
  let i = 0;
  let h: U64;
  if (n >= 32) {
    let v1 = add(P1, P2);
    let v2: U64 = P2;
    let v3: U64 = [0, 0];
    let v4: U64 = [0x61c8864e, 0x7a143579]; // -P1 mod 2^64
    for (; i + 32 <= n; i += 32) {
      v1 = round(v1, lane(b, i));
      v2 = round(v2, lane(b, i + 8));
      v3 = round(v3, lane(b, i + 16));
      v4 = round(v4, lane(b, i + 24));
    }
    h = add(add(rotl(v1, 1), rotl(v2, 7)), add(rotl(v3, 12), rotl(v4, 18)));
    for (const v of [v1, v2, v3, v4]) h = mergeRound(h, v);
  } else {
    h = P5;
  }
  h = add(h, [Math.floor(n / 0x1_0000_0000), n >>> 0]);
  for (; i + 8 <= n; i += 8) h = add(mul(rotl(xor(h, round([0, 0], lane(b, i))), 27), P1), P4);
  if (i + 4 <= n) {
    h = add(mul(rotl(xor(h, mul([0, (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0], P1)), 23), P2), P3);
    i += 4;
  }
  for (; i < n; i++) h = mul(rotl(xor(h, mul([0, b[i]], P5)), 11), P1);
  h = mul(xor(h, shr(h, 33)), P2);
  h = mul(xor(h, shr(h, 29)), P3);
  return xor(h, shr(h, 32));
}
