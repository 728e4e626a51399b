// Locating the kallsyms tables of a vmlinux without `.symtab` (an image extracted from a vmlinuz): by the
// shape of the token table, the markers, the names and the address table around it, in every kernel's layout.
import { SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS } from '../elf/constants.js';
import {
  type AddressTable, type Context, type Found, MAX_ENTRY, MAX_SYMS, type NameWalk, Region, decodeAddressTable, decodeOffsets, isWalk,
  lettersOf, markersAgree, readSeqs, roundUp, walkNames,
} from './table-reader.js';
import { type TokenTable, findTokenTables } from './token-table.js';

/**
 * Without `.symtab`: find the token table (digits tokens + index), then the markers that end just before it
 * (or before seqs_of_names, in 6.2–6.3 layouts), then the count and names before them, checked against every
 * marker; then the address table after the token index (6.4+) or before the count (older).
 */
export function locateByShape(ctx: Context): Found | null {
  const rodata = ctx.sections.filter((s) => s.name === '.rodata' && s.type !== SHT_NOBITS);
  const others = ctx.sections.filter((s) => s.name !== '.rodata' && s.type !== SHT_NOBITS && (s.flags & SHF_ALLOC) !== 0
    && (s.flags & SHF_EXECINSTR) === 0 && s.size > 0);
  const regions: Array<() => Region> = [...rodata, ...others].map((s) => () => Region.of(ctx, s));
  if (ctx.sections.length === 0) regions.push(() => new Region(ctx, '(image)', ctx.src.read(0, ctx.src.size, 'image'), 0, null));
  for (const make of regions) {
    const r = make();
    for (const token of findTokenTables(ctx.file, r.bytes, 0, r.size, ctx.h.little)) {
      const found = aroundTokenTable(r, token);
      if (found) return found;
    }
  }
  return null;
}

interface MarkersGuess {
  readonly at: number;
  readonly count: number;
  readonly width: 4 | 8;
  /** Set when seqs_of_names lies between the markers and the token table: its position and the count it implies. */
  readonly seqsAt: number | null;
  readonly numSyms: number | null;
}

function aroundTokenTable(r: Region, token: TokenTable): Found | null {
  for (const guess of markerGuesses(r, token.tableAt)) {
    const names = namesBefore(r, guess);
    if (!names) continue;
    const found = tablesAround(r, token, guess, names);
    if (found) return found;
  }
  return null;
}

/** Markers are 0, then strictly increasing by at least 256 entries' worth of bytes. */
function markersPlausible(r: Region, at: number, count: number, width: 4 | 8): boolean {
  if (!r.fits(at, count * width) || r.small(at, width) !== 0) return false;
  let prev = 0;
  for (let k = 1; k < count; k++) {
    const v = r.small(at + k * width, width);
    if (v < prev + 2 * 256 || v > prev + MAX_ENTRY * 256) return false;
    prev = v;
  }
  return true;
}

function* markerGuesses(r: Region, tableAt: number): Generator<MarkersGuess> {
  const widths: Array<4 | 8> = r.ctx.h.is64 ? [4, 8] : [4];
  // Markers right before the token table, up to 7 bytes of alignment between.
  for (const width of widths) {
    for (let end = tableAt; end > tableAt - 8 && end >= width; end--) {
      if (!r.aligned(end, 4)) continue;
      let prev = Infinity;
      for (let p = end - width, count = 1; p >= 0 && count <= MAX_SYMS / 256; p -= width, count++) {
        const v = r.small(p, width);
        if (v < 0 || v >= prev) break;
        if (v === 0) {
          if (markersPlausible(r, p, count, width)) yield { at: p, count, width, seqsAt: null, numSyms: null };
          break;
        }
        prev = v;
      }
    }
  }
  // 6.2–6.3 (and 6.1 with the backport): markers, then seqs_of_names (3 bytes a symbol), then the token table.
  for (const align of [8, 4]) {
    if (!r.aligned(tableAt, align)) continue;
    for (let n = 1; 3 * n < tableAt && n < MAX_SYMS; n++) {
      // Every label is aligned, so each table starts its size (rounded up) before the next one.
      const seqsAt = tableAt - roundUp(3 * n, align);
      const count = Math.ceil(n / 256);
      const at = seqsAt - roundUp(4 * count, align);
      if (at < 0 || r.small(at, 4) !== 0) continue;
      if (count > 1 && r.small(at + 4, 4) < 512) continue;
      if (markersPlausible(r, at, count, 4)) yield { at, count, width: 4, seqsAt, numSyms: n };
    }
  }
}

