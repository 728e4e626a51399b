// ELF notes: the GNU build-id (NT_GNU_BUILD_ID), which pairs an installed object with its debug copy.
import { NT_GNU_BUILD_ID, SHT_NOTE } from './constants.js';
import type { ElfHeader } from './header.js';
import { viewOf } from './header.js';
import type { Section } from './sections.js';

/**
 * The GNU build-id from the first SHT_NOTE section that carries one, as lower-case hex; null when absent.
 * `read` supplies a section's bytes so the caller decides how they are loaded.
 */
export function findBuildId(h: ElfHeader, sections: readonly Section[], read: (s: Section) => Buffer): string | null {
  for (const s of sections) {
    if (s.type !== SHT_NOTE) continue;
    const bytes = read(s);
    const v = viewOf(bytes);
    let at = 0;
    while (at + 12 <= bytes.length) {
      const namesz = v.getUint32(at, h.little);
      const descsz = v.getUint32(at + 4, h.little);
      const type = v.getUint32(at + 8, h.little);
      const nameAt = at + 12;
      const descAt = nameAt + align4(namesz);
      if (descAt + descsz > bytes.length) break;
      if (type === NT_GNU_BUILD_ID && namesz === 4 && bytes.toString('latin1', nameAt, nameAt + 3) === 'GNU') {
        return bytes.toString('hex', descAt, descAt + descsz);
      }
      at = descAt + align4(descsz);
    }
  }
  return null;
}

/** `n` rounded up to a multiple of 4, in double arithmetic: note sizes are full 32-bit values (`& ~3` would turn 0xfffffffe negative). */
function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}
