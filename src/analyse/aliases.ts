// The aliases step (db → aliases): one alias per copy of every in-object duplicate, named from the index's rows
// (sympos, sites) by the pure rules of src/alias/naming.ts; and the kernel release that sets KSYM_NAME_LEN.
import { type Alias, type AliasInput, aliasesForObject } from '../alias/naming.js';
import { objectsWithDuplicates } from './duplicates.js';
import type { Db } from '../db/db.js';

interface Copy { idx: number; name: string; sympos: number; decl_file: string | null; decl_line: number | null; unit: string | null }

export interface AliasSummary {
  readonly aliases: number;
  /** Aliases that had to be shortened to fit KSYM_NAME_LEN, with the object they belong to. */
  readonly shortened: { path: string; alias: Alias }[];
}

/**
 * Pass 2's last step, over rows only: one alias per copy of every in-object duplicate (the scan stored their
 * sympos). Objects are handled in id order and every choice is a pure function of the rows, so the result
 * does not depend on how many workers produced them.
 */
export function writeAliases(db: Db, maxLength: number): AliasSummary {
  // Every alias has an '@': only the object's symbols with one can clash with it (versioned names, earlier aliases).
  const atNames = db.prepare("SELECT name FROM symbols WHERE object_id = ? AND instr(name, '@') > 0").pluck();
  const copyRows = db.prepare(`SELECT s.idx, s.name, s.sympos, t.decl_file, t.decl_line, t.unit FROM symbols s
    LEFT JOIN sites t ON t.object_id = s.object_id AND t.idx = s.idx WHERE s.object_id = ? AND s.sympos IS NOT NULL ORDER BY s.idx`);
  const insert = db.prepare('INSERT INTO aliases (object_id, idx, alias, sympos, stage, full_alias) VALUES (?, ?, ?, ?, ?, ?)');
  let count = 0;
  const shortened: AliasSummary['shortened'] = [];
  db.transaction(() => {
    for (const o of objectsWithDuplicates(db)) {
      const copies: AliasInput[] = (copyRows.all(o.id) as Copy[]).map((r) =>
        ({ idx: r.idx, name: r.name, sympos: r.sympos, declFile: r.decl_file, declLine: r.decl_line, unit: r.unit }));
      const sympos = new Map(copies.map((c) => [c.idx, c.sympos]));
      const existing = new Set(atNames.all(o.id) as string[]);
      for (const a of aliasesForObject(copies, existing, maxLength)) {
        insert.run(o.id, a.idx, a.alias, sympos.get(a.idx), a.stage, a.fullAlias);
        if (a.fullAlias) shortened.push({ path: o.path, alias: a });
        count++;
      }
    }
  })();
  return { aliases: count, shortened };
}

/** The kernel release from the modules' vermagic ("6.1.0-50-cloud-amd64 SMP ..."), for KSYM_NAME_LEN. */
export function kernelRelease(db: Db): string | null {
  const v = db.prepare('SELECT vermagic FROM objects WHERE vermagic IS NOT NULL ORDER BY id LIMIT 1').pluck().get() as string | undefined;
  return v ? v.split(' ')[0] : null;
}
