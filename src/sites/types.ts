/** The contract between pass 2's orchestration (main thread) and the DWARF site finder (workers). */
export interface SiteRequest {
  /** Index in the object's .symtab of a symbol that needs a site. */
  readonly symtabIndex: number;
}

export type SiteSource = 'decl' | 'line-table' | 'unit-only' | 'none';

export interface Site {
  readonly symtabIndex: number;
  /** Relative to the kernel source root (build directory, DW_AT_comp_dir and './' stripped). */
  readonly declFile: string | null;
  readonly declLine: number | null;
  /** The compilation unit's DW_AT_name, relative the same way. */
  readonly unit: string | null;
  readonly source: SiteSource;
}

export interface SiteResult {
  readonly sites: Site[];
  readonly errors: { offset: number; kind: string; message: string }[];
}

/** What a pass-2 task reports once its sites are rows of the worker's shard. */
export interface SitesDone {
  readonly sites: number;
  /** The shard file the rows are in. */
  readonly shard: string;
  readonly errors: SiteResult['errors'];
}

/** One pass-2 task for a worker: the symbols of one object that need sites, and where its DWARF is. */
export interface SitesTask {
  /** The object's id in the index, and the directory of the run's shards its site rows go to. */
  readonly objectId: number;
  readonly shardDir: string;
  readonly objectPath: string;
  readonly dwarfPath: string;
  readonly requests: SiteRequest[];
  readonly sourceRoot?: string;
  readonly all?: boolean;
  /**
   * A vmlinux without .symtab (a vmlinuz): the name and address of each request's kallsyms entry, in request
   * order, found in the debug file `dwarfPath` by those (src/sites/entry-sites.ts).
   */
  readonly entries?: readonly { name: string; address: string }[];
}
