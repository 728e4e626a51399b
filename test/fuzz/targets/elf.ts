// Fuzz target: ELF header, section table and symbol table of a module, every class and byte order, through
// scanObject (index's pass 1). Seeds: the fixture modules of four architectures (64/32-bit, LSB/MSB), a 31-bit
// s390 vmlinux (ELF32 MSB), and the smallest signed Debian modules.
import { scanObject } from '../../../src/scan/scan-object.js';
import { ELF_TOKENS, type FuzzTarget, failOnInternal, readSeeds } from '../target.js';
import { buildFixtures, buildKallsymsFixtures, debian, smallestFiles } from './seeds.js';

const target: FuzzTarget = {
  name: 'elf',
  fileName: 'fuzz.ko',
  smokeExecs: 6000,
  dictionary: ELF_TOKENS,
  async seeds() {
    const fx = await buildFixtures();
    const k = await buildKallsymsFixtures();
    const modules = fx.objects.filter((o) => o.available && o.kind === 'module' && o.compression === 'none' && (o.variant === 'installed' || o.module === 'baz-qux'));
    return readSeeds([
      ...modules.map((o) => o.path),
      k.plain.s390, k.plain.i386,
      ...smallestFiles(debian().installed, /\.ko$/, 6, 12 << 10),
    ]);
  },
  async run(path) {
    failOnInternal((await scanObject(path)).errors);
  },
};
export default target;
