// The index rows `symbolize` places frames with: the object of a module name, the kallsyms-visible copies of
// names in it, the addresses that bound a symbol as the kernel sizes it, and vmlinux's functions by address.
import type { Db } from './db.js';

/** An object frames can run in, with where its DWARF is. */
export interface IndexedObject {
  readonly id: number;
  readonly path: string;
  readonly kind: 'vmlinux' | 'module';
  readonly module: string | null;
  readonly debugPath: string | null;
  readonly buildId: string | null;
}

/** A symbol a frame may have run in, with its section, sympos and alias. */
export interface SymbolizeSymbol { idx: number; name: string; value: string; size: number; section: string | null; sympos: number | null; alias: string | null }

const OBJECT_COLUMNS = 'id, path, kind, module_name AS module, debug_path AS debugPath, build_id AS buildId';

const symbolColumns = (symbols: string) => `SELECT s.idx, s.name, s.value, s.size, sec.name AS section, s.sympos, a.alias
      FROM ${symbols} LEFT JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx
      LEFT JOIN aliases a ON a.object_id = s.object_id AND a.idx = s.idx`;
const SYMBOL_COLUMNS = symbolColumns('symbols s');

/** The queries of one `symbolize` run; statements are prepared once. */
export class SymbolizeRows {
  private byName;
  private byNames;
  private kallsymsAddresses;

  constructor(private db: Db) {
    this.byName = db.prepare(`${SYMBOL_COLUMNS}
      WHERE s.name = ? AND s.object_id = ? AND s.ks_letter IS NOT NULL ORDER BY coalesce(s.sympos, 0), s.idx`);
    // By name first: sqlite otherwise walks every symbol of the object (vmlinux: 150,000) testing each name
    // against the list, 2–3 times slower for a 10,000-frame log.
    this.byNames = db.prepare(`${symbolColumns('symbols s INDEXED BY symbols_by_name')}
      WHERE s.name IN (SELECT value FROM json_each(?)) AND s.object_id = ? AND s.ks_letter IS NOT NULL
      ORDER BY coalesce(s.sympos, 0), s.idx`);
    this.kallsymsAddresses = db.prepare('SELECT address FROM kallsyms_entries WHERE object_id = ?').pluck();
  }

  /** vmlinux (`module` null) or the module of that name: the first read object, or null. */
  object(module: string | null): IndexedObject | null {
    const row = module === null
      ? this.db.prepare(`SELECT ${OBJECT_COLUMNS} FROM objects WHERE kind = 'vmlinux' AND status != 'failed' ORDER BY id LIMIT 1`).get()
      : this.db.prepare(`SELECT ${OBJECT_COLUMNS} FROM objects WHERE kind = 'module' AND module_name = ? AND status != 'failed' ORDER BY id LIMIT 1`).get(module);
    return (row as IndexedObject | undefined) ?? null;
  }

  /** The kallsyms-visible symbols named `name` in an object, in sympos order. */
  named(objectId: number, name: string): SymbolizeSymbol[] {
    return this.byName.all(name, objectId) as SymbolizeSymbol[];
  }

  /** The kallsyms-visible symbols of any of `names` in an object, in sympos order. */
  namedAny(objectId: number, names: readonly string[]): SymbolizeSymbol[] {
    return this.byNames.all(JSON.stringify(names), objectId) as SymbolizeSymbol[];
  }

  /** The addresses of vmlinux's decoded kallsyms table, as the index's 16-digit hex, in table order. */
  tableAddresses(objectId: number): string[] {
    return this.kallsymsAddresses.all(objectId) as string[];
  }

  /** The values of a module section's kallsyms-visible symbols and the section's end, as 16-digit hex, sorted. */
  sectionBounds(objectId: number, section: string | null): string[] {
    return this.db.prepare(`SELECT s.value FROM symbols s JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx
            WHERE s.object_id = ? AND sec.name = ? AND s.ks_letter IS NOT NULL
            UNION SELECT printf('%016x', size) FROM sections WHERE object_id = ? AND name = ? ORDER BY 1`).pluck().all(objectId, section, objectId, section) as string[];
  }

  /** An object's sized text symbols (kallsyms t, T, w, W), by address: what a bare link-time address can fall in. */
  functionsByAddress(objectId: number): SymbolizeSymbol[] {
    return this.db.prepare(`${SYMBOL_COLUMNS}
        WHERE s.object_id = ? AND s.ks_letter IN ('t', 'T', 'w', 'W') AND s.size > 0 ORDER BY s.value, s.idx`).all(objectId) as SymbolizeSymbol[];
  }
}
