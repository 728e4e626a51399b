/**
 * The copies of one name in one object as the livepatch core counts them (klp_find_object_symbol): every
 * kallsyms entry of that name, in the walk order that numbers them (sympos). vmlinux with a decoded table:
 * its entries (also those without a .symtab twin); otherwise the kallsyms-visible .symtab symbols.
 */
import type { Db } from './db.js';
import { siteText } from './alias-rows.js';

export interface IndexedObjectRef { id: number; path: string; kind: 'vmlinux' | 'module'; module: string | null }

export interface KallsymsCopy {
  /** 1-based rank in the walk (the sympos that binds it; a unique name's only copy is 1, and 0 binds it too). */
  readonly rank: number;
  readonly alias: string | null;
  readonly decl_file: string | null;
  readonly decl_line: number | null;
  readonly unit: string | null;
  readonly section: string | null;
}

const COPY_COLUMNS = 'a.alias, t.decl_file, t.decl_line, t.unit, sec.name AS section';
/** The alias and site of symbol `s`, and its section. */
const COPY_JOINS = `LEFT JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx
  LEFT JOIN aliases a ON a.object_id = s.object_id AND a.idx = s.idx
  LEFT JOIN sites t ON t.object_id = s.object_id AND t.idx = s.idx`;

/** Reads copies from one index; statements are prepared once per index. */
export class CopyIndex {
  private objectStmt;
  private tableStmt;
  private hasTable;
  private symbolStmt;

  constructor(db: Db) {
    this.objectStmt = db.prepare(`SELECT id, path, kind, module_name AS module FROM objects WHERE status != 'failed'
      AND ((? = 'vmlinux' AND kind = 'vmlinux') OR (kind = 'module' AND module_name = ?)) ORDER BY id LIMIT 1`);
    this.hasTable = db.prepare('SELECT 1 FROM kallsyms_entries WHERE object_id = ? LIMIT 1').pluck();
    this.tableStmt = db.prepare(`SELECT ${COPY_COLUMNS} FROM kallsyms_entries e
      LEFT JOIN symbols s ON s.object_id = e.object_id AND s.idx = e.symbol_idx ${COPY_JOINS}
      WHERE e.object_id = ? AND e.name = ? ORDER BY e.sympos, e.pos`);
    this.symbolStmt = db.prepare(`SELECT ${COPY_COLUMNS} FROM symbols s ${COPY_JOINS}
      WHERE s.object_id = ? AND s.name = ? AND s.ks_letter IS NOT NULL ORDER BY coalesce(s.sympos, 0), s.idx`);
  }

  /** The object livepatch calls `objname` (`vmlinux` or a module name); null when the build has none. */
  object(objname: string): IndexedObjectRef | null {
    return (this.objectStmt.get(objname, objname) as IndexedObjectRef | undefined) ?? null;
  }

  copies(o: IndexedObjectRef, name: string): KallsymsCopy[] {
    const rows = (this.hasTable.get(o.id) ? this.tableStmt.all(o.id, name) : this.symbolStmt.all(o.id, name)) as Omit<KallsymsCopy, 'rank'>[];
    return rows.map((r, k) => ({ ...r, rank: k + 1 }));
  }
}

/** `alias site`, or the name when the copy has no alias (a unique name, or an entry without a .symtab twin). */
export function copyText(name: string, c: Pick<KallsymsCopy, 'alias' | 'decl_file' | 'decl_line' | 'unit'>): string {
  const site = siteText(c);
  return `${c.alias ?? name}${site ? ` ${site}` : ''}`;
}
