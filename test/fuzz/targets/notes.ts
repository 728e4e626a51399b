// Fuzz target: the module metadata scanObject reads — .modinfo, the GNU build-id note, an appended signature
// and `apply`'s marker section (a rewritten module is read as its original). Seeds: the signed fixture modules
// of each architecture, a module `ksymtree apply` rewrote, the smallest Debian modules (real signatures).
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanObject } from '../../../src/scan/scan-object.js';
import { buildApplyFixtures, indexWithAliases, ksymtree } from '../../helpers/build-apply-fixtures.js';
import { ELF_TOKENS, type FuzzTarget, failOnInternal, readSeeds } from '../target.js';
import { buildFixtures, debian, smallestFiles } from './seeds.js';

/** The apply fixture's x86_64 module after `ksymtree index` and `ksymtree apply`: it carries the marker section. */
async function appliedModule(): Promise<Buffer[]> {
  const plain = (await buildApplyFixtures()).plain.x86_64;
  if (!plain) return [];
  const dir = mkdtempSync(join(tmpdir(), 'ksymtree-fuzz-applied-'));
  try {
    const ko = join(dir, 'dupmod.ko');
    copyFileSync(plain, ko);
    const db = join(dir, 'ksymtree.db');
    await indexWithAliases(dir, db);
    const r = await ksymtree(['apply', dir, '--db', db, '-q']);
    if (r.status !== 0) throw new Error(`fuzz seeds: ksymtree apply ${dir} failed (${r.status}): ${r.stderr}`);
    return [readFileSync(ko)];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const target: FuzzTarget = {
  name: 'notes',
  fileName: 'fuzz.ko',
  smokeExecs: 6000,
  dictionary: ELF_TOKENS,
  async seeds() {
    const fx = await buildFixtures();
    return [
      ...readSeeds([
        ...fx.objects.filter((o) => o.available && o.signed && o.compression === 'none').map((o) => o.path),
        ...smallestFiles(debian().installed, /\.ko$/, 2, 8 << 10),
      ]),
      ...await appliedModule(),
    ];
  },
  async run(path) {
    failOnInternal((await scanObject(path)).errors);
  },
};
export default target;
