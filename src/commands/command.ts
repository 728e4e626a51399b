// The one shape of every command: a function of its arguments and options that writes through one Output
// (stdout or `-o FILE`, notes on stderr) and returns a CommandResult; a FatalError ends it with exit 2.
import type { Db } from '../db/db.js';
import { openIndexDb } from '../db/db.js';
import { indexPathToRead } from '../db/location.js';
import type { Output } from '../io/output.js';

/** Exit codes: 0 everything done, 1 some part not done (each named on stderr, the rest done), 2 usage or fatal. */
export const EXIT_OK = 0;
export const EXIT_INCOMPLETE = 1;
export const EXIT_FATAL = 2;

export interface CommandResult {
  readonly exitCode: typeof EXIT_OK | typeof EXIT_INCOMPLETE;
}

/** The result of a command: exit 1 when some part of it could not be done. */
export function finished(incomplete = false): CommandResult {
  return { exitCode: incomplete ? EXIT_INCOMPLETE : EXIT_OK };
}

/** Opens the index named by --db (or the default rule, when undefined) for the time of `use`. */
export async function withIndex<T>(given: string | undefined, use: (db: Db, path: string) => T | Promise<T>): Promise<T> {
  const path = indexPathToRead(given);
  const db = openIndexDb(path);
  try {
    return await use(db, path);
  } finally {
    db.close();
  }
}

export type TextOrJson = 'text' | 'json';

/** Text lines, or the records as one JSON array (an object for stats), like `aliases --format json`. */
export function writeRecords<T>(out: Output, format: TextOrJson, records: T, text: () => string[]): void {
  if (format === 'json') return out.write(`${JSON.stringify(records, null, 1)}\n`);
  const lines = text();
  if (lines.length) out.write(`${lines.join('\n')}\n`);
}
