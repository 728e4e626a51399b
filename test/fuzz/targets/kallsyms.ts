// Fuzz target: the kallsyms table decoder (src/kallsyms/vmlinux-table.ts and its locators, table-reader.ts, token-table.ts) through scanObject of
// a vmlinux — located by .symtab names, or by shape in a stripped image. Seeds: the kallsyms fixtures of
// every table layout and architecture, with and without .symtab.
import { scanObject } from '../../../src/scan/scan-object.js';
import { ELF_TOKENS, type FuzzTarget, KALLSYMS_TOKENS, failOnInternal, readSeeds } from '../target.js';
import { buildKallsymsFixtures } from './seeds.js';

const target: FuzzTarget = {
  name: 'kallsyms',
  fileName: 'vmlinux',
  smokeExecs: 1500,
  dictionary: [...KALLSYMS_TOKENS, ...ELF_TOKENS],
  async seeds() {
    const k = await buildKallsymsFixtures();
    return readSeeds(k.variants.flatMap((v) => [v.vmlinux, v.stripped]));
  },
  async run(path) {
    failOnInternal((await scanObject(path)).errors);
  },
};
export default target;