/** kallsyms_num_syms and kallsyms_names before the markers: the count must agree with them and every marker. */
function namesBefore(r: Region, g: MarkersGuess): { numSyms: number; numSymsAt: number; walk: NameWalk } | null {
  const last = r.small(g.at + (g.count - 1) * g.width, g.width);
  const hi = g.at - last - 4;
  const lo = Math.max(0, hi - 256 * MAX_ENTRY - 16);
  const widths: Array<4 | 8> = r.ctx.h.is64 ? [4, 8] : [4];
  for (let p = hi - (hi % 4); p >= lo; p -= 4) {
    if (!r.aligned(p, 4)) continue;
    for (const width of widths) {
      if (!r.fits(p, width)) continue;
      const n = r.small(p, width);
      if (n <= 256 * (g.count - 1) || n > 256 * g.count || (g.numSyms !== null && n !== g.numSyms)) continue;
      for (const namesAt of width === 8 ? [p + 8] : [p + 4, p + 8]) {
        for (const uleb of [true, false]) {
          const w = walkNames(r, namesAt, n, g.at, uleb);
          if (!isWalk(w) || g.at - w.end >= 8 || !markersAgree(r, g.at, g.width, w)) continue;
          // A pointer-sized count on a big-endian 64-bit kernel: the u32 that matched is its second half.
          const wideBigEndian = width === 4 && r.ctx.h.is64 && !r.ctx.h.little && p >= 4 && !r.aligned(p, 8) && r.u32(p - 4) === 0;
          return { numSyms: n, numSymsAt: wideBigEndian ? p - 4 : p, walk: w };
        }
      }
    }
  }
  return null;
}

function tablesAround(r: Region, token: TokenTable, g: MarkersGuess, names: { numSyms: number; numSymsAt: number; walk: NameWalk }): Found | null {
  const n = names.numSyms;
  const ptr = r.ctx.ptr;
  const letters = lettersOf(r, names.walk, token);
  const base = { region: r, located: 'shape' as const, numSyms: n, numSymsAt: names.numSymsAt, names: names.walk,
    markersAt: g.at, markerWidth: g.width, token };
  if (g.seqsAt !== null) {
    // 6.2–6.3 order: the address table is before the count.
    const seqs = readSeqs(r, g.seqsAt, n, false);
    const addresses = seqs && addressesBeforeCount(r, names.numSymsAt, n, letters);
    return seqs && addresses ? { ...base, addresses, seqs } : null;
  }
  // 6.4+: after the token index come the address table, relative_base when there is one, and seqs_of_names.
  const afterIndex = token.indexAt + 512;
  for (const align of [ptr, 4]) {
    const at = r.alignUp(afterIndex, align);
    const shapes: Array<{ seqsAt: number; read: () => AddressTable | null }> = [
      { seqsAt: r.alignUp(r.alignUp(at + 4 * n, ptr) + ptr, align), read: () => decodeOffsets(r, at, n, r.alignUp(at + 4 * n, ptr), letters, false) },
      { seqsAt: r.alignUp(at + 4 * n, 4), read: () => decodeOffsets(r, at, n, null, letters, false) },
      { seqsAt: at + ptr * n, read: () => decodeAddressTable(r, at, n, false) },
    ];
    for (const shape of shapes) {
      const seqs = readSeqs(r, shape.seqsAt, n, false);
      if (!seqs) continue;
      const addresses = shape.read();
      if (addresses) return { ...base, addresses, seqs };
    }
  }
  // ≤ 6.1 order without seqs_of_names: the address table is before the count.
  const addresses = addressesBeforeCount(r, names.numSymsAt, n, letters);
  return addresses ? { ...base, addresses, seqs: null } : null;
}

/** [offsets][relative_base] or [addresses] right before kallsyms_num_syms (kernels before 6.4). */
function addressesBeforeCount(r: Region, numSymsAt: number, n: number, letters: string): AddressTable | null {
  const ptr = r.ctx.ptr;
  const rbAt = numSymsAt - ptr;
  const offsetsAt = rbAt - roundUp(4 * n, ptr);
  if (offsetsAt >= 0) {
    const t = decodeOffsets(r, offsetsAt, n, rbAt, letters, false);
    if (t) return t;
  }
  const addressesAt = numSymsAt - ptr * n;
  return addressesAt >= 0 ? decodeAddressTable(r, addressesAt, n, false) : null;
}
