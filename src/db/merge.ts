// The end of pass 1 and 2's writing: the workers' shards become the index's rows, inserted by SQLite itself
// (INSERT … SELECT) in key order, so the same tree gives the same file however the objects were shared out.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from './db.js';
import { SHARD_TABLES, createScratchDb } from './shard.js';

/** SQLite attaches at most 10 databases (SQLITE_MAX_ATTACHED); one name stays free for the target's own use. */
const ATTACH_AT_ONCE = 8;

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * Inserts every shard's rows into `db`, table by table, in key order. Each shard is sorted by its keys, so
 * SQLite merges the sorted streams (a compound SELECT's ORDER BY) instead of sorting. More shards than can be
 * attached at once are first merged in groups into scratch files in `dir`.
 */
export function mergeShards(db: Db, shards: readonly string[], dir: string): void {
  let files = [...shards];
  for (let level = 0; files.length > ATTACH_AT_ONCE; level++) {
    const groups: string[] = [];
    for (let g = 0; g * ATTACH_AT_ONCE < files.length; g++) {
      const target = join(dir, `merge-${level}-${g}.db`);
      const scratch = createScratchDb(target);
      try {
        insertMerged(scratch, files.slice(g * ATTACH_AT_ONCE, (g + 1) * ATTACH_AT_ONCE));
      } finally {
        scratch.close();
      }
      groups.push(target);
    }
    if (level > 0) for (const f of files) rmSync(f, { force: true });
    files = groups;
  }
  insertMerged(db, files);
}

function insertMerged(db: Db, files: readonly string[]): void {
  if (!files.length) return;
  const names = files.map((_, i) => `shard${i}`);
  files.forEach((f, i) => db.exec(`ATTACH ${quote(f)} AS ${names[i]}`));
  try {
    db.exec('BEGIN');
    for (const { table, key } of SHARD_TABLES) {
      const arms = names.map((n) => `SELECT * FROM ${n}.${table}`).join(' UNION ALL ');
      db.exec(`INSERT INTO main.${table} ${arms} ORDER BY ${key}`);
    }
    db.exec('COMMIT');
  } finally {
    for (const n of names) db.exec(`DETACH ${n}`);
  }
}
