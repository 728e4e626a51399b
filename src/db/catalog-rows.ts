// The catalogue's rows (catalog.sql): its builds, each build's objects as shared objsets, their names with copy
// counts and the copies of duplicated names; read by `klp check --catalog` and `catalog sympos`, written by `catalog add`.
import type { Db } from './db.js';
import type { KallsymsCopy } from './kallsyms-copies.js';

export interface BuildIdentity { release: string | null; flavour: string | null; arch: string | null; build_id: string | null }

export interface CatalogBuild extends BuildIdentity { id: number; source: string; objects: number }

/** Builds in a stable order: release, architecture, build-id, source index. */
export function catalogBuilds(catalog: Db): CatalogBuild[] {
  return catalog.prepare('SELECT id, release, flavour, arch, build_id, source, objects FROM builds ORDER BY release, arch, build_id, source').all() as CatalogBuild[];
}

export function buildCount(catalog: Db): number {
  return catalog.prepare('SELECT count(*) FROM builds').pluck().get() as number;
}

/** The read queries of one catalogue; statements are prepared once. */
export class CatalogRows {
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

  /** The objset of a build's object; undefined when the build has no such object. */
  objsetOf(build: number, objname: string): number | undefined {
    return this.objset.get(build, objname) as number | undefined;
  }

  /** How many kallsyms entries `name` has in an objset (0 when none). */
  copyCount(objset: number, name: string): number {
    return (this.count.get(objset, name) as number | undefined) ?? 0;
  }

  /** The stored copies of a name with 2+ copies, in walk order. */
  copies(objset: number, name: string): KallsymsCopy[] {
    return this.rows.all(objset, name) as KallsymsCopy[];
  }

  /** The objects of a build in which `name` has a kallsyms entry (vmlinux first). */
  objectsHaving(build: number, name: string): string[] {
    return this.objectsWith.all(build, name) as string[];
  }
}

/** The writes of `catalog add` into one catalogue; statements are prepared once. */
export class CatalogWriter {
  private nameId;
  private findObjset;
  private newObjset;
  private insName;
  private insCopy;
  private insObject;

  constructor(private catalog: Db) {
    this.nameId = catalog.prepare('INSERT INTO names (name) VALUES (?) ON CONFLICT (name) DO UPDATE SET name = name RETURNING id').pluck();
    this.findObjset = catalog.prepare('SELECT id FROM objsets WHERE hash = ?').pluck();
    this.newObjset = catalog.prepare('INSERT INTO objsets (hash) VALUES (?)');
    this.insName = catalog.prepare('INSERT INTO objset_names VALUES (?, ?, ?)');
    this.insCopy = catalog.prepare('INSERT INTO objset_copies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.insObject = catalog.prepare('INSERT INTO build_objects VALUES (?, ?, ?)');
  }

  /** Removes the build of that identity and its objects (not its objsets: see pruneObjsets); whether there was one. */
  removeBuild(identity: string): boolean {
    const old = this.catalog.prepare('SELECT id FROM builds WHERE identity = ?').pluck().get(identity) as number | undefined;
    if (old === undefined) return false;
    this.catalog.prepare('DELETE FROM build_objects WHERE build_id = ?').run(old);
    this.catalog.prepare('DELETE FROM builds WHERE id = ?').run(old);
    return true;
  }

  addBuild(b: BuildIdentity, identity: string, source: string, objects: number): number {
    return Number(this.catalog.prepare('INSERT INTO builds (release, flavour, arch, build_id, identity, source, objects) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(b.release, b.flavour, b.arch, b.build_id, identity, source, objects).lastInsertRowid);
  }

  /** The objset stored under `hash`, or undefined. */
  objset(hash: string): number | undefined {
    return this.findObjset.get(hash) as number | undefined;
  }

  /** A new objset: its hash, then each name with its copy count and, for 2+ copies, the copies. */
  addObjset(hash: string, groups: readonly [string, KallsymsCopy[]][]): number {
    const objset = Number(this.newObjset.run(hash).lastInsertRowid);
    for (const [name, cs] of groups) {
      const n = this.nameId.get(name) as number;
      this.insName.run(objset, n, cs.length);
      if (cs.length > 1) for (const c of cs) this.insCopy.run(objset, n, c.rank, c.alias, c.decl_file, c.decl_line, c.unit, c.section, c.letter);
    }
    return objset;
  }

  addObject(build: number, objname: string, objset: number): void {
    this.insObject.run(build, objname, objset);
  }

  /** Drops the objsets no build uses any more (a replaced build's changed objects). */
  pruneObjsets(): void {
    this.catalog.exec(`DELETE FROM objset_copies WHERE objset_id NOT IN (SELECT objset_id FROM build_objects);
      DELETE FROM objset_names WHERE objset_id NOT IN (SELECT objset_id FROM build_objects);
      DELETE FROM objsets WHERE id NOT IN (SELECT objset_id FROM build_objects);`);
  }
}
