// `ksymtree lookup`, `where`, `stats` and `diff`: read-only questions to the index, each answered as records
// (--format json) and as text lines.
import { type AliasRow, aliasRowsByAlias, objectName, offsetInSection, siteText } from '../db/alias-rows.js';
import { COLLISION_CLASSES, type CollisionClass } from '../alias/collision.js';
import { classKey, collisionClasses } from '../db/collision-rows.js';
import type { Db } from '../db/db.js';
import { displayAddress, indexedConfig } from '../db/queries.js';
import { describeConfig } from '../config/kernel-config.js';
import { SHN_UNDEF, STT_FILE, STT_SECTION } from '../elf/constants.js';

interface Definition {
  object_id: number; object: string; kind: 'vmlinux' | 'module'; module: string | null; elf_class: number | null; idx: number; name: string;
  value: string; ks_letter: string | null; section: string | null; section_addr: string | null; alias: string | null; sympos: number | null;
  decl_file: string | null; decl_line: number | null; unit: string | null; ftrace: number | null;
}

const DEFINITIONS = `SELECT s.object_id, o.path AS object, o.kind, o.module_name AS module, o.elf_class, s.idx, s.name, s.value, s.ks_letter,
    sec.name AS section, sec.addr AS section_addr, a.alias, a.sympos, t.decl_file, t.decl_line, t.unit, s.ftrace
  FROM symbols s JOIN objects o ON o.id = s.object_id
  LEFT JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx
  LEFT JOIN aliases a ON a.object_id = s.object_id AND a.idx = s.idx
  LEFT JOIN sites t ON t.object_id = s.object_id AND t.idx = s.idx
  WHERE s.name = ? AND s.shndx != ${SHN_UNDEF} AND s.type NOT IN (${STT_SECTION}, ${STT_FILE}) ORDER BY o.id, s.idx`;

/** One definition as `lookup --format json` prints it (README: "Machine-readable output"). */
export interface LookupRecord {
  object: string; path: string; name: string; alias: string | null; sympos: number; kallsyms: string | null;
  section: string | null; offset: string; address: string; decl_file: string | null; decl_line: number | null; unit: string | null;
  /** The collision class of a duplicated name (src/alias/collision.ts), null for a unique one. */
  class: CollisionClass | null;
  /** Functions: whether ftrace has a call site in this copy (false: notrace, kprobe events refuse it); null unknown. */
  ftrace: boolean | null;
}

function lookupRecord(d: Definition, classes: Map<string, CollisionClass>): LookupRecord {
  return { object: objectName(d), path: d.object, name: d.name, alias: d.alias, sympos: d.sympos ?? 0, kallsyms: d.ks_letter,
    section: d.section, offset: offsetInSection(d), address: displayAddress(d.value, d.elf_class),
    decl_file: d.decl_file, decl_line: d.decl_line, unit: d.unit, class: d.alias ? classes.get(classKey(d.object_id, d.name)) ?? 'unknown' : null,
    ftrace: d.ftrace === null ? null : d.ftrace === 1 };
}

/**
 * Columns: object, kallsyms letter ('-' hidden), sympos, alias (or the name), section+offset, site, path,
 * collision class, and `notrace` for a function copy without an ftrace entry.
 */
export function lookupLine(r: LookupRecord): string {
  return [r.object, r.kallsyms ?? '-', `sympos ${r.sympos}`, r.alias ?? r.name, `${r.section ?? '?'}+${r.offset}`, siteText(r), r.path, r.class ?? '',
    ...(r.ftrace === false ? ['notrace'] : [])].join('\t');
}

/** `ksymtree lookup NAME|ALIAS`: every definition of a name across the tree, or the one symbol an alias names. */
export function lookup(db: Db, key: string): LookupRecord[] {
  const byAlias = aliasRowsByAlias(db, key);
  const defs = byAlias.length ? byAlias.map(asDefinition) : db.prepare(DEFINITIONS).all(key) as Definition[];
  const classes = collisionClasses(db, [...new Set(defs.filter((d) => d.alias).map((d) => d.object_id))]);
  return defs.map((d) => lookupRecord(d, classes));
}

