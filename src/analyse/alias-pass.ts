// The alias pass, pass 2's last step (after the shards are merged, before the index is committed): one alias per copy
// of every in-object duplicate, named from the index's rows (db/alias-rows.ts) by the pure rules of alias/naming.ts.
import { type Alias, type AliasInput, aliasesForObject } from '../alias/naming.js';
import { AliasPassRows } from '../db/alias-rows.js';
import type { Db } from '../db/db.js';

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
  const rows = new AliasPassRows(db);
  let count = 0;
  const shortened: AliasSummary['shortened'] = [];
  db.transaction(() => {
    for (const o of rows.objectsWithDuplicates()) {
      const copies: AliasInput[] = rows.copies(o.id).map((r) =>
        ({ idx: r.idx, name: r.name, sympos: r.sympos, declFile: r.decl_file, declLine: r.decl_line, unit: r.unit }));
      const sympos = new Map(copies.map((c) => [c.idx, c.sympos]));
      // Every alias has an '@': only the object's symbols with one can clash with it.
      const existing = new Set(rows.namesWithAt(o.id));
      for (const a of aliasesForObject(copies, existing, maxLength)) {
        rows.addAlias(o.id, a, sympos.get(a.idx));
        if (a.fullAlias) shortened.push({ path: o.path, alias: a });
        count++;
      }
    }
  })();
  return { aliases: count, shortened };
}
