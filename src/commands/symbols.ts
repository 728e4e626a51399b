// `ksymtree symbols`: every .symtab entry of the selected objects with its nm and kallsyms letters, as tsv or json.
import type { Db } from '../db/db.js';
import { displayAddress, selectObjects } from '../db/queries.js';
import { Output } from '../io/output.js';

export interface SymbolsOptions {
  readonly object?: string;
  readonly format: 'tsv' | 'json';
}

const COLUMNS = ['object', 'module', 'index', 'name', 'value', 'size', 'section', 'nm', 'kallsyms'] as const;

interface Row {
  idx: number; name: string; value: string; size: number; shndx: number; nm_letter: string | null; ks_letter: string | null;
  section: string | null;
}

/** One line per symbol: the contract other tools (and our own checks) read. */
export function runSymbols(db: Db, opts: SymbolsOptions, out = new Output()): void {
  const rows = db.prepare(`SELECT s.idx, s.name, s.value, s.size, s.shndx, s.nm_letter, s.ks_letter, sec.name AS section
    FROM symbols s LEFT JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx
    WHERE s.object_id = ? ORDER BY s.idx`);
  if (opts.format === 'tsv') out.line(COLUMNS.join('\t'));
  let first = true;
  if (opts.format === 'json') out.write('[');
  for (const o of selectObjects(db, opts.object)) {
    for (const r of rows.iterate(o.id) as IterableIterator<Row>) {
      const value = displayAddress(r.value, o.elf_class);
      const section = r.section ?? '';
      if (opts.format === 'tsv') {
        out.line([o.path, o.module_name ?? '', r.idx, r.name, value, r.size, section, r.nm_letter ?? '', r.ks_letter ?? ''].join('\t'));
      } else {
        out.write(`${first ? '\n' : ',\n'}${JSON.stringify({ object: o.path, module: o.module_name, index: r.idx, name: r.name, value,
          size: r.size, section, nm: r.nm_letter, kallsyms: r.ks_letter })}`);
        first = false;
      }
    }
  }
  if (opts.format === 'json') out.line(first ? ']' : '\n]');
  out.flush();
}
