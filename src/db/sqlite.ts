// Opens SQLite files with the better-sqlite3 this Node can run: 13 (Node-API) on Node 22 and later, 12 on
// Node 20, which 13 does not support. Every index and lock file is opened here.
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { FatalError } from '../errors.js';

export type Database = BetterSqlite3.Database;

/**
 * The package that provides better-sqlite3 here. better-sqlite3 12 derives its statements from
 * node::ObjectWrap, whose destructor, as compiled from Node 24.19's headers on, aborts the process when a
 * garbage collection finalizes a statement (`RemoveEnvironmentCleanupHook: (env) != nullptr`,
 * WiseLibs/better-sqlite3#1515, nodejs/node#65446); 13 uses Node-API and needs Node 22. package.json has 12
 * as `better-sqlite3` and 13 as the optional `better-sqlite3-napi`, which npm leaves out on Node 20.
 */
export const SQLITE_PACKAGE = Number(process.versions.node.split('.')[0]) >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3';

let constructor: typeof BetterSqlite3 | undefined;

function load(): typeof BetterSqlite3 {
  try {
    return createRequire(import.meta.url)(SQLITE_PACKAGE) as typeof BetterSqlite3;
  } catch (e) {
    if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
    throw new FatalError(`${SQLITE_PACKAGE} is not installed for Node ${process.version}: run \`npm ci\` with this node`);
  }
}

/** new Database(path, options) of the better-sqlite3 this Node runs. */
export function openDatabase(path: string, options?: BetterSqlite3.Options): Database {
  constructor ??= load();
  return new constructor(path, options);
}
