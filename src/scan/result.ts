// The contract between the scan (workers) and the index run (main thread): the task for one object and what
// comes back: its facts, its errors, and its sections, symbols and kallsyms view as columns.
import type { Compression } from '../io/decompress.js';
import type { KernelCompression } from '../kallsyms/vmlinuz.js';
import type { KallsymsRules, KernelConfig } from '../config/kernel-config.js';
import type { FindSitesOptions } from '../sites/find-sites.js';
import type { SitesDone } from '../sites/types.js';

/** What a worker is given: one object, and the kallsyms rules of the kernel's configuration (null: unknown). */
export interface ScanTask {
  readonly path: string;
  readonly rules: KallsymsRules | null;
}

/** An index run's task for a worker: scan one object into the thread's shard (src/db/shard.ts). */
export interface IndexTask extends ScanTask {
  /** The object's id in the index. */
  readonly objectId: number;
  /** The directory of the run's shards. */
  readonly shardDir: string;
  /** Which symbols need a definition site: the in-object duplicates, or (`all`) every function and variable. */
  readonly allSites: boolean;
  /** Pass 2's site finder options, to find the sites in the same visit when the DWARF is known; null: no pass 2. */
  readonly sites: FindSitesOptions | null;
  /** A debug tree was given: the object's DWARF is its debug copy's, paired by build-id. */
  readonly debugTree: boolean;
  /** The debug tree's file at this object's relative path, whose DWARF serves when its build-id agrees. */
  readonly debugCopy: string | null;
}

/**
 * What a worker sends back to the index run for one object, its rows being in the shard: the object's
 * facts, and the symbols (.symtab indexes) that need a definition site.
 */
export interface IndexedObject extends Omit<ScannedObject, 'elf'> {
  readonly elf: (Omit<ScannedElf, 'sections' | 'symbols' | 'kallsyms'> & { readonly symbolCount: number }) | null;
  /** The shard file holding the object's rows; null when the object could not be read. */
  readonly shard: string | null;
  readonly siteRequests: readonly number[];
  /**
   * The sites found in the same visit, from the object's own DWARF (no debug tree) or its debug copy at the
   * same path with the same build-id; their rows are in `shard`. Null: they are still to be found.
   */
  readonly sitesFound: (SitesDone & { readonly dwarfPath: string }) | null;
  /** For a vmlinux without .symtab (a vmlinuz): the kallsyms name and address of each site request. */
  readonly siteEntries: readonly { name: string; address: string }[] | null;
  /** The build-id of the task's `debugCopy` (null: it has none), read in the visit when the object has one. */
  readonly debugCopyBuildId?: string | null;
}

/**
 * What a worker sends back for one object: a few scalars, and the symbol table as columns
 * (typed arrays plus joined strings) so that structured cloning stays cheap for 150,000 symbols.
 */
export interface ScannedObject {
  readonly path: string;
  readonly kind: ObjectKind;
  readonly size: number;
  readonly mtimeMs: number;
  readonly compression: ObjectCompression;
  /** Null when the object could not be read at all (see errors). */
  readonly elf: ScannedElf | null;
  readonly errors: readonly ScanError[];
}

export type ObjectKind = 'vmlinux' | 'module';

/** How the object is stored: a module's compression, or `vmlinuz-<payload compression>` for a boot image. */
export type ObjectCompression = Compression | `vmlinuz-${KernelCompression}`;

export interface ScanError {
  readonly offset: number;
  readonly kind: string;
  readonly message: string;
}

export interface ScannedElf {
  readonly elfClass: 32 | 64;
  readonly endian: 'little' | 'big';
  readonly machine: number;
  readonly elfType: number;
  readonly buildId: string | null;
  readonly moduleName: string | null;
  readonly vermagic: string | null;
  readonly depends: string | null;
  readonly signed: boolean;
  /** The object carries DWARF of its own (`.debug_info` or `.zdebug_info`). */
  readonly hasDwarf: boolean;
  /** False for a vmlinux without .symtab (a vmlinuz): its symbol rows are its decoded kallsyms entries. */
  readonly hasSymtab: boolean;
  /**
   * How kallsyms letters were derived: the module loader's rules, vmlinux's own decoded tables, or (a
   * vmlinux without tables) nm + scripts/kallsyms drop rules.
   */
  readonly kallsymsSource: KallsymsSource;
  /**
   * vmlinux scanned without a known configuration: what it says of its own (IKCONFIG, else the shape of
   * its kallsyms table), null when it cannot tell. Always null for modules and when the rules were given.
   */
  readonly config: KernelConfig | null;
  readonly sections: SectionColumns;
  readonly symbols: SymbolColumns;
  /** vmlinux only: its decoded kallsyms table, in /proc/kallsyms order. */
  readonly kallsyms: KallsymsColumns | null;
}

export type KallsymsSource = 'module-loader' | 'vmlinux-table' | 'nm-rules';

export interface KallsymsColumns {
  readonly count: number;
  readonly names: string;
  readonly nameEnd: Uint32Array;
  /** One character per entry. */
  readonly letters: string;
  /** 16 hex digits per entry, concatenated. */
  readonly addresses: string;
  /** The matching .symtab index, or -1. */
  readonly symbolIndex: Int32Array;
  readonly sympos: Uint32Array;
}

export interface SectionColumns {
  readonly names: string[];
  readonly type: Uint32Array;
  readonly flags: Float64Array;
  /** 16 hex digits per section, concatenated. */
  readonly addr: string;
  readonly size: Float64Array;
}

export interface SymbolColumns {
  readonly count: number;
  /** Symbol-table index of each row: rows whose name could not be read are left out. */
  readonly index: Uint32Array;
  /** Every name joined; nameEnd[i] is where row i's name ends. */
  readonly names: string;
  readonly nameEnd: Uint32Array;
  /** 16 hex digits per row, concatenated. */
  readonly values: string;
  readonly size: Float64Array;
  readonly info: Uint8Array;
  readonly other: Uint8Array;
  readonly shndx: Uint32Array;
  /** One character per row: nm's letter, or ' ' when nm does not list the symbol. */
  readonly nmLetters: string;
  /** One character per row: the kallsyms letter, or ' ' when kallsyms hides the symbol. */
  readonly kallsymsLetters: string;
  /**
   * Livepatch sympos of each row whose name occurs 2+ times among the object's kallsyms-visible symbols
   * (an in-object duplicate); 0 for a unique or hidden name.
   */
  readonly sympos: Uint32Array;
  /**
   * Functions only: 1 when ftrace has a call site in the function (`__mcount_loc`), 2 when it has none (notrace:
   * kprobe events refuse it), 0 when that cannot be known (not a function, not x86, no ftrace in the build).
   */
  readonly ftrace: Uint8Array;
}

/** Row `row`'s name. */
export function symbolName(s: SymbolColumns, row: number): string {
  return s.names.slice(row ? s.nameEnd[row - 1] : 0, s.nameEnd[row]);
}

/** Row `row`'s st_value. */
export function symbolValue(s: SymbolColumns, row: number): bigint {
  return BigInt(`0x${s.values.slice(row * 16, row * 16 + 16)}`);
}
