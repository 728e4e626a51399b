/**
 * Where the index is, one rule for every command: `--db FILE`, else `$KSYMTREE_DB`, else `<tree>/ksymtree.db`
 * (beside depmod's files; the running kernel's tree without a TREE) when the tree is a writable directory,
 * else `./ksymtree.db`. Readers look at `<tree>/ksymtree.db` then `./ksymtree.db` and say where they looked.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { FatalError } from '../errors.js';
import { installedTree, runningKernelInputs } from '../tree/running-kernel.js';

export const DB_ENV = 'KSYMTREE_DB';

const DB_NAME = 'ksymtree.db';

/** The `--db` help of every command that reads an index. */
export const DB_HELP = `index file (default: $${DB_ENV}, else <running kernel's tree>/${DB_NAME}, else ./${DB_NAME})`;
/** The `--db` help of `index`, which writes one. */
export const WRITE_DB_HELP = `index to write (default: $${DB_ENV}, else <tree>/${DB_NAME} when writable, else ./${DB_NAME})`;
/** The `--db` help of `apply` and `verify`, which read the index of their TREE. */
export const TREE_DB_HELP = `index (default: $${DB_ENV}, else <tree>/${DB_NAME} when it exists, else ./${DB_NAME})`;

function explicitPath(db: string | undefined): string | null {
  if (db) return resolve(db);
  const env = process.env[DB_ENV];
  return env ? resolve(env) : null;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The index `ksymtree index` writes for these trees (the first one counts). */
export function indexPathToWrite(db: string | undefined, trees: readonly string[]): string {
  const given = explicitPath(db);
  if (given) return given;
  const first = trees[0];
  if (first && isDirectory(first)) {
    try {
      accessSync(first, constants.W_OK);
      return resolve(first, DB_NAME);
    } catch {
      // read-only tree (a system /lib/modules as a user): the working directory
    }
  }
  return resolve(DB_NAME);
}

/**
 * The index a query reads: `--db`/`$KSYMTREE_DB` as given (opening it reports a missing file), else the
 * first that exists of `<tree>/ksymtree.db` (TREE, or the running kernel's tree) and `./ksymtree.db`.
 */
export function indexPathToRead(db: string | undefined, tree?: string): string {
  const given = explicitPath(db);
  if (given) return given;
  const base = tree ?? runningKernelInputs()?.trees[0] ?? installedTree();
  const candidates = [...new Set([resolve(base, DB_NAME), resolve(DB_NAME)])];
  const found = candidates.find((c) => existsSync(c));
  if (found) return found;
  throw new FatalError(`no index found: looked at ${candidates.join(' and ')} (--db and ${DB_ENV} not given); `
    + 'build one with `ksymtree index [TREE]`, or give --db FILE');
}
