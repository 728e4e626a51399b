// `ksymtree symbols`: every .symtab entry of the selected objects with its nm and kallsyms letters, as tsv or json.
import type { Db } from '../db/db.js';
import { displayAddress, selectObjects } from '../db/queries.js';
import { symbolRows } from '../db/symbols.js';
import type { Output } from '../io/output.js';
import { type CommandResult, finished, withIndex } from './command.js';

export interface SymbolsOptions {
  readonly db?: string;
  readonly object?: string;
  readonly format: 'tsv' | 'json';
}

const COLUMNS = ['object', 'module', 'index', 'name', 'value', 'size', 'section', 'nm', 'kallsyms'] as const;

/** One line per symbol: the contract other tools (and our own checks) read. */
export function runSymbols(opts: SymbolsOptions, out: Output): Promise<CommandResult> {
  return withIndex(opts.db, (db) => {
    writeSymbols(db, opts, out);
    return finished();
  });
}

function writeSymbols(db: Db, opts: SymbolsOptions, out: Output): void {
  const rows = symbolRows(db);
  if (opts.format === 'tsv') out.line(COLUMNS.join('\t'));
  let first = true;
  if (opts.format === 'json') out.write('[');
  for (const o of selectObjects(db, opts.object)) {
    for (const r of rows(o.id)) {
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
}
