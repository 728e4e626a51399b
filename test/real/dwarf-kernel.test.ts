// Real-kernel tier for definition sites, gated on the Debian 6.1 cloud debug corpus: every in-object
// duplicate of vmlinux and of a few modules must agree with llvm-dwarfdump-19 (vmlinux: ~4 min of
// llvm-dwarfdump). The whole tree: node dist/test/helpers/dwarf-kernel-check.js OBJECT...
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { findSites } from '../../src/sites/find-sites.js';
import { inObjectDuplicates } from '../helpers/dwarf-duplicates.js';
import { checkObject, summarize } from '../helpers/dwarf-kernel-check.js';
import { haveDwarfdump } from '../helpers/dwarf-oracle.js';

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

(available ? test : test.skip)('vmlinux: every duplicate\'s site agrees with llvm-dwarfdump', async (t) => {
  t.timeout(20 * 60_000);
  const c = await checkObject(join(TREE, 'vmlinux'));
  t.log(summarize(c));
  t.is(c.compared, c.duplicates, 'the oracle could check every duplicate');
  t.deepEqual(c.disagreements.map((d) => `${d.name} ${d.where}: ${d.problem}`), []);
  t.is(c.unrelative, 0);
  t.is(c.errors, 0);
});

const INSTALLED = process.env.KSYMTREE_CORPUS_INSTALLED ?? join(TREE, '../installed');

// bridge.ko: many duplicates; hv_vmbus.ko: zero-size `__key.0` of two files at one address.
for (const m of [MODULES[0], 'kernel/drivers/hv/hv_vmbus.ko']) {
  (available && existsSync(join(INSTALLED, m)) ? test : test.skip)(`${m}: installed (stripped) copy + debug copy give the debug copy's own sites`, async (t) => {
    // Debian's stripped modules have no STT_FILE symbols, so their symbol indices differ from the debug
    // copy's. strip keeps the order of the symbols it keeps: the n-th duplicate of one is the n-th of the other.
    const installed = join(INSTALLED, m);
    const debug = join(TREE, m);
    const a = await inObjectDuplicates(installed);
    const b = await inObjectDuplicates(debug);
    t.notDeepEqual(a.map((d) => d.index), b.map((d) => d.index));
    const same = (d: { section: string; value: bigint; name: string }) => `${d.section}:${d.value}:${d.name}`;
    t.deepEqual(a.map(same), b.map(same));
    const viaPair = await findSites(installed, debug, a.map((d) => ({ symtabIndex: d.index })));
    const direct = await findSites(debug, debug, b.map((d) => ({ symtabIndex: d.index })));
    t.deepEqual(viaPair.errors, []);
    t.deepEqual(viaPair.sites.map((s) => ({ ...s, symtabIndex: 0 })), direct.sites.map((s) => ({ ...s, symtabIndex: 0 })));
  });
}

/** For each local symbol that follows an STT_FILE symbol, that file's name: readelf's view of the groups. */
function fileGroups(path: string): Map<number, string> {
  const out = new Map<number, string>();
  let file: string | null = null;
  for (const line of execFileSync('readelf', ['-sW', path], { encoding: 'utf8', maxBuffer: 1 << 30 }).split('\n')) {
    const m = /^\s*(\d+):\s+\S+\s+\S+\s+(\S+)\s+(\S+)\s+\S+\s+\S+\s+(\S+)$/.exec(line);
    if (!m) continue;
    if (m[2] === 'FILE') file = m[4];
    else if (m[3] === 'LOCAL' && file) out.set(Number(m[1]), file);
  }
  return out;
}

const stemOf = (p: string) => basename(p).replace(/\.[^.]*$/, '');

for (const m of ['kernel/fs/btrfs/btrfs.ko', 'kernel/drivers/nvdimm/libnvdimm.ko']) {
  (available ? test : test.skip)(`${m}: a DIE found for a local duplicate is in the unit its STT_FILE group names (readelf)`, async (t) => {
    // Zero-size `__key.N` of different files can share one address; the symbol table says whose each is.
    const path = join(TREE, m);
    const dups = await inObjectDuplicates(path);
    const { sites } = await findSites(path, path, dups.map((d) => ({ symtabIndex: d.index })));
    const groups = fileGroups(path);
    const checked = sites.filter((s) => s.source === 'decl' && s.unit && groups.has(s.symtabIndex));
    t.true(checked.length > 50, `${checked.length} sites checked`);
    t.deepEqual(checked.filter((s) => stemOf(s.unit!) !== stemOf(groups.get(s.symtabIndex)!))
      .map((s) => `${s.symtabIndex}: unit ${s.unit}, group ${groups.get(s.symtabIndex)}`), []);
  });
}
