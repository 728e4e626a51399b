// What an index holds, counted for `ksymtree stats`: objects by kind and status, symbols, duplicate names,
// aliases, sites by source, alias stages and errors.
import type { Db } from './db.js';

export interface IndexCounts {
  objects: number; vmlinux: number; modules: number; failed: number; partial: number;
  symbols: number; kallsymsVisible: number;
  /** Names with 2+ copies in one object: a sympos 1 copy in .symtab, or in vmlinux's decoded table. */
  duplicateNames: number;
  /** Copies in a decoded table with no .symtab symbol that an alias could name. */
  copiesWithoutSymbol: number;
  aliases: number; shortened: number; errors: number;
}

export function indexCounts(db: Db): IndexCounts {
  const one = (sql: string) => db.prepare(sql).pluck().get() as number;
  return {
    objects: one('SELECT count(*) FROM objects'),
    vmlinux: one("SELECT count(*) FROM objects WHERE kind = 'vmlinux'"),
    modules: one("SELECT count(*) FROM objects WHERE kind = 'module'"),
    failed: one("SELECT count(*) FROM objects WHERE status = 'failed'"),
    partial: one("SELECT count(*) FROM objects WHERE status = 'partial'"),
    symbols: one('SELECT count(*) FROM symbols'),
    kallsymsVisible: one('SELECT count(*) FROM symbols WHERE ks_letter IS NOT NULL'),
    duplicateNames: one(`SELECT count(*) FROM (SELECT 1 FROM symbols s JOIN objects o ON o.id = s.object_id
      WHERE s.sympos = 1 AND o.kallsyms_source != 'vmlinux-table' UNION ALL SELECT 1 FROM kallsyms_entries WHERE sympos = 1)`),
    copiesWithoutSymbol: one('SELECT count(*) FROM kallsyms_entries WHERE sympos > 0 AND symbol_idx IS NULL'),
    aliases: one('SELECT count(*) FROM aliases'),
    shortened: one('SELECT count(*) FROM aliases WHERE full_alias IS NOT NULL'),
    errors: one('SELECT count(*) FROM errors'),
  };
}

/** Sites by how they were found (the `source` column), in source order. */
export function sitesBySource(db: Db): { source: string; n: number }[] {
  return db.prepare('SELECT source, count(*) AS n FROM sites GROUP BY source ORDER BY source').all() as { source: string; n: number }[];
}

/** Aliases by the naming stage that settled them, in stage order. */
export function aliasesByStage(db: Db): { stage: string; n: number }[] {
  return db.prepare('SELECT stage, count(*) AS n FROM aliases GROUP BY stage ORDER BY stage').all() as { stage: string; n: number }[];
}
