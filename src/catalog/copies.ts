/** Reading a catalogue: a build's name in output, the copies of a name in one build's object (for `klp check --catalog`), and per build (`catalog sympos`). */
import type { Db } from '../db/db.js';
import { type CatalogBuild, CatalogRows } from '../db/catalog-rows.js';
import type { CopySource, KallsymsCopy } from '../db/kallsyms-copies.js';

/** How a build is named in output: `release/arch` and the start of its build-id, else the index it came from. */
export function buildLabel(b: CatalogBuild): string {
  return `${b.release ?? '?'}/${b.arch ?? '?'}${b.build_id ? ` (build-id ${b.build_id.slice(0, 12)})` : ` (${b.source})`}`;
}

/** The copies of a name in a build's object, as `klp check --catalog` and `catalog sympos` read them. */
export class CatalogCopies {
  private rows: CatalogRows;

  constructor(catalog: Db) {
    this.rows = new CatalogRows(catalog);
  }

  /** Copies of `name` in a build's object; null when the build has no such object. A unique name's copy carries no site. */
  copies(build: number, objname: string, name: string): KallsymsCopy[] | null {
    const objset = this.rows.objsetOf(build, objname);
    if (objset === undefined) return null;
    const n = this.rows.copyCount(objset, name);
    if (n < 2) return n ? [{ rank: 1, alias: null, decl_file: null, decl_line: null, unit: null, section: null, letter: '?' }] : [];
    return this.rows.copies(objset, name);
  }

  /** The objects of a build in which `name` has a kallsyms entry (vmlinux first). */
  objectsHaving(build: number, name: string): string[] {
    return this.rows.objectsHaving(build, name);
  }

  /** One build as a CopySource for `klp check`. */
  source(build: number): CopySource {
    return { copies: (objname, name) => this.copies(build, objname, name) };
  }
}
