// Real-kernel tier for definition sites, gated on the Debian 6.1 cloud debug corpus: every in-object
// duplicate of a few modules (and of vmlinux with KSYMTREE_DWARF_VMLINUX=1, ~1-2 min of llvm-dwarfdump)
// must agree with llvm-dwarfdump-19. The whole tree: node dist/test/helpers/dwarf-kernel-check.js OBJECT...
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findSites } from '../src/sites/find-sites.js';
import { inObjectDuplicates } from './helpers/dwarf-duplicates.js';
import { checkObject, summarize } from './helpers/dwarf-kernel-check.js';
import { haveDwarfdump } from './helpers/dwarf-oracle.js';

const TREE = process.env.KSYMTREE_CORPUS_DEBUG ?? '/root/.cache/ksymtree-corpus/6.1-cloud-amd64/debug';
const available = existsSync(join(TREE, 'vmlinux')) && haveDwarfdump();

const MODULES = [
  'kernel/net/bridge/bridge.ko', // header statics (jhash ×4), .constprop clones with inlined first instructions
  'kernel/fs/btrfs/btrfs.ko', // zero-size __key.N sharing addresses with other variables
  'kernel/drivers/nvdimm/libnvdimm.ko', // many duplicated functions
  'kernel/drivers/block/drbd/drbd.ko', // clones in .text and .text.unlikely
];

for (const m of MODULES) {
  (available ? test : test.skip)(`${m}: every duplicate's site agrees with llvm-dwarfdump`, async (t) => {
    const c = await checkObject(join(TREE, m));
    t.log(summarize(c));
    t.true(c.duplicates > 0);
    t.is(c.compared, c.duplicates, 'the oracle could check every duplicate');
    t.deepEqual(c.disagreements.map((d) => `${d.name} ${d.where}: ${d.problem}`), []);
    t.is(c.unrelative, 0);
    t.is(c.errors, 0);
  });
}

(available && process.env.KSYMTREE_DWARF_VMLINUX ? test : test.skip)('vmlinux: every duplicate\'s site agrees with llvm-dwarfdump', async (t) => {
  const c = await checkObject(join(TREE, 'vmlinux'));
  t.log(summarize(c));
  t.deepEqual(c.disagreements.map((d) => `${d.name} ${d.where}: ${d.problem}`), []);
  t.is(c.unrelative, 0);
  t.is(c.errors, 0);
});

const INSTALLED = process.env.KSYMTREE_CORPUS_INSTALLED ?? join(TREE, '../installed');

(available && existsSync(join(INSTALLED, MODULES[0])) ? test : test.skip)('installed (stripped) module + debug copy: same sites as the debug copy alone', async (t) => {
  // Debian's stripped modules have no STT_FILE symbols, so their symbol indices differ from the debug
  // copy's: requests are matched by (section, value, name).
  const installed = join(INSTALLED, MODULES[0]);
  const debug = join(TREE, MODULES[0]);
  const a = await inObjectDuplicates(installed);
  const b = await inObjectDuplicates(debug);
  t.notDeepEqual(a.map((d) => d.index), b.map((d) => d.index));
  const viaPair = await findSites(installed, debug, a.map((d) => ({ symtabIndex: d.index })));
  const direct = await findSites(debug, debug, b.map((d) => ({ symtabIndex: d.index })));
  t.deepEqual(viaPair.errors, []);
  const key = (d: { section: string; value: string; name: string }) => `${d.section}:${d.value}:${d.name}`;
  const want = new Map(b.map((d, i) => [key(d), direct.sites[i]]));
  a.forEach((d, i) => t.deepEqual({ ...viaPair.sites[i], symtabIndex: 0 }, { ...want.get(key(d))!, symtabIndex: 0 }, d.name));
});
