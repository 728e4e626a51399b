// Symbol rows as the commands read them: every .symtab entry (symbols), the `nm -n` view (aliases --format nm),
// the kallsyms view (kallsyms), the definitions of a name (lookup, where), and the neighbours and functions
// resolve names a copy by.
import { SHN_UNDEF, STT_FILE, STT_FUNC, STT_SECTION } from '../elf/constants.js';
import type { Db } from './db.js';

/** One .symtab entry with its letters and section name, as `ksymtree symbols` lists it. */
export interface SymbolRow {
  idx: number; name: string; value: string; size: number; shndx: number; nm_letter: string | null; ks_letter: string | null;
  section: string | null;
}

/** Every symbol of one object in .symtab order (prepared once: call the result per object). */
export function symbolRows(db: Db): (objectId: number) => IterableIterator<SymbolRow> {
  const stmt = db.prepare(`SELECT s.idx, s.name, s.value, s.size, s.shndx, s.nm_letter, s.ks_letter, sec.name AS section
    FROM symbols s LEFT JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx
    WHERE s.object_id = ? ORDER BY s.idx`);
  return (objectId) => stmt.iterate(objectId) as IterableIterator<SymbolRow>;
}

export interface NmRow { idx: number; name: string; value: string; nm_letter: string }

/** The symbols `nm -n` lists for one object (those with an nm letter), by address, then name, then index. */
export function nmRows(db: Db, objectId: number): NmRow[] {
  return db.prepare(`SELECT idx, name, value, nm_letter FROM symbols WHERE object_id = ? AND nm_letter IS NOT NULL
    ORDER BY value, name, idx`).all(objectId) as NmRow[];
}

/** One line of the kallsyms view: a symbol (or a decoded table entry) with its section and alias. */
export interface KallsymsLine { idx: number; name: string; value: string; ks_letter: string; section: string | null; alias: string | null }

/**
 * The kallsyms view of one object in /proc/kallsyms order: a module in .symtab order; vmlinux by address, or,
 * when its own table was decoded, exactly that table (entries without a .symtab twin included).
 * Prepared once: call the result per object.
 */
export function kallsymsLines(db: Db): (objectId: number, kind: 'vmlinux' | 'module') => IterableIterator<KallsymsLine> {
  const query = (order: string) => db.prepare(`SELECT s.idx, s.name, s.value, s.ks_letter, sec.name AS section, a.alias
    FROM symbols s LEFT JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx
    LEFT JOIN aliases a ON a.object_id = s.object_id AND a.idx = s.idx
    WHERE s.object_id = ? AND s.ks_letter IS NOT NULL ORDER BY ${order}`);
  const byAddress = query('s.value, s.idx');
  const bySymtab = query('s.idx');
  const decoded = db.prepare(`SELECT e.pos AS idx, e.name, e.address AS value, e.letter AS ks_letter, NULL AS section, a.alias
    FROM kallsyms_entries e LEFT JOIN aliases a ON a.object_id = e.object_id AND a.idx = e.symbol_idx
    WHERE e.object_id = ? ORDER BY e.pos`);
  const hasTable = db.prepare('SELECT 1 FROM kallsyms_entries WHERE object_id = ? LIMIT 1').pluck();
  return (objectId, kind) => {
    const lines = kind === 'module' ? bySymtab : hasTable.get(objectId) ? decoded : byAddress;
    return lines.iterate(objectId) as IterableIterator<KallsymsLine>;
  };
}

/** One definition of a name: its symbol, object, section, alias and site. */
export interface Definition {
  object_id: number; object: string; kind: 'vmlinux' | 'module'; module: string | null; elf_class: number | null; idx: number; name: string;
  value: string; ks_letter: string | null; section: string | null; section_addr: string | null; alias: string | null; sympos: number | null;
  decl_file: string | null; decl_line: number | null; unit: string | null; ftrace: number | null;
}

/** Every defined symbol named `name` (no section or file symbols) across the index, in object then .symtab order. */
export function definitionsOf(db: Db, name: string): Definition[] {
  return db.prepare(`SELECT s.object_id, o.path AS object, o.kind, o.module_name AS module, o.elf_class, s.idx, s.name, s.value, s.ks_letter,
    sec.name AS section, sec.addr AS section_addr, a.alias, a.sympos, t.decl_file, t.decl_line, t.unit, s.ftrace
  FROM symbols s JOIN objects o ON o.id = s.object_id
  LEFT JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx
  LEFT JOIN aliases a ON a.object_id = s.object_id AND a.idx = s.idx
  LEFT JOIN sites t ON t.object_id = s.object_id AND t.idx = s.idx
  WHERE s.name = ? AND s.shndx != ${SHN_UNDEF} AND s.type NOT IN (${STT_SECTION}, ${STT_FILE}) ORDER BY o.id, s.idx`).all(name) as Definition[];
}

export interface Anchor { name: string; value: string }

/**
 * The nearest kallsyms-visible function at or below symbol `idx` of an object, in its section, whose name is
 * unique in the object (in the whole tree for vmlinux, `kind`); null when there is none.
 */
export function uniqueAnchor(db: Db, objectId: number, idx: number, value: string, kind: 'vmlinux' | 'module'): Anchor | null {
  return (db.prepare(`SELECT s.name, s.value FROM symbols s
      WHERE s.object_id = ? AND s.shndx = (SELECT shndx FROM symbols WHERE object_id = ? AND idx = ?)
        AND s.ks_letter IS NOT NULL AND s.value <= ? AND s.type = ${STT_FUNC}
        AND (SELECT count(*) FROM symbols u WHERE u.name = s.name AND u.ks_letter IS NOT NULL
             AND (u.object_id = s.object_id OR ? = 'vmlinux')) = 1
      ORDER BY s.value DESC LIMIT 1`).get(objectId, objectId, idx, value, kind) as Anchor | undefined) ?? null;
}

/** The section index and binding of one symbol. */
export function symbolPlace(db: Db, objectId: number, idx: number): { shndx: number; bind: number } {
  return db.prepare('SELECT shndx, bind FROM symbols WHERE object_id = ? AND idx = ?').get(objectId, idx) as { shndx: number; bind: number };
}

/** A function symbol of the index, as much as finding and naming its callers needs. */
export interface FunctionRow { idx: number; name: string; value: string; size: number; shndx: number; bind: number; ftrace: number | null; alias: string | null; sympos: number | null }

/**
 * The sized function symbols of one object, with their aliases: of one section (`section`), or of every
 * section when `section` is null (prepared once: call the result per section).
 */
export function functionRows(db: Db): (objectId: number, section: number | null) => FunctionRow[] {
  const stmt = db.prepare(`SELECT s.idx, s.name, s.value, s.size, s.shndx, s.bind, s.ftrace, a.alias, s.sympos FROM symbols s
        LEFT JOIN aliases a ON a.object_id = s.object_id AND a.idx = s.idx
        WHERE s.object_id = ? AND s.type = ${STT_FUNC} AND s.size > 0 AND (? OR s.shndx = ?)`);
  return (objectId, section) => stmt.all(objectId, section === null ? 1 : 0, section ?? 0) as FunctionRow[];
}
