import {
  SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHN_ABS, SHN_COMMON, SHN_LORESERVE, SHN_UNDEF, SHT_NOBITS,
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

/** Whether `nm` (without -a) lists the symbol at all: section and file symbols are debugging symbols to bfd. */
export function nmLists(index: number, type: number): boolean {
  return index !== 0 && type !== STT_SECTION && type !== STT_FILE;
}

/**
 * The letter `nm` prints (bfd_decode_symclass), or '' when nm does not list the symbol.
 * `shndx` is the resolved section index (after SHN_XINDEX).
 */
export function nmLetter(index: number, type: number, bind: number, shndx: number, rawShndx: number,
  letters: readonly string[]): string {
  if (!nmLists(index, type)) return '';
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
