/**
 * `ksymtree klp check`: every reference of a livepatch module against each build's index (which copy the
 * kernel binds, and with a reference build whether it is the same definition site); `ksymtree klp funcs`:
 * the klp_object/klp_func initializers for the copies aliases name.
 */
import { FatalError } from '../errors.js';
import { CatalogCopies, buildLabel } from '../catalog/copies.js';
import { aliasRowsByAlias, objectName, siteText } from '../db/alias-rows.js';
import { openCatalog } from '../db/catalog-db.js';
import { catalogBuilds } from '../db/catalog-rows.js';
import { type Db, openIndexDb } from '../db/db.js';
import { CopyIndex, type CopySource, type KallsymsCopy, copyText } from '../db/kallsyms-copies.js';
import { indexPathToRead } from '../db/location.js';
import { kernelRelease } from '../db/queries.js';
import type { Output } from '../io/output.js';
import { type CommandResult, finished, withIndex } from './command.js';
import { type BindStatus, type SiteMatch, checkTarget } from '../klp/binding.js';
import { readLivepatchModule } from '../klp/module.js';
import type { LivepatchReference } from '../klp/reference.js';

/** One build to check against: `label` names it in the output (an index path, or a catalogue's build). */
export interface Build { readonly label: string; readonly copies: CopySource; readonly release: string | null }

/** One reference in one build, as `klp check --format json` prints it. */
export interface BuildResult {
  db: string;
  status: BindStatus;
  ok: boolean;
  /** Copies of the name in the object (kallsyms entries), 0 when the object or name is absent. */
  copies: number;
  /** The copy the kernel binds: its rank in the walk (`copy`), alias and definition site; null when loading fails. */
  bound: { copy: number; alias: string | null; decl_file: string | null; decl_line: number | null; unit: string | null; section: string | null } | null;
  match: SiteMatch | null;
  sympos_to_bind: number | null;
}

export interface ReferenceResult {
  kind: LivepatchReference['kind']; objname: string; name: string; sympos: number; where: string; offset: number;
  builds: BuildResult[];
}

export interface KlpCheckRecord {
  module: string;
  reference: string | null;
  ok: boolean;
  builds: { db: string; role: 'reference' | 'target'; release: string | null }[];
  errors: { offset: number; message: string }[];
  references: ReferenceResult[];
}

function boundRecord(c: KallsymsCopy | null): BuildResult['bound'] {
  return c && { copy: c.rank, alias: c.alias, decl_file: c.decl_file, decl_line: c.decl_line, unit: c.unit, section: c.section };
}

/** `klp check`: the reference build (when given) first, then the targets; a build given twice is checked once. */
export async function klpCheck(modulePath: string, targets: readonly Build[], reference: Build | null): Promise<KlpCheckRecord> {
  const module = await readLivepatchModule(modulePath);
  const builds = [...(reference ? [reference] : []), ...targets.filter((t) => t.label !== reference?.label)];
  const references = module.references.map((r): ReferenceResult => {
    const refCopies = reference ? reference.copies.copies(r.objname, r.name) : null;
    return { ...r, builds: builds.map((b) => {
      const copies = b.copies.copies(r.objname, r.name);
      const check = copies ? checkTarget(copies, r.sympos, b === reference ? null : refCopies ?? (reference ? [] : null)) : null;
      const status: BindStatus = check ? check.status : 'no-object';
      return { db: b.label, status, ok: status === 'ok', copies: copies?.length ?? 0, bound: boundRecord(check?.bound ?? null),
        match: check?.match ?? null, sympos_to_bind: check?.symposToBind ?? null };
    }) };
  });
  return {
    module: modulePath,
    reference: reference?.label ?? null,
    ok: !module.errors.length && references.every((r) => r.builds.every((b) => b.ok)),
    builds: builds.map((b) => ({ db: b.label, role: b === reference ? 'reference' : 'target', release: b.release })),
    errors: module.errors.map((e) => ({ offset: e.offset, message: e.message })),
    references,
  };
}

