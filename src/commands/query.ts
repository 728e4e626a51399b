// `ksymtree lookup`, `where`, `stats`, `diff` and `errors`: read-only questions to the index, each answered as
// records (--format json) and as text lines.
import { type AliasRow, aliasNames, aliasRowsByAlias, objectName, offsetInSection, siteText } from '../db/alias-rows.js';
import { COLLISION_CLASSES, type CollisionClass } from '../alias/collision.js';
import { classKey, collisionClasses } from '../db/collision-rows.js';
import type { Db } from '../db/db.js';
import { displayAddress, errorRecords, indexedConfig } from '../db/queries.js';
import { aliasesByStage, indexCounts, sitesBySource } from '../db/stats.js';
import { type Definition, definitionsOf } from '../db/symbols.js';
import { describeConfig } from '../config/kernel-config.js';
import { FatalError } from '../errors.js';
import type { Output } from '../io/output.js';
import { type CommandResult, type TextOrJson, finished, withIndex, writeRecords } from './command.js';

export interface QueryOptions {
  readonly db?: string;
  readonly format: TextOrJson;
}

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
function lookupLine(r: LookupRecord): string {
  return [r.object, r.kallsyms ?? '-', `sympos ${r.sympos}`, r.alias ?? r.name, `${r.section ?? '?'}+${r.offset}`, siteText(r), r.path, r.class ?? '',
    ...(r.ftrace === false ? ['notrace'] : [])].join('\t');
}

/** `ksymtree lookup NAME|ALIAS`: every definition of a name across the tree, or the one symbol an alias names. */
export function runLookup(key: string, opts: QueryOptions, out: Output): Promise<CommandResult> {
  return withIndex(opts.db, (db, path) => {
    const records = lookup(db, key);
    if (!records.length) throw new FatalError(`${key}: no such symbol or alias in ${path}`);
    writeRecords(out, opts.format, records, () => records.map(lookupLine));
    return finished();
  });
}

function lookup(db: Db, key: string): LookupRecord[] {
  const byAlias = aliasRowsByAlias(db, key);
  const defs = byAlias.length ? byAlias.map(asDefinition) : definitionsOf(db, key);
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
export function runWhere(name: string, opts: QueryOptions, out: Output): Promise<CommandResult> {
  return withIndex(opts.db, (db) => {
    const records = where(db, name);
    if (!records.length) throw new FatalError(`${name}: not defined in any indexed object`);
    writeRecords(out, opts.format, records, () => records.map(whereLine));
    return finished();
  });
}

function where(db: Db, name: string): WhereRecord[] {
  return definitionsOf(db, name).map((d) => ({ object: objectName(d), path: d.object, name: d.name,
    decl_file: d.decl_file, decl_line: d.decl_line, unit: d.unit, address: displayAddress(d.value, d.elf_class) }));
}

/** Columns: object, name, site (or "(no site recorded)"), unit, address. */
function whereLine(r: WhereRecord): string {
  return [r.object, r.name, siteText(r) || '(no site recorded)', r.unit ?? '', r.address].join('\t');
}

/** `ksymtree stats`: what the index holds. */
export function runStats(opts: QueryOptions, out: Output): Promise<CommandResult> {
  return withIndex(opts.db, (db) => {
    const lines = stats(db);
    // The configuration is text, not counts: its JSON comes from the index's meta rows as they are.
    writeRecords(out, opts.format, opts.format === 'json' ? { ...statsRecord(lines), kernel_config: indexedConfig(db) } : null, () => lines);
    return finished();
  });
}

function stats(db: Db): string[] {
  const c = indexCounts(db);
  const lines = [
    `objects\t${c.objects}\t(vmlinux ${c.vmlinux}, modules ${c.modules}, failed ${c.failed}, partial ${c.partial})`,
    `symbols\t${c.symbols}\t(kallsyms-visible ${c.kallsymsVisible})`,
    `duplicate names\t${c.duplicateNames}\t(${c.copiesWithoutSymbol} copies without a .symtab symbol to alias)`,
    `aliases\t${c.aliases}\t(shortened ${c.shortened})`,
  ];
  const bySource = sitesBySource(db);
  lines.push(`sites\t${bySource.reduce((n, r) => n + r.n, 0)}\t(${bySource.map((r) => `${r.source} ${r.n}`).join(', ') || 'none'})`);
  const byStage = aliasesByStage(db);
  lines.push(`alias stages\t${byStage.map((r) => `${r.stage} ${r.n}`).join(', ') || 'none'}`);
  const classes = [...collisionClasses(db).values()];
  lines.push(`collision classes\t${classes.length}\t(${COLLISION_CLASSES.map((c) => `${c} ${classes.filter((x) => x === c).length}`).join(', ')})`);
  lines.push(`errors\t${c.errors}`);
  const config = indexedConfig(db);
  lines.push(`kernel config\t${config ? describeConfig(config) : 'not recorded'}`);
  return lines;
}

/**
 * `stats --format json`, from the text lines so that every line `stats` gains appears in both: each
 * `LABEL<TAB>TOTAL<TAB>(PART N, N PART, ...)` becomes `label: {total: TOTAL, part: N, ...}` (non-alphanumerics
 * of labels and parts as `_`); a line without a total (alias stages) holds only its parts.
 */
function statsRecord(lines: readonly string[]): Record<string, Record<string, number>> {
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
export function runDiff(oldPath: string, newPath: string, opts: Omit<QueryOptions, 'db'>, out: Output): Promise<CommandResult> {
  return withIndex(oldPath, (oldDb) => withIndex(newPath, (newDb) => {
    const records = diff(oldDb, newDb);
    writeRecords(out, opts.format, records, () => records.map(diffLine));
    return finished();
  }));
}

function diff(oldDb: Db, newDb: Db): DiffRecord[] {
  const load = (db: Db) => {
    return new Map(aliasNames(db).map((r) => {
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
function diffLine(r: DiffRecord): string {
  return `${r.object}\t${r.change}\t${r.alias}\tsympos ${r.old_sympos === null ? r.sympos : `${r.old_sympos} -> ${r.sympos}`}`;
}

/** `ksymtree errors`: the objects and paths that could not be (fully) read, each with file, offset and expectation. */
export function runErrors(opts: QueryOptions, out: Output): Promise<CommandResult> {
  return withIndex(opts.db, (db) => {
    const records = errorRecords(db);
    writeRecords(out, opts.format, records, () => records.map((e) => e.message));
    return finished();
  });
}
