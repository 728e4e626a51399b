// Whether a downloaded (or cached) debug file is whole and is the one asked for, before anything reads it.
import { ObjectError } from '../errors.js';
import { SHT_NOBITS } from '../elf/constants.js';
import { readElfHeader } from '../elf/header.js';
import { findBuildId } from '../elf/notes.js';
import { readSections, sectionBytes } from '../elf/sections.js';
import { FileSource } from '../io/source.js';

/**
 * Null when `path` is an ELF file whose section headers and sections all lie inside it, which carries DWARF
 * (`.debug_info`) and whose GNU build-id is `buildId`; else what is wrong, naming the offset.
 */
export function checkDebugFile(path: string, buildId: string): string | null {
  let file: FileSource | null = null;
  try {
    file = FileSource.open(path);
    const src = file;
    const h = readElfHeader(src);
    const sections = readSections(src, h);
    for (const s of sections) {
      if (s.type !== SHT_NOBITS && s.offset + s.size > src.size) {
        return `at offset 0x${s.offset.toString(16)}: section ${s.name} needs ${s.size} bytes, the file ends at 0x${src.size.toString(16)} (truncated)`;
      }
    }
    const id = findBuildId(h, sections, (s) => sectionBytes(src, s));
    if (id !== buildId) return `expected build-id ${buildId}, the file has ${id ?? 'none'}`;
    if (!sections.some((s) => s.name === '.debug_info' || s.name === '.zdebug_info')) return 'expected DWARF (.debug_info), the file has none';
    return null;
  } catch (e) {
    if (e instanceof ObjectError) return `at offset 0x${e.offset.toString(16)}: ${e.expected}`;
    return (e as Error).message;
  } finally {
    file?.close();
  }
}
