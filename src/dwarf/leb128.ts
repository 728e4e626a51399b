// LEB128 (DWARF 5 §7.6), decoded here and nowhere else: DwarfReader, the DIE cursor and the abbreviation
// parser and apply's `.llvm_addrsig` renumbering call these. Bounds are the caller's `end`; running into it is reported through lebEnd, not thrown.

/**
 * Where the last uleb()/sleb()/ulebBig()/lebSkip() ended: the index just past its last byte, or -1 when the
 * number ran into `end`. A module register instead of a returned pair keeps the DIE walk (millions of
 * attributes in a vmlinux) free of allocations. Read it right after the call: the next decode, anywhere
 * (a DIE's abbreviation code parses the unit's abbreviations on first use), overwrites it.
 */
export let lebEnd = 0;

/** 128 to the power of the byte count of the last magnitude() read: what a negative sleb() subtracts. */
let scale = 1;

/** The value bits of the LEB128 at b[p], unsigned (sets lebEnd and scale). */
function magnitude(b: Buffer, p: number, end: number): number {
  let result = 0;
  let mul = 1;
  let byte: number;
  do {
    if (p >= end) {
      lebEnd = -1;
      return 0;
    }
    byte = b[p++];
    result += (byte & 0x7f) * mul;
    mul *= 0x80;
  } while (byte >= 0x80);
  lebEnd = p;
  scale = mul;
  return result;
}

/** Unsigned LEB128 at b[p]. Exact below 2^53; a longer number comes back inexact (callers that care check). */
export function uleb(b: Buffer, p: number, end: number): number {
  // One byte (most abbreviation codes, forms and indexes) without the loop.
  if (p < end && b[p] < 0x80) {
    lebEnd = p + 1;
    return b[p];
  }
  return magnitude(b, p, end);
}

/** Signed LEB128 at b[p], exact in the double range DWARF constants and line advances use. */
export function sleb(b: Buffer, p: number, end: number): number {
  const v = magnitude(b, p, end);
  return lebEnd > 0 && b[lebEnd - 1] & 0x40 ? v - scale : v;
}

/** Unsigned LEB128 at b[p] of any size, for values that may use all 64 bits (range list lengths). */
export function ulebBig(b: Buffer, p: number, end: number): bigint {
  const last = lebSkip(b, p, end) - 1;
  if (last < 0) return 0n;
  let result = 0n;
  for (let q = last; q >= p; q--) result = (result << 7n) | BigInt(b[q] & 0x7f);
  return result;
}

/** Steps over a LEB128 of either signedness: returns (and sets lebEnd to) the index after it, -1 when it runs into `end`. */
export function lebSkip(b: Buffer, p: number, end: number): number {
  while (p < end && b[p] >= 0x80) p++;
  lebEnd = p >= end ? -1 : p + 1;
  return lebEnd;
}
