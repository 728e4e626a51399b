/**
 * The copies of one name in one object as the livepatch core counts them (klp_find_object_symbol): every
 * kallsyms entry of that name, in the walk order that numbers them (sympos). vmlinux with a decoded table:
 * its entries (also those without a .symtab twin); otherwise the kallsyms-visible .symtab symbols.
 */
import type { Db } from './db.js';
import { siteText } from './alias-rows.js';

export interface KallsymsCopy {
  /** 1-based rank in the walk (the sympos that binds it; a unique name's only copy is 1, and 0 binds it too). */
  readonly rank: number;
  readonly alias: string | null;
  readonly decl_file: string | null;
  readonly decl_line: number | null;
  readonly unit: string | null;
  readonly section: string | null;
  /** The kallsyms type letter (t/T: text). */
  readonly letter: string;
}

/** Where a build's copies come from: one index (CopyIndex) or one build of a catalogue. */
export interface CopySource {
  /** The copies of `name` in the object livepatch calls `objname` (`vmlinux` or a module name); null when the build has no such object. */
  copies(objname: string, name: string): KallsymsCopy[] | null;
}

export interface IndexedObjectRef { id: number; path: string; kind: 'vmlinux' | 'module'; module: string | null; build_id: string | null; machine: number | null }

const COPY_COLUMNS = 'a.alias, t.decl_file, t.decl_line, t.unit, sec.name AS section';
/** The alias and site of symbol `s`, and its section. */
const COPY_JOINS = `LEFT JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx
  LEFT JOIN aliases a ON a.object_id = s.object_id AND a.idx = s.idx
  LEFT JOIN sites t ON t.object_id = s.object_id AND t.idx = s.idx`;

/** Copies of one object, of one name (`oneName`) or of all names (ordered by name), in walk order. */
function copiesSql(table: boolean, oneName: boolean): string {
  return table
    ? `SELECT e.name, e.letter, ${COPY_COLUMNS} FROM kallsyms_entries e LEFT JOIN symbols s ON s.object_id = e.object_id AND s.idx = e.symbol_idx ${COPY_JOINS}
      WHERE e.object_id = ?${oneName ? ' AND e.name = ?' : ''} ORDER BY e.name, e.sympos, e.pos`
    : `SELECT s.name, s.ks_letter AS letter, ${COPY_COLUMNS} FROM symbols s ${COPY_JOINS}
      WHERE s.object_id = ?${oneName ? ' AND s.name = ?' : ''} AND s.ks_letter IS NOT NULL ORDER BY s.name, coalesce(s.sympos, 0), s.idx`;
}

type CopyRow = Omit<KallsymsCopy, 'rank'> & { name: string };

/** Reads copies from one build's index; statements are prepared once. */
export class CopyIndex implements CopySource {
  private objectStmt;
  private hasTable;
  private oneName;

  constructor(private db: Db) {
    this.objectStmt = db.prepare(`SELECT id, path, kind, module_name AS module, build_id, machine FROM objects WHERE status != 'failed'
      AND ((? = 'vmlinux' AND kind = 'vmlinux') OR (kind = 'module' AND module_name = ?)) ORDER BY id LIMIT 1`);
    this.hasTable = db.prepare('SELECT 1 FROM kallsyms_entries WHERE object_id = ? LIMIT 1').pluck();
    this.oneName = { table: db.prepare(copiesSql(true, true)), symbols: db.prepare(copiesSql(false, true)) };
  }

  object(objname: string): IndexedObjectRef | null {
    return (this.objectStmt.get(objname, objname) as IndexedObjectRef | undefined) ?? null;
  }

  /** Every object livepatch can name (the first of each module name, as `object` picks). */
  objects(): IndexedObjectRef[] {
    return this.db.prepare(`SELECT id, path, kind, module_name AS module, build_id, machine FROM objects o WHERE status != 'failed'
      AND id = (SELECT min(id) FROM objects p WHERE p.status != 'failed' AND p.kind = o.kind AND p.module_name IS o.module_name) ORDER BY id`).all() as IndexedObjectRef[];
  }

  copies(objname: string, name: string): KallsymsCopy[] | null {
    const o = this.object(objname);
    if (!o) return null;
    const rows = (this.hasTable.get(o.id) ? this.oneName.table : this.oneName.symbols).all(o.id, name) as CopyRow[];
    return rows.map(({ name: _, ...r }, k) => ({ ...r, rank: k + 1 }));
  }

  /** Every kallsyms name of an object with its copies in walk order, by name. */
  *allCopies(o: IndexedObjectRef): Generator<[string, KallsymsCopy[]]> {
    const rows = this.db.prepare(copiesSql(!!this.hasTable.get(o.id), false)).iterate(o.id) as IterableIterator<CopyRow>;
    let name: string | null = null;
    let group: KallsymsCopy[] = [];
    for (const { name: n, ...r } of rows) {
      if (n !== name) {
        if (name !== null) yield [name, group];
        name = n;
        group = [];
      }
      group.push({ ...r, rank: group.length + 1 });
    }
    if (name !== null) yield [name, group];
  }
}

/** `alias site`, or the name when the copy has no alias (a unique name, or an entry without a .symtab twin). */
export function copyText(name: string, c: Pick<KallsymsCopy, 'alias' | 'decl_file' | 'decl_line' | 'unit'>): string {
  const site = siteText(c);
  return `${c.alias ?? name}${site ? ` ${site}` : ''}`;
}