const WHY: Record<BindStatus, string> = {
  ok: 'binds',
  'no-object': 'no such object in this build',
  'no-symbol': 'symbol not found in the object (the kernel: "not found in symbol table")',
  ambiguous: 'sympos 0 but the name is not unique (the kernel: "unresolvable ambiguity")',
  'out-of-range': 'sympos beyond the copies of the name (the kernel: "symbol position not found")',
  'other-copy': "binds another copy than the reference's",
  'no-match': "no copy has the reference's definition site",
  unverifiable: 'a definition site needed to compare is not indexed (index with --all-sites for unique names)',
};

function buildLine(r: ReferenceResult, b: BuildResult, role: string): string {
  const parts = [`  ${b.ok ? 'ok' : `FAIL ${b.status}`}`, `${b.db}${role}`];
  if (b.bound) parts.push(`binds ${copyText(r.name, b.bound)}${b.copies > 1 ? ` (copy ${b.bound.copy} of ${b.copies})` : ''}`);
  // `moved` says how the reference's copy was found: the bound one when ok, else the one sympos_to_bind names
  const moved = b.match === 'moved' ? 'same file and unit, other line' : null;
  if (b.ok && moved) parts.push(moved);
  if (!b.ok) parts.push(WHY[b.status]);
  if (b.sympos_to_bind !== null) parts.push(`sympos ${b.sympos_to_bind} binds the reference's copy here${moved ? ` (${moved})` : ''}`);
  return parts.join('  ');
}

/** Text view: one line per reference, one per build under it, then the module's errors and a summary. */
export function klpCheckLines(rec: KlpCheckRecord): string[] {
  const roles = new Map(rec.builds.map((b) => [b.db, b.role === 'reference' ? ' (reference)' : '']));
  const out: string[] = [];
  for (const r of rec.references) {
    out.push(`${r.objname} ${r.name} sympos ${r.sympos}  [${r.where}]`);
    for (const b of r.builds) out.push(buildLine(r, b, roles.get(b.db) ?? ''));
  }
  for (const e of rec.errors) out.push(`error: ${e.message}`);
  const checks = rec.references.reduce((n, r) => n + r.builds.length, 0);
  const failed = rec.references.reduce((n, r) => n + r.builds.filter((b) => !b.ok).length, 0);
  out.push(`${rec.module}: ${rec.references.length} references x ${rec.builds.length} builds: ${checks - failed} ok, ${failed} failed`
    + `${rec.errors.length ? `; ${rec.errors.length} errors reading the module` : ''}`);
  return out;
}

/** One klp_func initializer, as `klp funcs --format json` prints it. */
export interface KlpFuncRecord {
  alias: string; objname: string; old_name: string; old_sympos: number; decl_file: string | null; decl_line: number | null; unit: string | null;
}

/** `klp funcs ALIAS...`: the copy each alias names; refuses an alias that names no copy or copies in several objects. */
export function klpFuncs(db: Db, aliases: readonly string[]): KlpFuncRecord[] {
  return aliases.map((alias) => {
    const rows = aliasRowsByAlias(db, alias);
    if (!rows.length) throw new FatalError(`${alias}: no such alias in the index (see \`ksymtree aliases\` or \`ksymtree lookup NAME\`)`);
    if (rows.length > 1) {
      throw new FatalError(`${alias}: ambiguous, it names copies in ${rows.length} objects (${rows.map((r) => objectName(r)).join(', ')}): `
        + 'a livepatch needs one copy; use the copies\' sympos from `ksymtree lookup` per object');
    }
    const r = rows[0];
    return { alias, objname: objectName(r), old_name: r.name, old_sympos: r.sympos, decl_file: r.decl_file, decl_line: r.decl_line, unit: r.unit };
  });
}

