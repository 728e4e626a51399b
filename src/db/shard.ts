// A worker thread's own SQLite file while `index` runs: the rows of each object the thread scans (sections,
// symbols, vmlinux's kallsyms entries) and of the sites it finds. Workers write their shards in parallel; the
// main thread merges them into the index in key order (merge.ts).
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { Statement } from 'better-sqlite3';
import type { KallsymsColumns, ScannedElf } from '../scan/result.js';
import type { Site } from '../sites/types.js';
import { type Db, createIndexDb } from './db.js';

/** The file a shard of this thread has in `dir` (a directory of the index being built). */
function shardFile(dir: string): string {
  return join(dir, `shard-${threadId}.db`);
}

/** The pass-1 tables whose rows the workers write, each with its key: the order the merge copies them in. */
export const PASS1_TABLES: readonly { readonly table: string; readonly key: string }[] = [
  { table: 'sections', key: 'object_id, idx' },
  { table: 'symbols', key: 'object_id, idx' },
  { table: 'kallsyms_entries', key: 'object_id, pos' },
];

/** The key of pass 2's table, `sites`. */
export const SITES_KEY = 'object_id, idx';

/**
 * A fresh shard: the index's tables, no durability (it lives only until the merge), and a write-ahead log so
 * that the main thread reads the objects already committed while this thread writes the next.
 */
function createShardDb(path: string): Db {
  const db = createIndexDb(path);
  db.pragma('journal_mode = WAL');
  // The objects these rows belong to are rows of the index, not of the shard.
  db.pragma('foreign_keys = OFF');
  return db;
}

/** One thread's shard; each object's rows are one transaction, so the merge sees only whole objects. */
export class Shard {
  private static opened = new Map<string, Shard>();
  private insertSection: Statement;
  private insertSymbol: Statement;
  private insertEntry: Statement;
  private insertSite: Statement;

  /** This thread's shard in `dir`, created on first use. */
  static in(dir: string): Shard {
    const file = shardFile(dir);
    let shard = Shard.opened.get(file);
    if (!shard) Shard.opened.set(file, (shard = new Shard(file, createShardDb(file))));
    return shard;
  }

  private constructor(readonly file: string, private db: Db) {
    this.insertSection = db.prepare('INSERT INTO sections VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.insertSymbol = db.prepare('INSERT INTO symbols VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.insertEntry = db.prepare('INSERT INTO kallsyms_entries VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.insertSite = db.prepare('INSERT INTO sites (object_id, idx, decl_file, decl_line, unit, source) VALUES (?, ?, ?, ?, ?, ?)');
  }

  /** The sections, symbols and (vmlinux) kallsyms entries of object `id`. */
  addScanned(id: number, e: ScannedElf): void {
    this.db.exec('BEGIN');
    const sec = e.sections;
    for (let i = 0; i < sec.names.length; i++) {
      this.insertSection.run(id, i, sec.names[i], sec.type[i], sec.flags[i], sec.addr.substr(i * 16, 16), sec.size[i]);
    }
    const s = e.symbols;
    let start = 0;
    for (let i = 0; i < s.count; i++) {
      const end = s.nameEnd[i];
      const nm = s.nmLetters[i];
      const ks = s.kallsymsLetters[i];
      const info = s.info[i];
      this.insertSymbol.run(id, s.index[i], s.names.slice(start, end), s.values.substr(i * 16, 16), s.size[i],
        info & 0xf, info >> 4, s.other[i], s.shndx[i], nm === ' ' ? null : nm, ks === ' ' ? null : ks, s.sympos[i] || null,
        s.ftrace[i] === 0 ? null : s.ftrace[i] === 1 ? 1 : 0);
      start = end;
    }
    if (e.kallsyms) this.addKallsymsEntries(id, e.kallsyms);
    this.db.exec('COMMIT');
  }

  private addKallsymsEntries(id: number, k: KallsymsColumns): void {
    let start = 0;
    for (let i = 0; i < k.count; i++) {
      const idx = k.symbolIndex[i];
      this.insertEntry.run(id, i, k.names.slice(start, k.nameEnd[i]), k.letters[i], k.addresses.substr(i * 16, 16), idx >= 0 ? idx : null, k.sympos[i]);
      start = k.nameEnd[i];
    }
  }

  /** The definition sites found for object `id`. */
  addSites(id: number, sites: readonly Site[]): void {
    this.db.exec('BEGIN');
    for (const s of sites) this.insertSite.run(id, s.symtabIndex, s.declFile, s.declLine, s.unit, s.source);
    this.db.exec('COMMIT');
  }
}
