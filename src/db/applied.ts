// The index as `apply` and `verify` use it: the objects to rewrite with their aliases, the index opened for
// writing, and the `applied` table that records each rewritten file (path, hashes) as soon as it is written.
import { FatalError } from '../errors.js';
import { openDatabase } from './sqlite.js';
import { type Db, openIndexDb, schemaVersion } from './db.js';

/** An indexed object as apply and verify need it. */
export interface ApplyObject {
  id: number;
  path: string;
  kind: 'vmlinux' | 'module';
  build_id: string | null;
}

/** One alias to add to a module's .symtab: the symbol it names (index, name) and the alias. */
export interface AliasToApply { idx: number; alias: string; name: string }

/** One file apply rewrote, as recorded: its path (the real path), the object, alias count, compression, hashes. */
export interface AppliedFile {
  path: string; objectId: number; aliasCount: number; compression: string; signature: string; originalSha256: string; newSha256: string;
}

/** The index opened read-write, with the usual messages when it is missing or of another schema. */
export function openIndexForWriting(path: string): Db {
  openIndexDb(path).close(); // existence and schema version, with the usual messages
  const db = openDatabase(path, { fileMustExist: true });
  if (db.pragma('user_version', { simple: true }) !== schemaVersion()) throw new FatalError(`index ${path} changed schema while opening it`);
  db.pragma('busy_timeout = 10000');
  return db;
}

/** Every object that was read (fully or partly), in id order. */
export function readObjects(db: Db): ApplyObject[] {
  return db.prepare("SELECT id, path, kind, build_id FROM objects WHERE status != 'failed' ORDER BY id").all() as ApplyObject[];
}

/** The paths of every indexed module, in id order. */
export function modulePaths(db: Db): string[] {
  return db.prepare("SELECT path FROM objects WHERE kind = 'module' ORDER BY id").pluck().all() as string[];
}

/** The modules that were read and have aliases: the ones verify checks, in id order. */
export function modulesWithAliases(db: Db): ApplyObject[] {
  return db.prepare(`SELECT id, path, kind, build_id FROM objects WHERE kind = 'module' AND status != 'failed'
      AND id IN (SELECT object_id FROM aliases) ORDER BY id`).all() as ApplyObject[];
}

/** Every object's aliases, in .symtab order. */
export function aliasesToApply(db: Db): Map<number, AliasToApply[]> {
  const rows = db.prepare(`SELECT a.object_id AS id, a.idx AS idx, a.alias AS alias, s.name AS name
    FROM aliases a JOIN symbols s ON s.object_id = a.object_id AND s.idx = a.idx ORDER BY a.object_id, a.idx`).all() as
    { id: number; idx: number; alias: string; name: string }[];
  const byObject = new Map<number, AliasToApply[]>();
  for (const r of rows) {
    let list = byObject.get(r.id);
    if (!list) byObject.set(r.id, (list = []));
    list.push({ idx: r.idx, alias: r.alias, name: r.name });
  }
  return byObject;
}

/** The `applied` rows by path: what apply wrote there. */
export function appliedFiles(db: Db): Map<string, { path: string; new_sha256: string; alias_count: number }> {
  return new Map((db.prepare('SELECT path, new_sha256, alias_count FROM applied').all() as
    { path: string; new_sha256: string; alias_count: number }[]).map((r) => [r.path, r]));
}

/** Writes to the `applied` table, one row at a time (each its own transaction); statements prepared once. */
export class AppliedTable {
  private upsert;
  private remove;

  constructor(db: Db) {
    this.upsert = db.prepare(`INSERT OR REPLACE INTO applied (path, object_id, alias_count, compression, signature, original_sha256, new_sha256, recorded_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    this.remove = db.prepare('DELETE FROM applied WHERE path = ?');
  }

  record(f: AppliedFile, recordedAt: string): void {
    this.upsert.run(f.path, f.objectId, f.aliasCount, f.compression, f.signature, f.originalSha256, f.newSha256, recordedAt);
  }

  forget(path: string): void {
    this.remove.run(path);
  }
}
