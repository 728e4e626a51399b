/** `ksymtree catalog add` (merge build indexes into a catalogue) and `catalog sympos` (a name's copies in every build). */
import { statSync } from 'node:fs';
import { type AddResult, addBuild } from '../catalog/add.js';
import { CatalogCopies, buildLabel, catalogBuilds } from '../catalog/copies.js';
import { openCatalogForWrite } from '../catalog/db.js';
import { openIndexDb } from '../db/db.js';
import type { Db } from '../db/db.js';
import { siteText } from '../db/alias-rows.js';
import { acquireLock } from '../io/lock.js';

/** Adds each index in turn (one transaction each), holding the catalogue's lock. */
export function catalogAdd(catalogPath: string, indexes: readonly string[]): { results: AddResult[]; builds: number } {
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
      const builds = catalog.prepare('SELECT count(*) FROM builds').pluck().get() as number;
      return { results, builds };
    } finally {
      catalog.close();
    }
  } finally {
    lock.release();
  }
}

export function catalogAddLines(catalogPath: string, r: ReturnType<typeof catalogAdd>): string[] {
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
