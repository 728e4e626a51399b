// In-object duplicate names, approximated for tests and measurements: FUNC/OBJECT symbols defined in an
// SHF_ALLOC section that is not an init section (what kallsyms keeps for a module, near enough for vmlinux).
import { duplicated, siteSymbols, type TestSymbol } from './dwarf-symbols.js';

export async function inObjectDuplicates(path: string): Promise<TestSymbol[]> {
  return duplicated((await siteSymbols(path)).filter((s) => s.name && !s.section.startsWith('.init')));
}
