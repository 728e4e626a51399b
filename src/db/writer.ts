// The main thread's side of writing an index: the workers' rows copied object by object as the scan goes
// (merge.ts), then the objects table, the error rows and the run's metadata in a fixed order at the end. The
// same tree gives the same file, byte for byte, whatever order the workers finished in.
import type { IndexedObject, ScanError } from '../scan/result.js';
import type { Db } from './db.js';
import { schemaPart } from './db.js';
import { ShardMerge } from './merge.js';

export interface DebugLink {
  readonly path: string | null;
  readonly pairing: 'self' | 'build-id' | 'path' | null;
}

interface ErrorRow {
  readonly objectId: number | null;
  readonly path: string;
  readonly error: ScanError;
}

export class IndexWriter {
  private objects = new Map<number, { o: IndexedObject; debug: DebugLink }>();
  /** Errors by the object they belong to (index 0: errors of no object), each list in the order it was met. */
  private errors = new Map<number, ErrorRow[]>();
  errorCount = 0;
  symbolCount = 0;

  private merge: ShardMerge;

  constructor(private db: Db) {
    this.merge = new ShardMerge(db);
  }

  addObject(id: number, o: IndexedObject, debug: DebugLink): void {
    this.objects.set(id, { o, debug });
    this.merge.objectScanned(id, o.shard);
    for (const err of o.errors) this.addError(id, o.path, err);
    this.symbolCount += o.elf?.symbolCount ?? 0;
  }

  addError(objectId: number | null, path: string, error: ScanError): void {
    const key = objectId ?? 0;
    let list = this.errors.get(key);
    if (!list) this.errors.set(key, (list = []));
    list.push({ objectId, path, error });
    this.errorCount++;
  }

  /** The sites of object `id` are rows of `shard`. */
  addSites(id: number, shard: string): void {
    this.merge.sitesFound(id, shard);
  }

  setDebugLink(objectId: number, link: DebugLink): void {
    const entry = this.objects.get(objectId);
    if (entry) entry.debug = link;
  }

  /**
   * Ends pass 1 and the sites: the shards' rows not yet copied (the sites), then the objects, then the errors,
   * each in key order; then the indexes that the alias pass and the queries use.
   */
  finishRows(): void {
    this.merge.finish();
    const insertObject = this.db.prepare(`INSERT INTO objects (id, path, kind, status, module_name, vermagic, depends, build_id,
      elf_class, endian, machine, elf_type, compression, signed, debug_path, debug_pairing, size, mtime_ms, kallsyms_source, symbol_count)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const id of [...this.objects.keys()].sort((a, b) => a - b)) {
        const { o, debug } = this.objects.get(id)!;
        const e = o.elf;
        const status = !e ? 'failed' : o.errors.length ? 'partial' : 'ok';
        insertObject.run(id, o.path, o.kind, status, e?.moduleName ?? null, e?.vermagic ?? null, e?.depends ?? null,
          e?.buildId ?? null, e?.elfClass ?? null, e?.endian ?? null, e?.machine ?? null, e?.elfType ?? null, o.compression,
          e?.signed ? 1 : 0, debug.path, debug.pairing, o.size, o.mtimeMs, e?.kallsymsSource ?? null, e?.symbolCount ?? 0);
      }
    })();
    const insertError = this.db.prepare('INSERT INTO errors (object_id, path, offset, kind, message) VALUES (?, ?, ?, ?, ?)');
    const order = [...this.errors.keys()].sort((a, b) => (a || Infinity) - (b || Infinity));
    this.db.transaction(() => {
      for (const key of order) {
        for (const r of this.errors.get(key)!) insertError.run(r.objectId, r.path, r.error.offset, r.error.kind, r.error.message);
      }
    })();
    this.db.exec(schemaPart('indexes'));
  }

  setMeta(entries: Record<string, string>): void {
    const put = this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    this.db.transaction(() => {
      for (const [k, v] of Object.entries(entries)) put.run(k, v);
    })();
  }
}