function asDefinition(r: AliasRow): Definition {
  return { object_id: r.object_id, object: r.object, kind: r.kind, module: r.module, elf_class: r.elf_class, idx: r.idx, name: r.name, value: r.value,
    ks_letter: r.kallsyms, section: r.section, section_addr: r.section_addr, alias: r.alias, sympos: r.sympos, decl_file: r.decl_file, decl_line: r.decl_line, unit: r.unit, ftrace: r.ftrace };
}

/** One definition site as `where --format json` prints it. */
export interface WhereRecord {
  object: string; path: string; name: string; decl_file: string | null; decl_line: number | null; unit: string | null; address: string;
}

/** `ksymtree where NAME`: the definition sites of a name (needs sites: `index --all-sites` for unique names). */
export function where(db: Db, name: string): WhereRecord[] {
  return (db.prepare(DEFINITIONS).all(name) as Definition[]).map((d) => ({ object: objectName(d), path: d.object, name: d.name,
    decl_file: d.decl_file, decl_line: d.decl_line, unit: d.unit, address: displayAddress(d.value, d.elf_class) }));
}

/** Columns: object, name, site (or "(no site recorded)"), unit, address. */
export function whereLine(r: WhereRecord): string {
  return [r.object, r.name, siteText(r) || '(no site recorded)', r.unit ?? '', r.address].join('\t');
}

/** `ksymtree stats`: what the index holds. */
export function stats(db: Db): string[] {
  const one = (sql: string) => db.prepare(sql).pluck().get() as number;
  const lines = [
    `objects\t${one('SELECT count(*) FROM objects')}\t(vmlinux ${one("SELECT count(*) FROM objects WHERE kind = 'vmlinux'")}, modules ${one("SELECT count(*) FROM objects WHERE kind = 'module'")}, failed ${one("SELECT count(*) FROM objects WHERE status = 'failed'")}, partial ${one("SELECT count(*) FROM objects WHERE status = 'partial'")})`,
    `symbols\t${one('SELECT count(*) FROM symbols')}\t(kallsyms-visible ${one('SELECT count(*) FROM symbols WHERE ks_letter IS NOT NULL')})`,
    `duplicate names\t${one(`SELECT count(*) FROM (SELECT 1 FROM symbols s JOIN objects o ON o.id = s.object_id
      WHERE s.sympos = 1 AND o.kallsyms_source != 'vmlinux-table' UNION ALL SELECT 1 FROM kallsyms_entries WHERE sympos = 1)`)}\t(${one('SELECT count(*) FROM kallsyms_entries WHERE sympos > 0 AND symbol_idx IS NULL')} copies without a .symtab symbol to alias)`,
    `aliases\t${one('SELECT count(*) FROM aliases')}\t(shortened ${one('SELECT count(*) FROM aliases WHERE full_alias IS NOT NULL')})`,
  ];
  const bySource = db.prepare('SELECT source, count(*) AS n FROM sites GROUP BY source ORDER BY source').all() as { source: string; n: number }[];
  lines.push(`sites\t${bySource.reduce((n, r) => n + r.n, 0)}\t(${bySource.map((r) => `${r.source} ${r.n}`).join(', ') || 'none'})`);
  const byStage = db.prepare('SELECT stage, count(*) AS n FROM aliases GROUP BY stage ORDER BY stage').all() as { stage: string; n: number }[];
  lines.push(`alias stages\t${byStage.map((r) => `${r.stage} ${r.n}`).join(', ') || 'none'}`);
  const classes = [...collisionClasses(db).values()];
  lines.push(`collision classes\t${classes.length}\t(${COLLISION_CLASSES.map((c) => `${c} ${classes.filter((x) => x === c).length}`).join(', ')})`);
  lines.push(`errors\t${one('SELECT count(*) FROM errors')}`);
  const config = indexedConfig(db);
  lines.push(`kernel config\t${config ? describeConfig(config) : 'not recorded'}`);
  return lines;
}

