/**
 * What a fuzz target is (one per parser family, in targets/), the tokens the mutator inserts for each
 * family, and the test that tells a finding from a typed error: index never throws for bad input, it
 * records error rows, and a row of kind `internal` is an exception no parser check anticipated.
 */
import { readFileSync } from 'node:fs';

export interface FuzzTarget {
  readonly name: string;
  /** Name the input is written under: index decides what an object is partly by its name (`*.ko` is a module). */
  readonly fileName: string;
  /** Inputs the smoke run in `npm test` tries (a few seconds' worth on an idle machine). */
  readonly smokeExecs: number;
  /** Format tokens for the mutator, added to the literals of the instrumented parsers. */
  readonly dictionary: readonly Buffer[];
  /** Starting inputs: small real objects and the fixtures the tests build. */
  seeds(): Promise<Buffer[]>;
  /** Feeds one input (also written at `path`) to index's entry point; throws on a finding. */
  run(path: string, input: Buffer): Promise<void>;
}

/** An error index turned into a row of kind `internal`: an exception the parsers did not anticipate. */
export class InternalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InternalError';
  }
}

export function failOnInternal(errors: readonly { kind: string; message: string }[]): void {
  const internal = errors.find((e) => e.kind === 'internal');
  if (internal) throw new InternalError(internal.message);
}

const bytes = (...list: (string | number[])[]) => list.map((t) => (typeof t === 'string' ? Buffer.from(t, 'latin1') : Buffer.from(t)));

export const ELF_TOKENS = bytes(
  [0x7f, 0x45, 0x4c, 0x46], [0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], [0x7f, 0x45, 0x4c, 0x46, 2, 2, 1], [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1],
  '.symtab', '.strtab', '.shstrtab', '.modinfo', '.note.gnu.build-id', '.gnu.linkonce.this_module', '__versions', '.init.text',
  '.text', '.data', '.rodata', '.bss', '.data..percpu', '.rela.text', '.rel.text', '__ksymtab', '__ksymtab_gpl', '__mcount_loc',
  '.symtab_shndx', 'GNU\0', 'name=', 'vermagic=', 'depends=', '~Module signature appended~\n', '.ksymtree.apply', '.klp.sym',
  [0xff, 0xff], [0xf1, 0xff], [0xf2, 0xff], [0, 0xff],
);

export const DWARF_TOKENS = bytes(
  '.debug_info', '.debug_abbrev', '.debug_line', '.debug_str', '.debug_line_str', '.debug_ranges', '.debug_rnglists',
  '.debug_aranges', '.debug_addr', '.debug_str_offsets', '.debug_types', '.zdebug_info', '.rela.debug_info', '.rela.debug_line', 'ZLIB',
  [0xff, 0xff, 0xff, 0xff], [5, 0], [4, 0], [2, 0], [3, 0], [5, 0, 1, 8], [0x11, 1], [0x2e, 1], [0x34, 0], [0x1d, 1], [0x0b, 1],
  [0x03, 0x08], [0x03, 0x0e], [0x03, 0x1f], [0x03, 0x25], [0x3a, 0x0b], [0x3b, 0x0b], [0x11, 0x01], [0x12, 0x07], [0x55, 0x17],
  [0x10, 0x17], [0x31, 0x13], [0x47, 0x13], [0x21], [0x1e], [0x20], [0x16], [0x23], [0x1b], [0x1a], [0x00, 0x09, 0x02], [0x00, 0x01, 0x01],
  [1, 0, 0, 0], [2, 0, 0, 0],
);

export const COMPRESSION_TOKENS = bytes(
  [0x1f, 0x8b, 0x08], [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], [0x28, 0xb5, 0x2f, 0xfd], [0x02, 0x21, 0x4c, 0x18], 'BZh9', 'BZh',
  [0x5d, 0x00, 0x00], [0x78, 0x9c], 'HdrS', [0x59, 0x5a], [0x31, 0x41, 0x59, 0x26, 0x53, 0x59], [0x17, 0x72, 0x45, 0x38, 0x50, 0x90],
);

export const KALLSYMS_TOKENS = bytes(
  'kallsyms_num_syms', 'kallsyms_names', 'kallsyms_markers', 'kallsyms_token_table', 'kallsyms_token_index', 'kallsyms_offsets',
  'kallsyms_addresses', 'kallsyms_relative_base', 'kallsyms_seqs_of_names', '_stext', '_etext', '_sinittext', '_einittext',
  '__per_cpu_start', '__per_cpu_end', 'IKCFG_ST', 'IKCFG_ED', '.rela.dyn', '.init.data',
);

export function readSeeds(paths: Iterable<string | null | undefined>): Buffer[] {
  return [...new Set(paths)].filter((p): p is string => !!p).map((p) => readFileSync(p));
}
