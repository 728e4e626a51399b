// Fuzz target: the DWARF reader as index's pass 2 drives it (findSites: units, abbrevs, forms, line programs,
// aranges, ranges/rnglists, relocations of ET_REL objects, compressed sections), for every symbol of the
// object, by located units or by a walk of all units (--all-sites). Seeds: the DWARF fixtures (DWARF 2-5,
// 64-bit DWARF, zlib/zstd/.zdebug sections, type units, split DWARF, i386, s390x, aarch64) and small Debian debug modules.
import { ObjectError } from '../../../src/errors.js';
import { findSites } from '../../../src/sites/find-sites.js';
import { openObject } from '../../../src/sites/object.js';
import { DWARF_TOKENS, ELF_TOKENS, type FuzzTarget, failOnInternal, readSeeds } from '../target.js';
import { buildDwarfFixtures, debian, smallestFiles } from './seeds.js';

/** Requests past this many symbols add nothing the first ones do not exercise. */
const MAX_REQUESTS = 400;

const target: FuzzTarget = {
  name: 'dwarf',
  fileName: 'fuzz.ko',
  smokeExecs: 600,
  dictionary: [...DWARF_TOKENS, ...ELF_TOKENS],
  async seeds() {
    const d = await buildDwarfFixtures();
    return readSeeds([
      ...d.fixtures.flatMap((f) => [f.relocatable, f.linked, f.xz]),
      ...smallestFiles(debian().debug, /\.ko$/, 2, 120 << 10),
    ]);
  },
  async run(path, input) {
    let count: number;
    try {
      const obj = await openObject(path);
      count = obj.symtab?.count ?? 0;
      obj.close();
    } catch (e) {
      if (e instanceof ObjectError) return;
      throw e;
    }
    const requests = Array.from({ length: Math.min(count, MAX_REQUESTS) - 1 }, (_, i) => ({ symtabIndex: i + 1 }));
    if (requests.length === 0) return;
    // Both of index's ways, one per input (by its length, so that a saved input replays the same way).
    failOnInternal((await findSites(path, path, requests, { all: input.length % 2 === 1 })).errors);
  },
};
export default target;
