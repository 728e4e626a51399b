// Alias rows for the emitters and queries (aliases, lookup, resolve, klp): each alias joined with its symbol,
// section and site, and the small formatters they share (objname, offset in section, `file:line`).
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

export function aliasRowsByAlias(db: Db, alias: string): AliasRow[] {
  return db.prepare(`${ALIAS_SELECT} WHERE a.alias = ? ORDER BY a.object_id`).all(alias) as AliasRow[];
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
