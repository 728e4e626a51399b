import { closeSync, fchmodSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { processAlive } from './process.js';

/** A temporary name beside `path`, so that the final rename stays on one file system. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
}

/**
 * Temporary files of `path` left by runs that were killed outright (SIGKILL, power loss): their process is
 * gone. SQLite's own files (`-journal`, `-wal`, `-shm`) of a killed index go with it, and the directory of
 * its workers' shards (`-shards`).
 */
export function removeStaleTemps(path: string): void {
  const prefix = basename(tempPathFor(path)).replace(/\d+$/, '');
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return; // an unreadable directory: the write itself will say what is wrong
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)(?:-journal|-wal|-shm|-shards)?$/.exec(name.slice(prefix.length))?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) rmSync(join(dirname(path), name), { recursive: true, force: true });
  }
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` by `tmp`, durably: the file's data, then the rename itself in its directory. */
export function commitTemp(tmp: string, path: string): void {
  fsyncPath(tmp);
  renameSync(tmp, path);
  try {
    fsyncPath(dirname(path));
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  }
}

/**
 * Writes `data` to `path` so that readers see either the old file or the complete new one. `finish` runs on
 * the new file's descriptor before it is committed (apply uses it to give the file the old one's metadata).
 */
export function writeFileAtomic(path: string, data: string | Buffer, finish?: (fd: number) => void): void {
  removeStaleTemps(path);
  const tmp = tempPathFor(path);
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done);
      if (finish) finish(fd);
      else fchmodSync(fd, 0o666 & ~process.umask());
    } finally {
      closeSync(fd);
    }
    commitTemp(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
