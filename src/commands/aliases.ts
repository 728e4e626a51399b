// The `ksymtree aliases` command, after `index` (reads the alias rows, db/alias-rows.ts): every alias with its sympos and
// site, as json, tsv, livepatch positions (objname, old_name, old_sympos) or `nm -n` with alias lines (for scripts/kallsyms).
import { FatalError } from '../errors.js';
import { type AliasRow, aliasRows, objectName, siteText } from '../db/alias-rows.js';
import type { CollisionClass } from '../alias/collision.js';
import { classKey, collisionClasses } from '../db/collision-rows.js';
import type { Db } from '../db/db.js';
import { displayAddress, selectObjects } from '../db/queries.js';
import type { Output } from '../io/output.js';
import { type CommandResult, finished, withIndex } from './command.js';
import { type NmRow, nmRows } from '../db/symbols.js';

export type AliasFormat = 'json' | 'tsv' | 'nm' | 'livepatch';

export interface AliasesOptions {
  readonly db?: string;
  readonly object?: string;
  readonly format: AliasFormat;
}

const TSV_COLUMNS = ['object', 'module', 'name', 'alias', 'sympos', 'section', 'value', 'size', 'kallsyms', 'decl_file', 'decl_line', 'unit', 'site_source'];

function record(r: AliasRow, classes?: Map<string, CollisionClass>) {
  return {
    object: r.object, module: r.module, name: r.name, alias: r.alias, sympos: r.sympos, section: r.section,
    value: displayAddress(r.value, r.elf_class), size: r.size, kallsyms: r.kallsyms, decl_file: r.decl_file,
    decl_line: r.decl_line, unit: r.unit, site_source: r.site_source,
    ...(classes ? { class: classes.get(classKey(r.object_id, r.name)) ?? 'unknown', ftrace: r.ftrace === null ? null : r.ftrace === 1 } : {}),
  };
}

function tsv(rows: AliasRow[]): string {
  const lines = [TSV_COLUMNS.join('\t')];
  for (const r of rows) lines.push(Object.values(record(r)).map((v) => v ?? '').join('\t'));
  return `${lines.join('\n')}\n`;
}

function json(rows: AliasRow[], classes: Map<string, CollisionClass>): string {
  return `${JSON.stringify(rows.map((r) => record(r, classes)), null, 1)}\n`;
}

/**
 * The livepatch view, one block per object, tab-separated:
 *   # object <klp_object.name>
 *   NAME <TAB> SYMPOS <TAB> ALIAS <TAB> SITE
 * SYMPOS is what klp_func.old_sympos (or kpatch's sympos) must say for that copy; SITE is file:line.
 */
function livepatch(rows: AliasRow[]): string {
  const out = ['# ksymtree livepatch positions: NAME\tSYMPOS\tALIAS\tSITE (klp_func.old_sympos = SYMPOS)'];
  let current = -1;
  for (const r of [...rows].sort((a, b) => a.object_id - b.object_id || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || a.sympos - b.sympos)) {
    if (r.object_id !== current) {
      out.push(`# object ${objectName(r)}\t${r.object}`);
      current = r.object_id;
    }
    out.push([r.name, r.sympos, r.alias, siteText(r)].join('\t'));
  }
  return `${out.join('\n')}\n`;
}

/**
 * `nm -n` of one object with each alias on the line after its symbol (same address and letter): what the
 * kas_alias patches fed scripts/kallsyms when linking vmlinux.
 */
function nm(db: Db, objectId: number, elfClass: number | null, rows: AliasRow[]): string {
  const aliasOf = new Map(rows.map((r) => [r.idx, r.alias]));
  const symbols = nmRows(db, objectId);
  const width = elfClass === 32 ? 8 : 16;
  const lines: string[] = [];
  const undefinedFirst = (s: NmRow) => 'Uwv'.includes(s.nm_letter);
  for (const s of [...symbols.filter(undefinedFirst), ...symbols.filter((x) => !undefinedFirst(x))]) {
    const addr = undefinedFirst(s) ? ' '.repeat(width) : displayAddress(s.value, elfClass);
    lines.push(`${addr} ${s.nm_letter} ${s.name}`);
    const alias = aliasOf.get(s.idx);
    if (alias) lines.push(`${addr} ${s.nm_letter} ${alias}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `ksymtree aliases`: the aliases of the selected objects (all, or one with --object) in one format. */
export function runAliases(opts: AliasesOptions, out: Output): Promise<CommandResult> {
  return withIndex(opts.db, (db) => {
    out.write(renderAliases(db, opts));
    return finished();
  });
}

function renderAliases(db: Db, opts: AliasesOptions): string {
  if (opts.format === 'nm') {
    const objects = selectObjects(db, opts.object ?? 'vmlinux');
    if (objects.length !== 1) throw new FatalError(`--format nm prints one object; ${opts.object ?? 'vmlinux'} matches ${objects.length}`);
    return nm(db, objects[0].id, objects[0].elf_class, aliasRows(db, [objects[0].id]));
  }
  const ids = selectObjects(db, opts.object).map((o) => o.id);
  const rows = aliasRows(db, ids);
  switch (opts.format) {
    case 'json': return json(rows, collisionClasses(db, ids));
    case 'tsv': return tsv(rows);
    case 'livepatch': return livepatch(rows);
  }
}