/**
 * `stats --format json`, from the text lines so that every line `stats` gains appears in both: each
 * `LABEL<TAB>TOTAL<TAB>(PART N, N PART, ...)` becomes `label: {total: TOTAL, part: N, ...}` (non-alphanumerics
 * of labels and parts as `_`); a line without a total (alias stages) holds only its parts.
 */
export function statsRecord(lines: readonly string[]): Record<string, Record<string, number>> {
  const key = (text: string) => text.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
  const out: Record<string, Record<string, number>> = {};
  for (const l of lines) {
    const [label, ...rest] = l.split('\t');
    const entry: Record<string, number> = {};
    for (const field of rest) {
      if (/^\d+$/.test(field)) {
        entry.total = Number(field);
        continue;
      }
      for (const part of field.replace(/^\(|\)$/g, '').split(', ')) {
        const m = /^(.*\D)\s+(\d+)$/.exec(part) ?? /^(\d+)\s+(\D.*)$/.exec(part);
        if (!m) continue;
        const [name, n] = /^\d/.test(m[1]) ? [m[2], m[1]] : [m[1], m[2]];
        entry[key(name)] = Number(n);
      }
    }
    out[key(label)] = entry;
  }
  return out;
}

/** One change as `diff --format json` prints it: `old_sympos` for "~", null otherwise. */
export interface DiffRecord {
  object: string; change: '+' | '-' | '~'; alias: string; name: string; sympos: number; old_sympos: number | null;
}

interface DiffKey { object: string; name: string; alias: string; sympos: number }

/**
 * `ksymtree diff OLD NEW`: per object (matched by module name, or vmlinux), aliases added (+) and removed (-),
 * and aliases whose sympos changed (~): what a livepatch author re-checks for every release.
 */
export function diff(oldDb: Db, newDb: Db): DiffRecord[] {
  const load = (db: Db) => {
    const rows = db.prepare(`SELECT o.kind, o.module_name AS module, s.name, a.alias, a.sympos FROM aliases a
      JOIN objects o ON o.id = a.object_id JOIN symbols s ON s.object_id = a.object_id AND s.idx = a.idx`).all() as
      { kind: 'vmlinux' | 'module'; module: string | null; name: string; alias: string; sympos: number }[];
    return new Map(rows.map((r) => {
      const k: DiffKey = { object: objectName(r), name: r.name, alias: r.alias, sympos: r.sympos };
      return [`${k.object}\0${k.alias}`, k] as const;
    }));
  };
  const before = load(oldDb);
  const after = load(newDb);
  const out: { key: string; record: DiffRecord }[] = [];
  const change = (key: string, k: DiffKey, c: DiffRecord['change'], old: number | null) =>
    out.push({ key, record: { object: k.object, change: c, alias: k.alias, name: k.name, sympos: k.sympos, old_sympos: old } });
  for (const [key, a] of after) {
    const b = before.get(key);
    if (!b) change(key, a, '+', null);
    else if (b.sympos !== a.sympos) change(key, a, '~', b.sympos);
  }
  for (const [key, b] of before) if (!after.has(key)) change(key, b, '-', null);
  return out.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0)).map((x) => x.record);
}

/** `OBJECT<TAB>+|-|~<TAB>ALIAS<TAB>sympos N` (`sympos OLD -> NEW` for ~). */
export function diffLine(r: DiffRecord): string {
  return `${r.object}\t${r.change}\t${r.alias}\tsympos ${r.old_sympos === null ? r.sympos : `${r.old_sympos} -> ${r.sympos}`}`;
}
