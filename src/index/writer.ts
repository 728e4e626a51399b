import type { Statement } from 'better-sqlite3';
import type { KallsymsColumns, ScanError, ScannedObject } from '../scan/result.js';
import type { Site } from '../sites/types.js';
import { type Db, schemaPart } from './db.js';

export interface DebugLink {
  readonly path: string | null;
  readonly pairing: 'self' | 'build-id' | 'path' | null;
}

/**
 * The single writer of an index under construction. Rows go through prepared statements inside
 * large transactions; a commit every ROWS_PER_TRANSACTION rows keeps SQLite's page cache bounded.
 */
export class IndexWriter {
  private static readonly ROWS_PER_TRANSACTION = 250_000;
  private insertObject: Statement;
  private insertSection: Statement;
  private insertSymbol: Statement;
  private insertError: Statement;
  private setDebug: Statement;
  private insertSite: Statement;
  private insertEntry: Statement;
  private rowsInTransaction = 0;
  errorCount = 0;
  symbolCount = 0;

  constructor(private db: Db) {
    this.insertObject = db.prepare(`INSERT INTO objects (id, path, kind, status, module_name, vermagic, depends, build_id,
      elf_class, endian, machine, elf_type, compression, signed, debug_path, debug_pairing, size, mtime_ms, kallsyms_source, symbol_count)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insertSection = db.prepare('INSERT INTO sections VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.insertSymbol = db.prepare('INSERT INTO symbols VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.insertError = db.prepare('INSERT INTO errors (object_id, path, offset, kind, message) VALUES (?, ?, ?, ?, ?)');
    this.setDebug = db.prepare('UPDATE objects SET debug_path = ?, debug_pairing = ? WHERE id = ?');
    this.insertEntry = db.prepare('INSERT INTO kallsyms_entries VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.insertSite = db.prepare('INSERT INTO sites (object_id, idx, decl_file, decl_line, unit, source) VALUES (?, ?, ?, ?, ?, ?)');
    db.exec('BEGIN');
  }

  addObject(id: number, o: ScannedObject, debug: DebugLink): void {
    const e = o.elf;
    const status = !e ? 'failed' : o.errors.length ? 'partial' : 'ok';
    this.insertObject.run(id, o.path, o.kind, status, e?.moduleName ?? null, e?.vermagic ?? null, e?.depends ?? null,
      e?.buildId ?? null, e?.elfClass ?? null, e?.endian ?? null, e?.machine ?? null, e?.elfType ?? null, o.compression,
      e?.signed ? 1 : 0, debug.path, debug.pairing, o.size, o.mtimeMs, e?.kallsymsSource ?? null, e?.symbols.count ?? 0);
    for (const err of o.errors) this.addError(id, o.path, err);
    if (!e) return;
    const sec = e.sections;
    for (let i = 0; i < sec.names.length; i++) {
      this.insertSection.run(id, i, sec.names[i], sec.type[i], sec.flags[i], sec.addr.substr(i * 16, 16), sec.size[i]);
    }
    const s = e.symbols;
    let start = 0;
    for (let i = 0; i < s.count; i++) {
      const end = s.nameEnd[i];
      const info = s.info[i];
      const nm = s.nmLetters[i];
      const ks = s.kallsymsLetters[i];
      this.insertSymbol.run(id, s.index[i], s.names.slice(start, end), s.values.substr(i * 16, 16), s.size[i],
        info & 0xf, info >> 4, s.other[i], s.shndx[i], nm === ' ' ? null : nm, ks === ' ' ? null : ks, s.sympos[i] || null,
        s.ftrace[i] === 0 ? null : s.ftrace[i] === 1 ? 1 : 0);
      start = end;
    }
    this.symbolCount += s.count;
    if (e.kallsyms) this.addKallsymsEntries(id, e.kallsyms);
    this.rowsInTransaction += s.count + sec.names.length + 1;
    if (this.rowsInTransaction >= IndexWriter.ROWS_PER_TRANSACTION) {
      this.db.exec('COMMIT; BEGIN');
      this.rowsInTransaction = 0;
    }
  }

  private addKallsymsEntries(id: number, k: KallsymsColumns): void {
    let start = 0;
    for (let i = 0; i < k.count; i++) {
      const idx = k.symbolIndex[i];
      this.insertEntry.run(id, i, k.names.slice(start, k.nameEnd[i]), k.letters[i], k.addresses.substr(i * 16, 16), idx >= 0 ? idx : null, k.sympos[i]);
      start = k.nameEnd[i];
    }
    this.rowsInTransaction += k.count;
  }

  addError(objectId: number | null, path: string, err: ScanError): void {
    this.insertError.run(objectId, path, err.offset, err.kind, err.message);
    this.errorCount++;
  }

  setDebugLink(objectId: number, link: DebugLink): void {
    this.setDebug.run(link.path, link.pairing, objectId);
  }

  setMeta(entries: Record<string, string>): void {
    const put = this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    for (const [k, v] of Object.entries(entries)) put.run(k, v);
  }

  /** Ends pass 1: commits the rows and builds the indexes pass 2 queries with. */
  finishScan(): void {
    this.db.exec('COMMIT');
    this.db.exec(schemaPart('indexes'));
    this.db.exec('BEGIN');
  }

  addSites(objectId: number, sites: readonly Site[]): void {
    for (const s of sites) this.insertSite.run(objectId, s.symtabIndex, s.declFile, s.declLine, s.unit, s.source);
  }

  finish(): void {
    this.db.exec('COMMIT');
  }
}
