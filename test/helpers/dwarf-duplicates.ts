// In-object duplicate names, approximated for tests and measurements: FUNC/OBJECT symbols defined in an
// SHF_ALLOC section that is not an init section (what kallsyms keeps for a module, near enough for vmlinux).
import { SHF_ALLOC, SHN_LORESERVE, SHN_UNDEF, STT_FUNC, STT_OBJECT } from '../../src/elf/constants.js';
import { openObject } from '../../src/sites/object.js';

export interface DuplicateSymbol {
  readonly index: number;
  readonly name: string;
  readonly type: 'func' | 'object';
  readonly section: string;
  /** st_value, 16 hex digits. */
  readonly value: string;
}

export async function inObjectDuplicates(path: string): Promise<DuplicateSymbol[]> {
  const o = await openObject(path);
  try {
    const t = o.symtab;
    if (!t) return [];
    const all: DuplicateSymbol[] = [];
    const count = new Map<string, number>();
    for (let i = 1; i < t.count; i++) {
      const type = t.type(i);
      if (type !== STT_FUNC && type !== STT_OBJECT) continue;
      const shndx = t.shndx(i);
      if (shndx === SHN_UNDEF || shndx >= SHN_LORESERVE) continue;
      const s = o.sections[shndx];
      if (!s || !(s.flags & SHF_ALLOC) || s.name.startsWith('.init')) continue;
      const name = t.name(i);
      if (!name) continue;
      all.push({ index: i, name, type: type === STT_FUNC ? 'func' : 'object', section: s.name, value: t.valueHex(i) });
      count.set(name, (count.get(name) ?? 0) + 1);
    }
    return all.filter((d) => count.get(d.name)! > 1);
  } finally {
    o.close();
  }
}
