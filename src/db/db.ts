// The index file: schema.sql (its tables, then its `-- @indexes` part after the bulk load), a fresh index
// created for writing, an existing one opened for reading and refused when its schema version differs.
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FatalError } from '../errors.js';
import { type Database, openDatabase } from './sqlite.js';

export type Db = Database;

/** schema.sql sits at the package root, two levels above src/db (and dist/src/db). */
const SCHEMA_PATH = fileURLToPath(new URL('../../../schema.sql', import.meta.url));

let schemaText: string | null = null;
export function schemaSql(): string {
  schemaText ??= readFileSync(SCHEMA_PATH, 'utf8');
  return schemaText;
}

const INDEXES_MARKER = '-- @indexes';

/** The tables part of schema.sql (run on creation) or its indexes part (run after the bulk load). */
export function schemaPart(part: 'tables' | 'indexes'): string {
  const [tables, indexes = ''] = schemaSql().split(INDEXES_MARKER);
  return part === 'tables' ? tables : indexes;
}

/** The schema version a schema file (read from `path`) sets with `PRAGMA user_version`. */
export function userVersion(sql: string, path: string): number {
  const m = /PRAGMA\s+user_version\s*=\s*(\d+)/i.exec(sql);
  if (!m) throw new Error(`${path} sets no user_version`);
  return Number(m[1]);
}

export function schemaVersion(): number {
  return userVersion(schemaSql(), SCHEMA_PATH);
}

/** A fresh index being built. Durability does not matter until the final rename, so journaling is off. */
export function createIndexDb(path: string): Db {
  const db = openDatabase(path);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -65536');
  db.exec(schemaPart('tables'));
  return db;
}

/**
 * Makes a closed index file independent of how its writes were batched: SQLite counts write transactions in
 * the header (file change counter, offset 24) and stamps the count as valid for the in-header page count
 * (offset 92). The rows were inserted in one fixed order, but the copies were committed as the workers
 * finished: both fields are set to 1, which keeps them equal, so the same tree gives the same file.
 */
export function normalizeHeader(path: string): void {
  const one = Buffer.from([0, 0, 0, 1]);
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, one, 0, 4, 24);
    writeSync(fd, one, 0, 4, 92);
  } finally {
    closeSync(fd);
  }
}

/** Opens an existing index for reading and refuses one written by another schema version. */
export function openIndexDb(path: string): Db {
  rollBackHotJournal(path);
  let db: Db;
  try {
    db = openDatabase(path, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new FatalError(`cannot open index ${path}: ${(e as Error).message} (build one with \`ksymtree index\`)`);
  }
  let found: number;
  try {
    found = db.pragma('user_version', { simple: true }) as number;
  } catch (e) {
    db.close();
    throw new FatalError(`cannot read index ${path}: ${(e as Error).message} (build one with \`ksymtree index\`)`);
  }
  const want = schemaVersion();
  if (found !== want) {
    db.close();
    throw new FatalError(`index ${path} has schema version ${found}, this ksymtree reads version ${want}: re-run \`ksymtree index\` to rebuild it`);
  }
  return db;
}

/**
 * A run killed while writing the index (apply recording a module) leaves a hot rollback journal, which a
 * read-only connection cannot roll back (SQLITE_READONLY_ROLLBACK). One read-write open rolls it back;
 * when that is not allowed either, the read-only open below reports the problem.
 */
function rollBackHotJournal(path: string): void {
  if (!existsSync(`${path}-journal`)) return;
  try {
    const db = openDatabase(path, { fileMustExist: true });
    try {
      db.pragma('user_version', { simple: true });
    } finally {
      db.close();
    }
  } catch {
    // not writable here: left to the read-only open
  }
}
