// Exclusive run locks: one ksymtree run at a time writes an index and the modules it describes.
import Database from 'better-sqlite3';
import { FatalError } from '../errors.js';

export interface Lock {
  release(): void;
}

/**
 * Takes the lock file `path` for `what` (an index or tree path, for the message). The lock is SQLite's
 * exclusive lock on that (empty) file, an fcntl lock the kernel drops when the process ends however it ends:
 * a run killed with SIGKILL leaves nothing stale. A lock held by another run is a clear error, never a wait
 * of unknown length. The file itself stays (removing it would let two runs lock two different inodes).
 */
export function acquireLock(path: string, what: string): Lock {
  let db: Database.Database | null = null;
  try {
    db = new Database(path, { timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (e) {
    db?.close();
    const code = (e as { code?: string }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      throw new FatalError(`another ksymtree run is writing ${what} (it holds ${path}): wait for it to finish, then run again`);
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
