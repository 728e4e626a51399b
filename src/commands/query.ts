import { type AliasRow, aliasRowsByAlias, objectName, sectionOffset, siteText } from '../index/alias-rows.js';
import { COLLISION_CLASSES, type CollisionClass } from '../alias/collision.js';
import { classKey, collisionClasses } from '../index/collision-rows.js';
import type { Db } from '../index/db.js';
import { displayAddress } from '../index/queries.js';

interface Definition {
  object_id: number; object: string; kind: 'vmlinux' | 'module'; module: string | null; elf_class: number | null; idx: number; name: string;
  value: string; ks_letter: string | null; section: string | null; section_addr: string | null; alias: string | null; sympos: number | null;
  decl_file: string | null; decl_line: number | null; unit: string | null;
}

const DEFINITIONS = `SELECT s.object_id, o.path AS object, o.kind, o.module_name AS module, o.elf_class, s.idx, s.name, s.value, s.ks_letter,
    sec.name AS section, sec.addr AS section_addr, a.alias, a.sympos, t.decl_file, t.decl_line, t.unit
  FROM symbols s JOIN objects o ON o.id = s.object_id
  LEFT JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx
  LEFT JOIN aliases a ON a.object_id = s.object_id AND a.idx = s.idx
  LEFT JOIN sites t ON t.object_id = s.object_id AND t.idx = s.idx
  WHERE s.name = ? AND s.shndx != 0 AND s.type NOT IN (3, 4) ORDER BY o.id, s.idx`;

function line(d: Definition, classes: Map<string, CollisionClass>): string {
  const where = siteText(d);
  return [objectName(d), d.ks_letter ?? '-', `sympos ${d.sympos ?? 0}`, d.alias ?? d.name,
    sectionOffset(d), where, d.object, d.alias ? classes.get(classKey(d.object_id, d.name)) ?? 'unknown' : ''].join('\t');
}

/**
 * `ksymtree lookup NAME|ALIAS`: every definition of a name across the tree, or the one symbol an alias
 * names. Columns: object, kallsyms letter ('-' hidden), sympos, alias (or the name), section+offset, site, path,
 * collision class (for a duplicated name).
 */
export function lookup(db: Db, key: string): string[] {
  const byAlias = aliasRowsByAlias(db, key);
  const defs = byAlias.length ? byAlias.map(asDefinition) : db.prepare(DEFINITIONS).all(key) as Definition[];
  const classes = collisionClasses(db, [...new Set(defs.filter((d) => d.alias).map((d) => d.object_id))]);
  return defs.map((d) => line(d, classes));
}

function asDefinition(r: AliasRow): Definition {
  return { object_id: r.object_id, object: r.object, kind: r.kind, module: r.module, elf_class: r.elf_class, idx: r.idx, name: r.name, value: r.value,
    ks_letter: r.kallsyms, section: r.section, section_addr: r.section_addr, alias: r.alias, sympos: r.sympos, decl_file: r.decl_file, decl_line: r.decl_line, unit: r.unit };
}

/** `ksymtree where NAME`: the definition sites of a name (needs sites: `index --all-sites` for unique names). */
export function where(db: Db, name: string): string[] {
  return (db.prepare(DEFINITIONS).all(name) as Definition[]).map((d) =>
    [objectName(d), d.name, siteText(d) || '(no site recorded)', d.unit ?? '', displayAddress(d.value, d.elf_class)].join('\t'));
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
  return lines;
}

interface DiffKey { object: string; name: string; alias: string; sympos: number }

/**
 * `ksymtree diff OLD NEW`: per object (matched by module name, or vmlinux), aliases added (+) and removed (-),
 * and aliases whose sympos changed (~): what a livepatch author re-checks for every release.
 */
export function diff(oldDb: Db, newDb: Db): string[] {
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
  const out: { key: string; text: string }[] = [];
  for (const [key, a] of after) {
    const b = before.get(key);
    if (!b) out.push({ key, text: `${a.object}\t+\t${a.alias}\tsympos ${a.sympos}` });
    else if (b.sympos !== a.sympos) out.push({ key, text: `${a.object}\t~\t${a.alias}\tsympos ${b.sympos} -> ${a.sympos}` });
  }
  for (const [key, b] of before) if (!after.has(key)) out.push({ key, text: `${b.object}\t-\t${b.alias}\tsympos ${b.sympos}` });
  return out.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0)).map((x) => x.text);
}
