// Pairing each decoded kallsyms entry of vmlinux with its `.symtab` symbol by (name, address), so that what is
// known per symbol (DWARF sites, section, size) applies to what /proc/kallsyms shows.
import { ObjectError } from '../errors.js';
import { SHN_UNDEF, STT_FILE, STT_SECTION } from '../elf/constants.js';
import type { SymbolTable } from '../elf/symbols.js';
import type { KallsymsEntry } from './vmlinux-table.js';

export interface SymtabMatch {
  /** For each entry, the `.symtab` index of the symbol with the same name and value, or -1. */
  readonly symbolIndex: Int32Array;
  /** Entries with no `.symtab` twin, in table order. */
  readonly unmatched: number[];
}

/**
 * Pairs every decoded entry with its `.symtab` symbol by (name, address), so that what is known per symbol
 * (DWARF sites, section, size) applies to the kallsyms view. Two entries with the same name and address take
 * distinct symbols, in `.symtab` order.
 */
export function matchSymtab(entries: readonly KallsymsEntry[], t: SymbolTable): SymtabMatch {
  const wanted = new Set<string>();
  for (const e of entries) wanted.add(e.name);
  // The defined symbols of each listed name, in .symtab order; nearly every name has one.
  const candidates = new Map<string, number[]>();
  for (let i = 1; i < t.count; i++) {
    const type = t.type(i);
    if (type === STT_SECTION || type === STT_FILE || t.rawShndx(i) === SHN_UNDEF) continue;
    let name: string;
    try {
      name = t.name(i);
    } catch (e) {
      if (e instanceof ObjectError) continue; // an unreadable name cannot be anyone's twin; the scan reports it
      throw e;
    }
    if (!wanted.has(name)) continue;
    const list = candidates.get(name);
    if (list) list.push(i);
    else candidates.set(name, [i]);
  }
  const symbolIndex = new Int32Array(entries.length).fill(-1);
  const unmatched: number[] = [];
  entries.forEach((e, k) => {
    // The first symbol of that name and address not yet taken by an earlier entry.
    const list = candidates.get(e.name);
    const at = list ? list.findIndex((i) => i >= 0 && t.valueHex(i) === e.address) : -1;
    if (at < 0) {
      unmatched.push(k);
      return;
    }
    symbolIndex[k] = list![at];
    list![at] = -1;
  });
  return { symbolIndex, unmatched };
}
