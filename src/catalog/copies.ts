/** Reading a catalogue: its builds, the copies of a name in one build's object (for `klp check --catalog`), and per build (`catalog sympos`). */
import type { Db } from '../db/db.js';
import type { CopySource, KallsymsCopy } from '../db/kallsyms-copies.js';
import type { BuildIdentity } from './add.js';

export interface CatalogBuild extends BuildIdentity { id: number; source: string; objects: number }

/** Builds in a stable order: release, architecture, build-id, source index. */
export function catalogBuilds(catalog: Db): CatalogBuild[] {
  return catalog.prepare('SELECT id, release, flavour, arch, build_id, source, objects FROM builds ORDER BY release, arch, build_id, source').all() as CatalogBuild[];
}

/** How a build is named in output: `release/arch` and the start of its build-id, else the index it came from. */
export function buildLabel(b: CatalogBuild): string {
  return `${b.release ?? '?'}/${b.arch ?? '?'}${b.build_id ? ` (build-id ${b.build_id.slice(0, 12)})` : ` (${b.source})`}`;
}

/** The queries every reader of one catalogue shares. */
export class CatalogCopies {
  private objset;
  private count;
  private rows;
  private objectsWith;

  constructor(catalog: Db) {
    this.objset = catalog.prepare('SELECT objset_id FROM build_objects WHERE build_id = ? AND objname = ?').pluck();
    this.count = catalog.prepare('SELECT n.copies FROM objset_names n JOIN names m ON m.id = n.name_id WHERE n.objset_id = ? AND m.name = ?').pluck();
    this.rows = catalog.prepare(`SELECT c.rank, c.alias, c.decl_file, c.decl_line, c.unit, c.section, c.letter FROM objset_copies c JOIN names m ON m.id = c.name_id
      WHERE c.objset_id = ? AND m.name = ? ORDER BY c.rank`);
    this.objectsWith = catalog.prepare(`SELECT b.objname FROM build_objects b JOIN objset_names n ON n.objset_id = b.objset_id
      JOIN names m ON m.id = n.name_id WHERE b.build_id = ? AND m.name = ? ORDER BY b.objname = 'vmlinux' DESC, b.objname`).pluck();
  }

  /** Copies of `name` in a build's object; null when the build has no such object. A unique name's copy carries no site. */
  copies(build: number, objname: string, name: string): KallsymsCopy[] | null {
    const objset = this.objset.get(build, objname) as number | undefined;
    if (objset === undefined) return null;
    const n = (this.count.get(objset, name) as number | undefined) ?? 0;
    if (n < 2) return n ? [{ rank: 1, alias: null, decl_file: null, decl_line: null, unit: null, section: null, letter: '?' }] : [];
    return this.rows.all(objset, name) as KallsymsCopy[];
  }

  /** The objects of a build in which `name` has a kallsyms entry (vmlinux first). */
  objectsHaving(build: number, name: string): string[] {
    return this.objectsWith.all(build, name) as string[];
  }

  /** One build as a CopySource for `klp check`. */
  source(build: number): CopySource {
    return { copies: (objname, name) => this.copies(build, objname, name) };
  }
}
