/** The catalogue file (catalog.sql beside schema.sql): created on first `catalog add`, refused when its schema differs. */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FatalError } from '../errors.js';
import { type Db, userVersion } from './db.js';
import { openDatabase } from './sqlite.js';

const CATALOG_SQL = fileURLToPath(new URL('../../../catalog.sql', import.meta.url));

function checkVersion(db: Db, path: string, want: number): void {
  let found: number;
  try {
    found = db.pragma('user_version', { simple: true }) as number;
  } catch (e) {
    db.close();
    throw new FatalError(`cannot read catalogue ${path}: ${(e as Error).message}`);
  }
  if (found !== want) {
    db.close();
    throw new FatalError(`catalogue ${path} has schema version ${found}, this ksymtree reads version ${want}: build a new one with \`ksymtree catalog add\``);
  }
}

/** Opens (creating when absent) a catalogue for `catalog add`. */
export function openCatalogForWrite(path: string): Db {
  const sql = readFileSync(CATALOG_SQL, 'utf8');
  const fresh = !existsSync(path);
  const db = openDatabase(path);
  db.pragma('synchronous = FULL');
  if (fresh) db.exec(sql);
  else checkVersion(db, path, userVersion(sql, CATALOG_SQL));
  return db;
}

export function openCatalog(path: string): Db {
  let db: Db;
  try {
    db = openDatabase(path, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new FatalError(`cannot open catalogue ${path}: ${(e as Error).message} (make one with \`ksymtree catalog add\`)`);
  }
  checkVersion(db, path, userVersion(readFileSync(CATALOG_SQL, 'utf8'), CATALOG_SQL));
  return db;
}
