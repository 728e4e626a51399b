// A module's kallsyms view as the loader builds it (kernel/module/kallsyms.c): which .symtab symbols stay after
// init (is_core_symbol()) and the letter /proc/kallsyms prints for each (elf_type(), upper case when exported).
import {
  SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHN_ABS, SHN_LORESERVE, SHN_UNDEF, SHT_NOBITS, STB_LOCAL, STB_WEAK, STT_OBJECT,
} from '../elf/constants.js';
import type { Section } from '../elf/sections.js';
import type { SymbolTable } from '../elf/symbols.js';

/**
 * What the module loader (kernel/module/main.c, kernel/module/kallsyms.c) knows about a module's sections
 * once it has laid them out, and the one configuration option its kallsyms rules depend on.
 */
export interface ModuleLayout {
  /** Section flags after the loader cleared SHF_ALLOC on `.modinfo` and `__versions`. */
  readonly flags: readonly number[];
  readonly initSection: readonly boolean[];
  /** Index of the allocated `.data..percpu`, 0 when absent (as find_sec returns). */
  readonly pcpu: number;
  /** CONFIG_KALLSYMS_ALL: data and per-cpu symbols stay too; without it only symbols of executable sections. */
  readonly all: boolean;
}

export function moduleLayout(sections: readonly Section[], kallsymsAll: boolean): ModuleLayout {
  const flags = sections.map((s) => (s.name === '.modinfo' || s.name === '__versions' ? s.flags & ~SHF_ALLOC : s.flags));
  const pcpu = sections.findIndex((s, i) => i > 0 && (flags[i] & SHF_ALLOC) !== 0 && s.name === '.data..percpu');
  return { flags, initSection: sections.map((s) => s.name.startsWith('.init')), pcpu: Math.max(pcpu, 0), all: kallsymsAll };
}

/** kernel/module/kallsyms.c is_core_symbol() (6.1–6.12): which symbols stay in kallsyms after init. */
export function isCoreSymbol(rawShndx: number, nameOffset: number, layout: ModuleLayout): boolean {
  const shnum = layout.flags.length;
  if (rawShndx === SHN_UNDEF || rawShndx >= shnum || nameOffset === 0) return false;
  if (layout.all && rawShndx === layout.pcpu) return true;
  const flags = layout.flags[rawShndx];
  if (!(flags & SHF_ALLOC) || (!layout.all && !(flags & SHF_EXECINSTR))) return false;
  return !layout.initSection[rawShndx];
}

/** kernel/module/kallsyms.c elf_type(), lower case (the case is decided at print time). */
export function moduleElfType(type: number, bind: number, rawShndx: number, sections: readonly Section[], layout: ModuleLayout): string {
  if (bind === STB_WEAK) return type === STT_OBJECT ? 'v' : 'w';
  if (rawShndx === SHN_UNDEF) return 'U';
  if (rawShndx === SHN_ABS || rawShndx === layout.pcpu) return 'a';
  if (rawShndx >= SHN_LORESERVE) return '?';
  const flags = layout.flags[rawShndx];
  const s = sections[rawShndx];
  if (flags & SHF_EXECINSTR) return 't';
  if (flags & SHF_ALLOC && s.type !== SHT_NOBITS) return flags & SHF_WRITE ? 'd' : 'r';
  if (s.type === SHT_NOBITS) return 'b';
  if (s.name.startsWith('.debug')) return 'n';
  return '?';
}

/**
 * Names the module exports with EXPORT_SYMBOL (not _GPL): /proc/kallsyms prints exactly these in upper case
 * (kernel/kallsyms.c s_show → is_exported, which searches only the module's `__ksymtab`). Both 6.1 and 6.12
 * modules carry one `__ksymtab_NAME` symbol per export in the section of the export's licence.
 */
export function exportedNames(symtab: SymbolTable, sections: readonly Section[]): Set<string> {
  const ksymtab = sections.findIndex((s) => s.name === '__ksymtab');
  const names = new Set<string>();
  if (ksymtab <= 0) return names;
  for (let i = 1; i < symtab.count; i++) {
    if (symtab.rawShndx(i) !== ksymtab) continue;
    const name = symtab.name(i);
    if (name.startsWith('__ksymtab_')) names.add(name.slice('__ksymtab_'.length));
  }
  return names;
}

/** The letter /proc/kallsyms prints for a core symbol: upper case only for a non-local symbol exported by name. */
export function moduleKallsymsLetter(lower: string, bind: number, name: string, exported: ReadonlySet<string>): string {
  return bind !== STB_LOCAL && exported.has(name) ? lower.toUpperCase() : lower.toLowerCase();
}
