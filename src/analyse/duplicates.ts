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
 * Pass 2's work list: per object, the symbols that need a definition site. By default the symbols of names
 * occurring 2+ times among the object's kallsyms-visible symbols; with `all`, every function and variable.
 */
export function siteWork(db: Db, all: boolean): SiteWork[] {
  const rows = db.prepare(all
    ? `SELECT o.id AS object_id, o.kind, o.path, o.debug_path, s.idx FROM symbols s JOIN objects o ON o.id = s.object_id
       WHERE s.type IN (1, 2) AND s.shndx != 0 ORDER BY o.id, s.idx`
    : `SELECT o.id AS object_id, o.kind, o.path, o.debug_path, s.idx FROM symbols s JOIN objects o ON o.id = s.object_id
       JOIN (SELECT object_id, name FROM symbols WHERE ks_letter IS NOT NULL GROUP BY object_id, name HAVING count(*) > 1) d
         ON d.object_id = s.object_id AND d.name = s.name
       WHERE s.ks_letter IS NOT NULL ORDER BY o.id, s.idx`).all() as Row[];
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