const ident = (text: string) => text.replace(/[^A-Za-z0-9_]/g, '_');

/** C initializers: one klp_func array per object (in first-mention order), then the klp_object array. */
export function klpFuncsSource(records: readonly KlpFuncRecord[]): string {
  const objects = [...new Set(records.map((r) => r.objname))];
  const out: string[] = [];
  for (const o of objects) {
    out.push(`static struct klp_func ${ident(o)}_funcs[] = {`);
    for (const r of records.filter((x) => x.objname === o)) {
      const site = siteText(r);
      out.push('\t{', `\t\t/* ${r.alias}${site ? `, defined at ${site}` : ''} */`, `\t\t.old_name = "${r.old_name}",`,
        `\t\t.new_func = livepatch_${ident(r.old_name)}${r.old_sympos ? `_${r.old_sympos}` : ''},`, `\t\t.old_sympos = ${r.old_sympos},`, '\t},');
    }
    out.push('\t{ }', '};', '');
  }
  out.push('static struct klp_object objs[] = {');
  for (const o of objects) {
    out.push('\t{', o === 'vmlinux' ? '\t\t/* name being NULL means vmlinux */' : `\t\t.name = "${o}",`, `\t\t.funcs = ${ident(o)}_funcs,`, '\t},');
  }
  out.push('\t{ }', '};');
  return `${out.join('\n')}\n`;
}

/** Opens indexes (each once) for the time of `use`, closing all of them however it ends. */
async function withIndexes<T>(use: (open: (p: string) => Db) => Promise<T>): Promise<T> {
  const opened = new Map<string, Db>();
  try {
    return await use((p) => {
      let db = opened.get(p);
      if (!db) opened.set(p, (db = openIndexDb(p)));
      return db;
    });
  } finally {
    for (const db of opened.values()) db.close();
  }
}

export interface KlpCheckOptions {
  /** Target indexes (`--db`, repeatable); none: the default index, unless a reference or catalogue is given. */
  readonly db?: readonly string[];
  readonly catalog?: string;
  readonly reference?: string;
  readonly format: 'text' | 'json';
}

/** `ksymtree klp check`: exit 1 when some reference does not bind as intended in some build, or the module could not be fully read. */
export function runKlpCheck(module: string, o: KlpCheckOptions, out: Output): Promise<CommandResult> {
  const targets = (o.db?.length ? o.db : o.reference || o.catalog ? [] : [undefined]).map((p) => indexPathToRead(p));
  const reference = o.reference ? indexPathToRead(o.reference) : null;
  return withIndexes(async (open) => {
    const build = (path: string): Build => ({ label: path, copies: new CopyIndex(open(path)), release: kernelRelease(open(path)) });
    const catalog = o.catalog ? openCatalog(o.catalog) : null;
    try {
      const reader = catalog && new CatalogCopies(catalog);
      const catalogued = catalog ? catalogBuilds(catalog).map((b): Build => ({ label: `${o.catalog}: ${buildLabel(b)}`, copies: reader!.source(b.id), release: b.release })) : [];
      const rec = await klpCheck(module, [...targets.map(build), ...catalogued], reference ? build(reference) : null);
      out.write(o.format === 'json' ? `${JSON.stringify(rec, null, 1)}\n` : `${klpCheckLines(rec).join('\n')}\n`);
      return finished(!rec.ok);
    } finally {
      catalog?.close();
    }
  });
}

/** `ksymtree klp funcs ALIAS...`: the initializers as C, or the records as json. */
export function runKlpFuncs(aliases: readonly string[], o: { db?: string; format: 'c' | 'json' }, out: Output): Promise<CommandResult> {
  return withIndex(o.db, (db) => {
    const records = klpFuncs(db, aliases);
    out.write(o.format === 'json' ? `${JSON.stringify(records, null, 1)}\n` : klpFuncsSource(records));
    return finished();
  });
}
