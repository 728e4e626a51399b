// The kernel's own kallsyms tables in a vmlinux (scripts/kallsyms.c writes them, kernel/kallsyms.c reads
// them): decoding them gives exactly the symbols, letters and order /proc/kallsyms shows for vmlinux,
// whatever filter rules that kernel version's scripts/kallsyms applied.
//
// Table layouts this reads (ALGN is 8 on 64-bit, 4 on 32-bit; the newest kernels use 4 everywhere):
//   ≤ 6.3: [offsets|addresses] [relative_base] num_syms names markers [seqs_of_names] token_table token_index
//   ≥ 6.4: num_syms names markers token_table token_index [offsets|addresses] [relative_base] seqs_of_names
// Older kernels write num_syms and markers as pointer-sized words; 6.1 added the two-byte name length;
// 6.2 added seqs_of_names (3 bytes an entry, most significant first, whatever the byte order).
//
// Steps (one file each): locate the tables by their `.symtab` names (locate-by-symtab.ts), or without them by
// shape around the token table (locate-by-shape.ts), both through the readers of table-reader.ts; decode names,
// letters, addresses and seqs_of_names, hence each entry's sympos (here); match the entries to `.symtab`
// (symtab-match.ts).
import { tableSympos } from '../alias/sympos.js';
import type { ElfHeader } from '../elf/header.js';
import type { Section } from '../elf/sections.js';
import type { SymbolTable } from '../elf/symbols.js';
import { ObjectError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import { locateByShape } from './locate-by-shape.js';
import { locateBySymtab } from './locate-by-symtab.js';
import { type AddressEncoding, Context, type Found, type TablePlace, entryPayload, hex } from './table-reader.js';
import { expandName } from './token-table.js';

export interface KallsymsEntry {
  name: string;
  letter: string;
  /** 16 hex digits. */
  address: string;
}

export interface KallsymsTables {
  /** Found through `.symtab` names, or by the token table's shape (an image without `.symtab`). */
  readonly located: 'symtab' | 'shape';
  readonly section: string;
  readonly numSyms: TablePlace;
  readonly names: TablePlace;
  /** 'uleb128': one byte, or two when the first has bit 7 set (6.1+); 'byte': always one. */
  readonly nameLength: 'uleb128' | 'byte';
  readonly markers: TablePlace & { readonly width: 4 | 8 };
  readonly tokenTable: TablePlace;
  readonly tokenIndex: TablePlace;
  /** `kallsyms_offsets` or `kallsyms_addresses`. */
  readonly addresses: TablePlace;
  readonly relativeBase: (TablePlace & { readonly value: string; readonly fromRelocation: boolean }) | null;
  readonly seqsOfNames: (TablePlace & { readonly width: 3 | 4 }) | null;
}

export interface VmlinuxKallsyms {
  /** In table order, which is address order and the order /proc/kallsyms lists vmlinux. */
  readonly entries: KallsymsEntry[];
  /** `kallsyms_seqs_of_names` as stored: entry indexes sorted by name, then address, then table order. Null before 6.2. */
  readonly seqsOfNames: Uint32Array | null;
  /** For each entry, its position in `seqsOfNames` (the inverse permutation); null when the table is absent. */
  readonly namePosition: Uint32Array | null;
  /**
   * For each entry, its livepatch sympos: the rank (1-based) among the entries of the same name in the walk
   * klp_find_object_symbol makes for vmlinux (`seqsOfNames` order when present, else table order); 0 when
   * the name is unique.
   */
  readonly sympos: Uint32Array;
  readonly encoding: AddressEncoding;
  readonly tables: KallsymsTables;
}


/**
 * Decodes the kallsyms tables of a vmlinux. `symtab` locates them by name; without it (a vmlinux extracted
 * from a vmlinuz), or when it names none of them, they are found by shape. Null when the image has no tables (no CONFIG_KALLSYMS);
 * throws ObjectError, with the file offset of the offending table entry, when they are corrupt.
 */
export function decodeVmlinuxKallsyms(src: ByteSource, h: ElfHeader, sections: readonly Section[],
  symtab: SymbolTable | null): VmlinuxKallsyms | null {
  const ctx = new Context(src, h, sections);
  // A .symtab that does not name the tables (a partial or rewritten one) still gets the shape search.
  const found = (symtab ? locateBySymtab(ctx, symtab) : null) ?? locateByShape(ctx);
  return found ? decode(ctx, found) : null;
}

function decode(ctx: Context, f: Found): VmlinuxKallsyms {
  const r = f.region;
  const n = f.numSyms;
  const entries: KallsymsEntry[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const { at, len } = entryPayload(r, f.names, i);
    const full = expandName(r.bytes, at, len, f.token.tokens);
    if (full.length < 2) {
      throw new ObjectError(ctx.file, r.off(f.names.starts[i]), `kallsyms_names entry ${i}: expected a type letter and a name, the tokens expand to ${JSON.stringify(full)}`);
    }
    entries[i] = { name: full.slice(1), letter: full.charAt(0), address: hex(f.addresses.values[i]) };
  }
  const seqsOfNames = f.seqs?.order ?? null;
  let namePosition: Uint32Array | null = null;
  if (seqsOfNames) {
    namePosition = new Uint32Array(n);
    seqsOfNames.forEach((entry, pos) => { namePosition![entry] = pos; });
  }
  const a = f.addresses;
  return {
    entries,
    seqsOfNames,
    namePosition,
    sympos: tableSympos(entries.map((e) => e.name), seqsOfNames),
    encoding: a.encoding,
    tables: {
      located: f.located,
      section: r.name,
      numSyms: r.place(f.numSymsAt),
      names: r.place(f.names.at),
      nameLength: f.names.uleb ? 'uleb128' : 'byte',
      markers: { ...r.place(f.markersAt), width: f.markerWidth },
      tokenTable: r.place(f.token.tableAt),
      tokenIndex: r.place(f.token.indexAt),
      addresses: r.place(a.at),
      relativeBase: a.relativeBaseAt === null ? null
        : { ...r.place(a.relativeBaseAt), value: hex(a.relativeBase!), fromRelocation: a.relativeBaseFromRelocation },
      seqsOfNames: f.seqs ? { ...r.place(f.seqs.at), width: f.seqs.width } : null,
    },
  };
}
