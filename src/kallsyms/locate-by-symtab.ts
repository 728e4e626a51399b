// Locating the kallsyms tables of a vmlinux by their `.symtab` names (kallsyms_names, kallsyms_markers, …): the
// tables are then proved by decoding, and a table that does not decode is corruption, reported with its offset.
import { ObjectError } from '../errors.js';
import { SHF_ALLOC, SHN_UNDEF, SHT_NOBITS } from '../elf/constants.js';
import type { SymbolTable } from '../elf/symbols.js';
import {
  type Context, type Found, MAX_SYMS, type NameWalk, Region, decodeAddressTable, decodeOffsets, hex, isWalk, lettersOf, markersAgree,
  readSeqs, walkNames,
} from './table-reader.js';
import { readTokenTable } from './token-table.js';

const TABLE_NAMES = ['kallsyms_num_syms', 'kallsyms_names', 'kallsyms_markers', 'kallsyms_token_table', 'kallsyms_token_index',
  'kallsyms_offsets', 'kallsyms_addresses', 'kallsyms_relative_base', 'kallsyms_seqs_of_names'] as const;
type TableName = (typeof TABLE_NAMES)[number];
const PREFIX = Buffer.from('kallsyms_', 'latin1');

/** The defined `kallsyms_*` table symbols, by name (the first definition wins). */
function tableSymbols(t: SymbolTable): Map<TableName, bigint> {
  const out = new Map<TableName, bigint>();
  const wanted = new Set<string>(TABLE_NAMES);
  const strings = t.names.bytes;
  for (let i = 1; i < t.count; i++) {
    const off = t.nameOffset(i);
    // Compare the prefix in place: decoding 150,000 names to find nine is wasteful.
    if (off + PREFIX.length > strings.length || strings.compare(PREFIX, 0, PREFIX.length, off, off + PREFIX.length) !== 0) continue;
    if (t.rawShndx(i) === SHN_UNDEF) continue;
    const name = t.name(i);
    if (wanted.has(name) && !out.has(name as TableName)) out.set(name as TableName, BigInt(`0x${t.valueHex(i)}`));
  }
  return out;
}

export function locateBySymtab(ctx: Context, t: SymbolTable): Found | null {
  const syms = tableSymbols(t);
  if (!syms.has('kallsyms_names') && !syms.has('kallsyms_num_syms') && !syms.has('kallsyms_token_table')) return null;
  const need = (name: TableName): bigint => {
    const v = syms.get(name);
    if (v === undefined) {
      throw new ObjectError(ctx.file, t.section.offset,
        `.symtab: expected a defined symbol ${name} next to kallsyms_names (the kallsyms tables are incomplete)`);
    }
    return v;
  };
  const namesAddr = need('kallsyms_names');
  const section = ctx.sections.find((s) => s.type !== SHT_NOBITS && (s.flags & SHF_ALLOC) !== 0 && s.size > 0
    && BigInt(`0x${s.addr}`) <= namesAddr && namesAddr < BigInt(`0x${s.addr}`) + BigInt(s.size));
  if (!section) {
    throw new ObjectError(ctx.file, t.section.offset, `kallsyms_names at 0x${hex(namesAddr)}: expected it inside an allocated section with contents`);
  }
  const r = Region.of(ctx, section);
  const pos = (name: TableName, v = need(name)): number => {
    const p = v - r.addr!;
    if (p < 0n || p >= BigInt(r.size)) {
      throw new ObjectError(ctx.file, section.headerOffset,
        `${name} at 0x${hex(v)}: expected it in ${section.name} with kallsyms_names (0x${section.addr}, 0x${section.size.toString(16)} bytes)`);
    }
    return Number(p);
  };
  const numSymsAt = pos('kallsyms_num_syms');
  const namesAt = pos('kallsyms_names');
  const markersAt = pos('kallsyms_markers');
  const tableAt = pos('kallsyms_token_table');
  const indexAt = pos('kallsyms_token_index');
  if (!r.fits(numSymsAt, 4)) throw new ObjectError(ctx.file, r.off(numSymsAt), 'kallsyms_num_syms: expected a 4-byte count', 'truncated');
  let numSyms = r.u32(numSymsAt);
  // Before 6.1 the count was a pointer-sized word: big-endian 64-bit kernels keep it in the second half.
  if (numSyms === 0 && ctx.h.is64 && !ctx.h.little && namesAt - numSymsAt >= 8) numSyms = r.u32(numSymsAt + 4);
  if (numSyms > MAX_SYMS) {
    throw new ObjectError(ctx.file, r.off(numSymsAt), `kallsyms_num_syms: expected at most ${MAX_SYMS} symbols, found ${numSyms}`);
  }
  const limit = markersAt > namesAt ? markersAt : r.size;
  const names = walkSymtabNames(r, namesAt, numSyms, limit, markersAt);
  const markerWidth = ([4, 8] as const).find((w) => (w === 4 || ctx.h.is64) && markersAgree(r, markersAt, w, names));
  if (!markerWidth) {
    throw new ObjectError(ctx.file, r.off(markersAt),
      `kallsyms_markers: expected the kallsyms_names offset of every 256th entry (0, 0x${(names.starts[Math.min(256, numSyms - 1)] - namesAt).toString(16)}, …)`);
  }
  const token = readTokenTable(ctx.file, r.bytes, tableAt, indexAt, ctx.h.little, r.fileOffset);
  const offsetsAt = syms.has('kallsyms_offsets') ? pos('kallsyms_offsets') : null;
  const addressesAt = offsetsAt === null && syms.has('kallsyms_addresses') ? pos('kallsyms_addresses') : null;
  if (offsetsAt === null && addressesAt === null) need('kallsyms_offsets');
  const rbAt = syms.has('kallsyms_relative_base') ? pos('kallsyms_relative_base') : null;
  const letters = lettersOf(r, names, token);
  const addresses = offsetsAt !== null
    ? decodeOffsets(r, offsetsAt, numSyms, rbAt, letters, true)!
    : decodeAddressTable(r, addressesAt!, numSyms, true)!;
  const seqs = syms.has('kallsyms_seqs_of_names') ? readSeqs(r, pos('kallsyms_seqs_of_names'), numSyms, true) : null;
  return { region: r, located: 'symtab', numSyms, numSymsAt, names, markersAt, markerWidth, token, addresses, seqs };
}

/**
 * Names with the two-byte length form (6.1+), or with one-byte lengths when only that reading agrees with
 * the markers (older kernels with a name byte ≥ 0x80). When neither agrees the walk that fits is returned and
 * the caller reports the markers.
 */
function walkSymtabNames(r: Region, at: number, n: number, limit: number, markersAt: number): NameWalk {
  const agree = (w: NameWalk) => markersAgree(r, markersAt, 4, w) || (r.ctx.h.is64 && markersAgree(r, markersAt, 8, w));
  const uleb = walkNames(r, at, n, limit, true);
  if (isWalk(uleb) && agree(uleb)) return uleb;
  const byte = walkNames(r, at, n, limit, false);
  if (isWalk(byte) && agree(byte)) return byte;
  if (isWalk(uleb)) return uleb;
  if (isWalk(byte)) return byte;
  throw new ObjectError(r.ctx.file, r.off(uleb.failed),
    `kallsyms_names entry ${uleb.index} of ${n}: expected a non-zero length whose bytes end before 0x${r.off(limit).toString(16)}`);
}
