// The alias rows in SQL: written by the alias pass (analyse/alias-pass.ts) into the `aliases` table, read back by the
// commands (aliases, lookup, resolve, diff, klp) joined with symbol, section and site; and the formatters they share.
import type { Alias } from '../alias/naming.js';
import type { Db } from './db.js';

/** One alias with everything the emitters print about it. */
export interface AliasRow {
  object_id: number;
  object: string;
  kind: 'vmlinux' | 'module';
  module: string | null;
  elf_class: number | null;
  idx: number;
  name: string;
  alias: string;
  sympos: number;
  section: string | null;
  section_addr: string | null;
  value: string;
  size: number;
  kallsyms: string;
  decl_file: string | null;
  decl_line: number | null;
  unit: string | null;
  site_source: string | null;
  /** Functions: 1 with an ftrace call site, 0 notrace, null unknown (symbols.ftrace). */
  ftrace: number | null;
}

const ALIAS_SELECT = `SELECT a.object_id, o.path AS object, o.kind, o.module_name AS module, o.elf_class, a.idx, s.name, a.alias, a.sympos,
    sec.name AS section, sec.addr AS section_addr, s.value, s.size, s.ks_letter AS kallsyms, t.decl_file, t.decl_line, t.unit, t.source AS site_source, s.ftrace
  FROM aliases a
  JOIN objects o ON o.id = a.object_id
  JOIN symbols s ON s.object_id = a.object_id AND s.idx = a.idx
  LEFT JOIN sections sec ON sec.object_id = a.object_id AND sec.idx = s.shndx
  LEFT JOIN sites t ON t.object_id = a.object_id AND t.idx = a.idx`;

/** Aliases of the given objects, in object order then symbol-table order. */
export function aliasRows(db: Db, objectIds: readonly number[]): AliasRow[] {
  const stmt = db.prepare(`${ALIAS_SELECT} WHERE a.object_id = ? ORDER BY a.idx`);
  return objectIds.flatMap((id) => stmt.all(id) as AliasRow[]);
}

/** Every copy an alias names in the index: its object's kind and module name, its name and its sympos. */
export interface AliasName { kind: 'vmlinux' | 'module'; module: string | null; name: string; alias: string; sympos: number }

/** Every alias of the index with its symbol's name and its object (no order: `diff` keys them). */
export function aliasNames(db: Db): AliasName[] {
  return db.prepare(`SELECT o.kind, o.module_name AS module, s.name, a.alias, a.sympos FROM aliases a
      JOIN objects o ON o.id = a.object_id JOIN symbols s ON s.object_id = a.object_id AND s.idx = a.idx`).all() as AliasName[];
}

export function aliasRowsByAlias(db: Db, alias: string): AliasRow[] {
  return db.prepare(`${ALIAS_SELECT} WHERE a.alias = ? ORDER BY a.object_id`).all(alias) as AliasRow[];
}

/** One copy of an in-object duplicate as the alias pass names it: its sympos and definition site. */
export interface DuplicateCopy { idx: number; name: string; sympos: number; decl_file: string | null; decl_line: number | null; unit: string | null }

/** The rows the alias pass reads and writes, object by object; statements are prepared once. */
export class AliasPassRows {
  private atNames;
  private copyRows;
  private insert;

  constructor(private db: Db) {
    this.atNames = db.prepare("SELECT name FROM symbols WHERE object_id = ? AND instr(name, '@') > 0").pluck();
    this.copyRows = db.prepare(`SELECT s.idx, s.name, s.sympos, t.decl_file, t.decl_line, t.unit FROM symbols s
    LEFT JOIN sites t ON t.object_id = s.object_id AND t.idx = s.idx WHERE s.object_id = ? AND s.sympos IS NOT NULL ORDER BY s.idx`);
    this.insert = db.prepare('INSERT INTO aliases (object_id, idx, alias, sympos, stage, full_alias) VALUES (?, ?, ?, ?, ?, ?)');
  }

  /** Objects that have in-object duplicates (a symbol with a sympos), in id order. */
  objectsWithDuplicates(): { id: number; path: string }[] {
    return this.db.prepare('SELECT id, path FROM objects WHERE id IN (SELECT DISTINCT object_id FROM symbols WHERE sympos IS NOT NULL) ORDER BY id')
      .all() as { id: number; path: string }[];
  }

  /** The copies of an object's duplicated names, in .symtab order. */
  copies(objectId: number): DuplicateCopy[] {
    return this.copyRows.all(objectId) as DuplicateCopy[];
  }

  /** The object's symbol names with an '@' (versioned names, earlier aliases): the only names an alias can clash with. */
  namesWithAt(objectId: number): string[] {
    return this.atNames.all(objectId) as string[];
  }

  addAlias(objectId: number, a: Alias, sympos: number | undefined): void {
    this.insert.run(objectId, a.idx, a.alias, sympos, a.stage, a.fullAlias);
  }
}

/** Where a row's symbol was defined, as `file:line`, the unit alone, or '' when nothing is known. */
export function siteText(r: Pick<AliasRow, 'decl_file' | 'decl_line' | 'unit'>): string {
  if (r.decl_file) return r.decl_line ? `${r.decl_file}:${r.decl_line}` : r.decl_file;
  return r.unit ?? '';
}

/** `0xOFFSET` of a symbol in its section: its place that stays valid after relocation (and across KASLR). */
export function offsetInSection(r: { section_addr: string | null; value: string }): string {
  return `0x${(BigInt(`0x${r.value}`) - BigInt(`0x${r.section_addr ?? '0'}`)).toString(16)}`;
}

/** The object's name as livepatch and /proc/kallsyms use it: the module name, or "vmlinux". */
export function objectName(r: Pick<AliasRow, 'kind' | 'module'>): string {
  return r.kind === 'vmlinux' ? 'vmlinux' : r.module ?? '';
}
