/** `ksymtree catalog add` (merge build indexes into a catalogue) and `catalog sympos` (a name's copies in every build). */
import { statSync } from 'node:fs';
import { type AddResult, addBuild } from '../catalog/add.js';
import { CatalogCopies, buildLabel } from '../catalog/copies.js';
import { buildCount, catalogBuilds } from '../db/catalog-rows.js';
import { openCatalog, openCatalogForWrite } from '../db/catalog-db.js';
import { openIndexDb } from '../db/db.js';
import type { Db } from '../db/db.js';
import { siteText } from '../db/alias-rows.js';
import { FatalError } from '../errors.js';
import { acquireLock } from '../db/lock.js';
import type { Output } from '../io/output.js';
import { type CommandResult, finished } from './command.js';

/** `ksymtree catalog add CATALOG INDEX...`: a line per build added or replaced, then the catalogue's size. */
export async function runCatalogAdd(catalogPath: string, indexes: readonly string[], out: Output): Promise<CommandResult> {
  for (const l of catalogAddLines(catalogPath, catalogAdd(catalogPath, indexes))) out.line(l);
  return finished();
}

/** `ksymtree catalog sympos NAME`: every copy of NAME in every build of the catalogue, as text lines or json. */
export async function runCatalogSympos(name: string, o: { catalog: string; object?: string; format: 'text' | 'json' }, out: Output): Promise<CommandResult> {
  const db = openCatalog(o.catalog);
  try {
    const records = catalogSympos(db, name, o.object);
    if (!records.length) throw new FatalError(`${name}: in no build of ${o.catalog}${o.object ? ` (object ${o.object})` : ''}`);
    const lines = o.format === 'json' ? [JSON.stringify(records, null, 1)] : catalogSymposLines(name, records);
    for (const l of lines) out.line(l);
    return finished();
  } finally {
    db.close();
  }
}

/** Adds each index in turn (one transaction each), holding the catalogue's lock. */
function catalogAdd(catalogPath: string, indexes: readonly string[]): { results: AddResult[]; builds: number } {
  const lock = acquireLock(`${catalogPath}.lock`, catalogPath);
  try {
    const catalog = openCatalogForWrite(catalogPath);
    try {
      const results = indexes.map((path) => {
        const index = openIndexDb(path);
        try {
          return addBuild(catalog, index, path);
        } finally {
          index.close();
        }
      });
      const builds = buildCount(catalog);
      return { results, builds };
    } finally {
      catalog.close();
    }
  } finally {
    lock.release();
  }
}

function catalogAddLines(catalogPath: string, r: ReturnType<typeof catalogAdd>): string[] {
  return [
    ...r.results.map((a) => `${a.replaced ? 'replaced' : 'added'} ${a.release ?? '?'} ${a.arch ?? '?'}${a.build_id ? ` build-id ${a.build_id}` : ''}: `
      + `${a.objects} objects, ${a.newObjsets} not already in the catalogue (${a.source})`),
    `${catalogPath}: ${r.builds} builds, ${statSync(catalogPath).size} bytes`,
  ];
}

/** One build's copies of a name in one object, as `catalog sympos --format json` prints it. */
export interface CatalogSymposRecord {
  release: string | null; flavour: string | null; arch: string | null; build_id: string | null; object: string;
  /** sympos 0 for a unique name; sites are kept for names with 2+ copies only. */
  copies: { sympos: number; alias: string | null; decl_file: string | null; decl_line: number | null; unit: string | null }[];
}

export function catalogSympos(catalog: Db, name: string, object?: string): CatalogSymposRecord[] {
  const reader = new CatalogCopies(catalog);
  return catalogBuilds(catalog).flatMap((b) => (object ? [object] : reader.objectsHaving(b.id, name)).flatMap((o) => {
    const copies = reader.copies(b.id, o, name);
    if (!copies?.length) return [];
    return [{ release: b.release, flavour: b.flavour, arch: b.arch, build_id: b.build_id, object: o,
      copies: copies.map((c) => ({ sympos: copies.length > 1 ? c.rank : 0, alias: c.alias, decl_file: c.decl_file, decl_line: c.decl_line, unit: c.unit })) }];
  }));
}

/** `RELEASE/ARCH (build-id …)<TAB>OBJECT<TAB>sympos N<TAB>ALIAS<TAB>SITE`, one line per copy. */
export function catalogSymposLines(name: string, records: readonly CatalogSymposRecord[]): string[] {
  return records.flatMap((r) => r.copies.map((c) => [buildLabel({ ...r, id: 0, source: '', objects: 0 }), r.object, `sympos ${c.sympos}`, c.alias ?? name, siteText(c)].join('\t')));
}
