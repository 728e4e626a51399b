// The letter `nm` prints for a symbol, by binutils' rules (bfd's decode_section_type and section-name table):
// the `symbols` listing's nm column, and the input the kallsyms emulation reads for a vmlinux without tables.
import {
  EM_AARCH64, EM_ARM, EM_RISCV, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHN_ABS, SHN_COMMON, SHN_LORESERVE, SHN_UNDEF, SHT_NOBITS,
  STB_GLOBAL, STB_GNU_UNIQUE, STB_LOCAL, STB_WEAK, STT_FILE, STT_GNU_IFUNC, STT_OBJECT, STT_SECTION,
} from '../elf/constants.js';
import type { Section } from '../elf/sections.js';

/**
 * binutils' section-name table (bfd/syms.c `stt`, 2.3x–2.4x): only MSVC section names remain in it. A name
 * matches when it starts with the entry and the next character is one of `.$0-9` or the end.
 */
const NAME_LETTERS: ReadonlyArray<readonly [string, string]> = [
  ['.drectve', 'i'], ['.edata', 'e'], ['.idata', 'i'], ['.pdata', 'p'],
];
const NAME_FOLLOWERS = new Set(['', '.', '$', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

function letterFromSectionName(name: string): string | null {
  for (const [prefix, letter] of NAME_LETTERS) {
    if (name.startsWith(prefix) && NAME_FOLLOWERS.has(name.charAt(prefix.length))) return letter;
  }
  return null;
}

function isDebugSectionName(name: string): boolean {
  return name.startsWith('.debug') || name.startsWith('.gnu.linkonce.wi.') || name.startsWith('.zdebug')
    || name.startsWith('.line') || name.startsWith('.stab') || name.startsWith('.gnu.debuglto_');
}

/** bfd's decode_section_type over the flags bfd derives from an ELF section header. */
function letterFromSectionFlags(s: Section): string {
  const alloc = (s.flags & SHF_ALLOC) !== 0;
  const hasContents = s.type !== SHT_NOBITS;
  const readonly = (s.flags & SHF_WRITE) === 0;
  if (s.flags & SHF_EXECINSTR) return 't';
  if (alloc && hasContents) return readonly ? 'r' : 'd';
  if (!hasContents) return 'b';
  if (!alloc && isDebugSectionName(s.name)) return 'N';
  if (readonly) return 'n';
  return '?';
}

/** Precomputes each section's letter once per object. */
export function sectionLetters(sections: readonly Section[]): string[] {
  return sections.map((s) => letterFromSectionName(s.name) ?? letterFromSectionFlags(s));
}

/**
 * bfd's is_target_special_symbol: ARM/AArch64 mapping symbols (`$a`, `$d`, `$t`, `$x`, optionally followed
 * by `.suffix`) and RISC-V's (`$d`, `$x` with an ISA string), which nm hides unless given --special-syms.
 */
export function isTargetSpecialSymbol(machine: number, name: string): boolean {
  if (machine === EM_ARM || machine === EM_AARCH64) return /^\$[adtx](\.|$)/.test(name);
  if (machine === EM_RISCV) return /^\$[dx]/.test(name);
  return false;
}

/** Whether `nm` (without -a) lists the symbol at all: section and file symbols are debugging symbols to bfd. */
export function nmLists(index: number, type: number, special: boolean): boolean {
  return index !== 0 && type !== STT_SECTION && type !== STT_FILE && !special;
}

/**
 * The letter `nm` prints (bfd_decode_symclass), or '' when nm does not list the symbol.
 * `shndx` is the resolved section index (after SHN_XINDEX).
 */
export function nmLetter(index: number, type: number, bind: number, shndx: number, rawShndx: number,
  letters: readonly string[], special: boolean): string {
  if (!nmLists(index, type, special)) return '';
  if (rawShndx === SHN_COMMON) return 'C';
  if (rawShndx === SHN_UNDEF) {
    if (bind === STB_WEAK) return type === STT_OBJECT ? 'v' : 'w';
    return 'U';
  }
  if (type === STT_GNU_IFUNC) return 'i';
  if (bind === STB_WEAK) return type === STT_OBJECT ? 'V' : 'W';
  if (bind === STB_GNU_UNIQUE) return 'u';
  if (bind !== STB_GLOBAL && bind !== STB_LOCAL) return '?';
  let c: string;
  if (rawShndx === SHN_ABS) c = 'a';
  else if (rawShndx >= SHN_LORESERVE && rawShndx !== 0xffff) c = '?';
  else c = letters[shndx] ?? 'a'; // bfd puts symbols of sections it did not create in the absolute section
  return bind === STB_GLOBAL ? c.toUpperCase() : c;
}
