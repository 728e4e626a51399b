import { symposOf } from '../alias/sympos.js';
import type { Db } from '../index/db.js';

export interface SiteWork {
  readonly objectId: number;
  readonly kind: 'vmlinux' | 'module';
  readonly path: string;
  /** Where DWARF is read: the paired debug copy, the object itself, or (no DWARF anywhere) the object for its STT_FILE symbols. */
  readonly dwarfPath: string;
  readonly symtabIndexes: number[];
}

interface Row { object_id: number; kind: 'vmlinux' | 'module'; path: string; debug_path: string | null; idx: number }

/**
 * Symbols of names duplicated among an object's kallsyms-visible symbols. A vmlinux whose own kallsyms table
 * was decoded counts its entries (the kernel's view, sympos included); other objects count the symbols
 * that carry a kallsyms letter.
 */
const DUPLICATE_SYMBOLS = `
  SELECT o.id AS object_id, o.kind, o.path, o.debug_path, s.idx FROM symbols s JOIN objects o ON o.id = s.object_id
  JOIN (SELECT object_id, name FROM symbols WHERE ks_letter IS NOT NULL GROUP BY object_id, name HAVING count(*) > 1) d
    ON d.object_id = s.object_id AND d.name = s.name
  WHERE s.ks_letter IS NOT NULL AND o.kallsyms_source != 'vmlinux-table'
  UNION ALL
  SELECT o.id, o.kind, o.path, o.debug_path, e.symbol_idx FROM kallsyms_entries e JOIN objects o ON o.id = e.object_id
  WHERE e.sympos > 0 AND e.symbol_idx IS NOT NULL`;

const FUNCTIONS_AND_VARIABLES = `
  SELECT o.id AS object_id, o.kind, o.path, o.debug_path, s.idx FROM symbols s JOIN objects o ON o.id = s.object_id
  WHERE s.type IN (1, 2) AND s.shndx != 0`;

/**
 * Pass 2's work list: per object, the symbols that need a definition site. By default the symbols of
 * in-object duplicate names; with `all`, every function and variable.
 */
export function siteWork(db: Db, all: boolean): SiteWork[] {
  const rows = db.prepare(`${all ? FUNCTIONS_AND_VARIABLES : DUPLICATE_SYMBOLS} ORDER BY 1, 5`).all() as Row[];
  const work: SiteWork[] = [];
  for (const r of rows) {
    let last = work[work.length - 1];
    if (!last || last.objectId !== r.object_id) {
      last = { objectId: r.object_id, kind: r.kind, path: r.path, dwarfPath: r.debug_path ?? r.path, symtabIndexes: [] };
      work.push(last);
    }
    last.symtabIndexes.push(r.idx);
  }
  return work;
}

/** Objects that have in-object duplicates, in id order. */
export function objectsWithDuplicates(db: Db): { id: number; kind: 'vmlinux' | 'module'; path: string }[] {
  return db.prepare(`SELECT DISTINCT object_id AS id, kind, path FROM (${DUPLICATE_SYMBOLS}) ORDER BY 1`).all() as
    { id: number; kind: 'vmlinux' | 'module'; path: string }[];
}

/**
 * Livepatch sympos of every copy of a duplicated name in one object: the decoded vmlinux table's own, or
 * computed from the symbols' kallsyms order (modules: .symtab order; vmlinux without tables: address order).
 */
export function duplicateSympos(db: Db, object: { id: number; kind: 'vmlinux' | 'module' }): Map<number, number> {
  const fromTable = db.prepare('SELECT symbol_idx, sympos FROM kallsyms_entries WHERE object_id = ? AND sympos > 0 AND symbol_idx IS NOT NULL')
    .raw().all(object.id) as [number, number][];
  if (fromTable.length) return new Map(fromTable);
  const visible = db.prepare('SELECT idx, name, value FROM symbols WHERE object_id = ? AND ks_letter IS NOT NULL ORDER BY idx').all(object.id) as
    { idx: number; name: string; value: string }[];
  return symposOf(visible, object.kind);
}
