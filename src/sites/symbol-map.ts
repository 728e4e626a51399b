// SymbolMap, a stripped object's symbols mapped to its debug copy's: requests index the one, DWARF is searched
// through the other.
import type { OpenedObject } from './object.js';
import { sectionNameOf } from './symbols.js';

/**
 * Requests index the object's symbol table; sites are found through the DWARF file's, which differs for a
 * stripped object paired with its debug copy (Debian's drop the STT_FILE symbols). A symbol is matched by
 * (section, value, name) and, among symbols sharing those (zero-size `__key.0` of two files at one
 * address), by its rank: strip keeps the order of the symbols it keeps.
 */
export class SymbolMap {
  private objRanks: Map<string, number[]> | null = null;
  private dbgRanks: Map<string, number[]> | null = null;
  constructor(private obj: OpenedObject, private dbg: OpenedObject) {}

  toDebug(i: number): number {
    if (this.obj === this.dbg) return i;
    this.objRanks ??= this.ranks(this.obj);
    this.dbgRanks ??= this.ranks(this.dbg);
    const key = this.key(this.obj, i);
    const rank = this.objRanks.get(key)!.indexOf(i);
    return this.dbgRanks.get(key)?.[rank] ?? -1;
  }

  /** Symbol indexes by key, in table order. */
  private ranks(o: OpenedObject): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (let j = 1; j < o.symtab!.count; j++) {
      const key = this.key(o, j);
      const list = out.get(key);
      if (list) list.push(j);
      else out.set(key, [j]);
    }
    return out;
  }

  private key(o: OpenedObject, i: number): string {
    const t = o.symtab!;
    return `${sectionNameOf(t, o.sections, i)}\0${t.valueHex(i)}\0${t.name(i)}`;
  }
}
