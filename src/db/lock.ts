// Exclusive run locks: one ksymtree run at a time writes an index and the modules it describes.
import { FatalError } from '../errors.js';
import { type Database, openDatabase } from './sqlite.js';

export interface Lock {
  release(): void;
}

/** How long a run waits for another to finish (KSYMTREE_LOCK_TIMEOUT seconds, default 10 minutes). */
function waitMs(): number {
  const s = Number(process.env.KSYMTREE_LOCK_TIMEOUT);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : 600_000;
}

/**
 * Takes the lock file `path` for `what` (an index path, for the messages). The lock is SQLite's exclusive
 * lock on that (empty) file, an fcntl lock the kernel drops when the process ends however it ends: a run
 * killed with SIGKILL leaves nothing stale. A lock held by another run is waited for (saying so on stderr),
 * up to KSYMTREE_LOCK_TIMEOUT seconds, then a clear error. The file itself stays (removing it would let two
 * runs lock two different inodes).
 */
export function acquireLock(path: string, what: string): Lock {
  let db: Database | null = null;
  const busy = (e: unknown) => ['SQLITE_BUSY', 'SQLITE_LOCKED'].includes((e as { code?: string }).code ?? '');
  try {
    db = openDatabase(path, { timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    try {
      db.exec('BEGIN EXCLUSIVE');
    } catch (e) {
      const wait = waitMs();
      if (!busy(e) || wait === 0) throw e;
      process.stderr.write(`ksymtree: waiting for another ksymtree run to finish writing ${what} (it holds ${path})\n`);
      db.pragma(`busy_timeout = ${wait}`);
      db.exec('BEGIN EXCLUSIVE');
    }
  } catch (e) {
    db?.close();
    if (busy(e)) {
      throw new FatalError(`another ksymtree run is writing ${what} (it holds ${path}): it did not finish within `
        + `${waitMs() / 1000} s (KSYMTREE_LOCK_TIMEOUT); run again when it has`);
    }
    throw new FatalError(`cannot take the lock ${path} for ${what}: ${(e as Error).message}`);
  }
  let held = true;
  return {
    release: () => {
      if (!held) return;
      held = false;
      db!.close();
    },
  };
}
