// Symbols that get sites in the DWARF tests: defined FUNC/OBJECT symbols of allocated sections.
import { SHF_ALLOC, SHN_LORESERVE, SHN_UNDEF, STT_FUNC, STT_OBJECT } from '../../src/elf/constants.js';
import { openObject } from '../../src/sites/object.js';

export interface TestSymbol {
  readonly index: number;
  readonly name: string;
  readonly type: 'func' | 'object';
  readonly section: string;
  readonly value: bigint;
}

export async function siteSymbols(path: string): Promise<TestSymbol[]> {
  const o = await openObject(path);
  try {
    const t = o.symtab;
    if (!t) return [];
    const out: TestSymbol[] = [];
    for (let i = 1; i < t.count; i++) {
      const type = t.type(i);
      if (type !== STT_FUNC && type !== STT_OBJECT) continue;
      const shndx = t.shndx(i);
      if (shndx === SHN_UNDEF || shndx >= SHN_LORESERVE) continue;
      const s = o.sections[shndx];
      if (!s || !(s.flags & SHF_ALLOC)) continue;
      out.push({ index: i, name: t.name(i), type: type === STT_FUNC ? 'func' : 'object', section: s.name, value: BigInt(`0x${t.valueHex(i)}`) });
    }
    return out;
  } finally {
    o.close();
  }
}

/** Names occurring more than once among `symbols`. */
export function duplicated(symbols: readonly TestSymbol[]): TestSymbol[] {
  const n = new Map<string, number>();
  for (const s of symbols) n.set(s.name, (n.get(s.name) ?? 0) + 1);
  return symbols.filter((s) => n.get(s.name)! > 1);
}
