// How the workers' shards become the index's rows: each object's rows are copied by SQLite itself
// (INSERT … SELECT) from the shard that holds them, in object id order, while the other objects are still being
// scanned; the same tree gives the same file however the objects were shared out among the workers.
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import { PASS1_TABLES, SITES_KEY } from './shard.js';

/** SQLite attaches at most 10 databases (SQLITE_MAX_ATTACHED); one name stays free for the target's own use. */
const ATTACH_AT_ONCE = 8;

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** A shard attached to the index's connection, with its copy statements (object id → rows). */
interface Attached {
  readonly name: string;
  readonly pass1: readonly Statement[];
  readonly sites: Statement;
}

/**
 * Copies the rows of each object into `db` once it and every object of a lower id are scanned, so the copy
 * runs beside the scan and rows arrive in key order (object id, then idx/pos as each shard holds them). The
 * sites come later (pass 2) and are copied at the end, also by object id. Shards are attached as needed,
 * at most ATTACH_AT_ONCE at a time. Foreign keys are off meanwhile: the objects rows come last.
 */
export class ShardMerge {
  /** Attached shards by file, least recently used first. */
  private attached = new Map<string, Attached>();
  /** Scanned objects not yet copied: id → its shard (null: the object has no rows). */
  private scanned = new Map<number, string | null>();
  /** id → the shard holding the object's sites. */
  private siteShards = new Map<number, string>();
  private next = 1;

  constructor(private db: Db) {
    db.pragma('foreign_keys = OFF');
  }

  /** Object `id` is scanned and its rows (if any) are committed in `shard`; copies every object now ready. */
  objectScanned(id: number, shard: string | null): void {
    this.scanned.set(id, shard);
    const ready: { id: number; file: string }[] = [];
    for (; this.scanned.has(this.next); this.next++) {
      const file = this.scanned.get(this.next)!;
      this.scanned.delete(this.next);
      if (file) ready.push({ id: this.next, file });
    }
    this.copy(ready, (a) => a.pass1);
  }

  /** The sites of object `id` are committed in `shard`. */
  sitesFound(id: number, shard: string): void {
    this.siteShards.set(id, shard);
  }

  /** Copies the sites and detaches the shards; every object must have been reported scanned. */
  finish(): void {
    if (this.scanned.size) throw new Error(`objects ${[...this.scanned.keys()].join(', ')} scanned but never copied (object ${this.next} missing)`);
    const sites = [...this.siteShards].sort((a, b) => a[0] - b[0]).map(([id, file]) => ({ id, file }));
    this.copy(sites, (a) => [a.sites]);
    for (const file of [...this.attached.keys()]) this.detach(file);
    this.db.pragma('foreign_keys = ON');
  }

  /**
   * Objects' rows in id order, in one transaction per run of at most ATTACH_AT_ONCE shards (SQLite refuses
   * ATTACH and DETACH inside a transaction, so the shards are attached first). A shard's read snapshot lasts
   * as long as the transaction that reads it: the next copy sees what the workers committed since. How many
   * transactions there were shows only in the file header's change counter, which `normalizeHeader` fixes.
   */
  private copy(objects: readonly { id: number; file: string }[], statements: (a: Attached) => readonly Statement[]): void {
    for (let start = 0; start < objects.length;) {
      const files = new Set<string>();
      let end = start;
      while (end < objects.length && (files.has(objects[end].file) || files.size < ATTACH_AT_ONCE)) files.add(objects[end++].file);
      for (const f of files) this.shard(f);
      this.db.exec('BEGIN');
      for (let k = start; k < end; k++) for (const s of statements(this.shard(objects[k].file))) s.run(objects[k].id);
      this.db.exec('COMMIT');
      start = end;
    }
  }

  /** The shard `file`, attached (the least recently used one detached when ATTACH_AT_ONCE are). */
  private shard(file: string): Attached {
    const known = this.attached.get(file);
    if (known) {
      // Map order is recency order: the first key is the least recently used shard.
      this.attached.delete(file);
      this.attached.set(file, known);
      return known;
    }
    if (this.attached.size >= ATTACH_AT_ONCE) this.detach(this.attached.keys().next().value!);
    const used = new Set([...this.attached.values()].map((a) => a.name));
    let k = 0;
    while (used.has(`shard${k}`)) k++;
    const name = `shard${k}`;
    this.db.exec(`ATTACH ${quote(file)} AS ${name}`);
    const copy = (table: string, key: string) =>
      this.db.prepare(`INSERT INTO main.${table} SELECT * FROM ${name}.${table} WHERE object_id = ? ORDER BY ${key}`);
    const attached: Attached = { name, pass1: PASS1_TABLES.map(({ table, key }) => copy(table, key)), sites: copy('sites', SITES_KEY) };
    this.attached.set(file, attached);
    return attached;
  }

  private detach(file: string): void {
    const { name } = this.attached.get(file)!;
    this.attached.delete(file);
    this.db.exec(`DETACH ${name}`);
  }
}
