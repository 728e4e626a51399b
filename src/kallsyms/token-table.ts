// kallsyms_token_table and kallsyms_token_index: read, found by their shape, and used to expand compressed names.
//
// kallsyms' name compression (scripts/kallsyms.c): every byte of a compressed name indexes
// `kallsyms_token_table`, 256 NUL-terminated strings whose starts `kallsyms_token_index` (256 u16)
// gives. A byte that occurs in some name stands for itself; the unused byte values stand for the most
// profitable substrings. Nothing else about the tables is fixed, which is why they can be found by shape.
import { ObjectError } from '../errors.js';

export const TOKEN_COUNT = 256;
export const TOKEN_INDEX_SIZE = TOKEN_COUNT * 2;

/** Where the pair of tables lies in the image (file offsets) and what they expand to. */
export interface TokenTable {
  readonly tableAt: number;
  /** Bytes of `kallsyms_token_table`, up to and including the NUL of token 255. */
  readonly tableSize: number;
  readonly indexAt: number;
  /** Token i as a latin1 string (names are bytes; ELF string tables are read the same way). */
  readonly tokens: readonly string[];
}

/**
 * Reads the token table whose index is at `indexAt` and whose strings start at `tableAt` in `image`, which
 * starts at `fileOffset` in the file. Throws ObjectError naming the first index entry that points outside
 * the table or at an unterminated string.
 */
export function readTokenTable(file: string, image: Buffer, tableAt: number, indexAt: number, little: boolean, fileOffset = 0): TokenTable {
  if (indexAt < 0 || indexAt + TOKEN_INDEX_SIZE > image.length) {
    throw new ObjectError(file, fileOffset + indexAt, `kallsyms_token_index: expected ${TOKEN_INDEX_SIZE} bytes, the image ends at 0x${image.length.toString(16)}`, 'truncated');
  }
  const tokens: string[] = [];
  let end = tableAt;
  for (let i = 0; i < TOKEN_COUNT; i++) {
    const rel = little ? image.readUInt16LE(indexAt + 2 * i) : image.readUInt16BE(indexAt + 2 * i);
    const start = tableAt + rel;
    // The table precedes its index in every kernel layout; a start at or past the index is corrupt.
    const nul = start < indexAt ? image.indexOf(0, start) : -1;
    if (nul < 0 || nul >= indexAt) {
      throw new ObjectError(file, fileOffset + indexAt + 2 * i,
        `kallsyms_token_index[${i}]: expected the offset of a NUL-terminated token inside kallsyms_token_table (0x${tableAt.toString(16)}..0x${indexAt.toString(16)}), found 0x${rel.toString(16)}`);
    }
    tokens.push(image.toString('latin1', start, nul));
    end = Math.max(end, nul + 1);
  }
  return { tableAt, tableSize: end - tableAt, indexAt, tokens };
}

/** The ten one-character tokens "0".."9": digits occur in kernel symbol names, so they stand for themselves. */
const DIGITS = Buffer.from('0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00', 'latin1');

/**
 * Finds token tables by shape, for images without `.symtab` (a vmlinux from a vmlinuz): tokens 0x30..0x39
 * are the digits, and an index of 256 increasing u16 follows the strings within `maxGap` bytes (alignment
 * padding), with index[0] = 0 and every entry starting right after the previous token's NUL.
 * Returns every table that passes, in image order (normally exactly one).
 */
export function findTokenTables(file: string, image: Buffer, from: number, to: number, little: boolean, maxGap = 8): TokenTable[] {
  const found: TokenTable[] = [];
  const u16 = (at: number) => (little ? image.readUInt16LE(at) : image.readUInt16BE(at));
  for (let hit = image.indexOf(DIGITS, from); hit >= 0 && hit < to; hit = image.indexOf(DIGITS, hit + 1)) {
    // Tokens vary in length, so walking back from "0" to the table's start is ambiguous; the index is not:
    // it follows the strings, and its entry 0x30 says how far before the "0" token the table starts.
    const limit = Math.min(to, hit + 0x10000) - TOKEN_INDEX_SIZE;
    // The index is 2-byte aligned (the search area starts at an aligned section start).
    for (let q = (hit + DIGITS.length + 1) & ~1; q <= limit; q += 2) {
      if (u16(q) !== 0) continue;
      const at30 = u16(q + 0x60);
      if (at30 > hit || u16(q + 0x62) !== at30 + 2 || u16(q + 0x72) !== at30 + 18) continue;
      const tableAt = hit - at30;
      if (tableAt < from) continue;
      const t = tryTokenTable(file, image, tableAt, q, little, maxGap);
      if (t) {
        found.push(t);
        hit = q + TOKEN_INDEX_SIZE - 1;
        break;
      }
    }
  }
  return found;
}

/** The table at tableAt with its index at indexAt, when every index entry is exactly where the previous token ended. */
function tryTokenTable(file: string, image: Buffer, tableAt: number, indexAt: number, little: boolean, maxGap: number): TokenTable | null {
  let expect = 0;
  for (let i = 0; i < TOKEN_COUNT; i++) {
    const rel = little ? image.readUInt16LE(indexAt + 2 * i) : image.readUInt16BE(indexAt + 2 * i);
    if (rel !== expect) return null;
    const nul = image.indexOf(0, tableAt + rel);
    if (nul < 0 || nul >= indexAt) return null;
    expect = nul + 1 - tableAt;
  }
  const gap = indexAt - (tableAt + expect);
  if (gap < 0 || gap >= maxGap) return null;
  return readTokenTable(file, image, tableAt, indexAt, little);
}

/** Expands `len` compressed bytes at `at`: the concatenation of their tokens (type letter first). */
export function expandName(names: Buffer, at: number, len: number, tokens: readonly string[]): string {
  if (len === 1) return tokens[names[at]];
  let s = '';
  for (let i = 0; i < len; i++) s += tokens[names[at + i]];
  return s;
}
