// Fuzz target: the vmlinuz extractor (bzImage setup header, or a magic search) and the kernel decompressors
// behind it, through scanObject of a file named vmlinuz. Seeds: the fixture bzImages of every compression.
import { scanObject } from '../../../src/scan/scan-object.js';
import { COMPRESSION_TOKENS, type FuzzTarget, failOnInternal, readSeeds } from '../target.js';
import { buildKallsymsFixtures } from './seeds.js';

const target: FuzzTarget = {
  name: 'vmlinuz',
  fileName: 'vmlinuz',
  smokeExecs: 100,
  dictionary: COMPRESSION_TOKENS,
  async seeds() {
    return readSeeds(Object.values((await buildKallsymsFixtures()).vmlinuz));
  },
  async run(path) {
    failOnInternal((await scanObject(path)).errors);
  },
};
export default target;
