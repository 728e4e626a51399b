// Fuzz target: the module metadata scanObject reads — .modinfo, the GNU build-id note, an appended signature
// and `apply`'s marker section. Seeds are small: signed fixture modules of each architecture.
import { scanObject } from '../../../src/scan/scan-object.js';
import { ELF_TOKENS, type FuzzTarget, failOnInternal, readSeeds } from '../target.js';
import { buildFixtures, debian, smallestFiles } from './seeds.js';

const target: FuzzTarget = {
  name: 'notes',
  fileName: 'fuzz.ko',
  smokeExecs: 6000,
  dictionary: ELF_TOKENS,
  async seeds() {
    const fx = await buildFixtures();
    return readSeeds([
      ...fx.objects.filter((o) => o.available && o.signed && o.compression === 'none').map((o) => o.path),
      ...smallestFiles(debian().installed, /\.ko$/, 2, 8 << 10),
    ]);
  },
  async run(path) {
    failOnInternal((await scanObject(path)).errors);
  },
};
export default target;
