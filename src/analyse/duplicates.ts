// Which symbols need a DWARF definition site: an object's in-object duplicates (the rows the scan gave a sympos),
// or with --all-sites every defined function and variable.
import { STT_FUNC, STT_OBJECT } from '../elf/constants.js';
import { type SymbolColumns, symbolName } from '../scan/result.js';

/**
 * The symbols of one scanned object that need a definition site (as .symtab indexes): by default its
 * in-object duplicates (a sympos, computed by the scan), with `all` every defined function and variable.
 */
export function siteRequests(s: SymbolColumns, all: boolean): number[] {
  const out: number[] = [];
  for (let row = 0; row < s.count; row++) {
    const type = s.info[row] & 0xf;
    if (all ? (type === STT_OBJECT || type === STT_FUNC) && s.shndx[row] !== 0 : s.sympos[row] > 0) out.push(s.index[row]);
  }
  return out;
}

/** The kallsyms name and address of requested rows, for a vmlinux whose rows are its kallsyms entries (a vmlinuz). */
export function entriesOf(s: SymbolColumns, indexes: readonly number[]): { name: string; address: string }[] {
  const rowOf = new Map<number, number>();
  s.index.forEach((idx, row) => rowOf.set(idx, row));
  return indexes.map((idx) => {
    const row = rowOf.get(idx)!;
    return { name: symbolName(s, row), address: s.values.substr(row * 16, 16) };
  });
}
