// Real-kernel tier for address tables (Debian 6.1 cloud-amd64 debug tree): vmlinux's and 7 modules' tables
// answer a deterministic sample of places exactly as the DWARF walk does (whose answers symbolize-real.test.ts
// holds against llvm-symbolizer-19 and eu-addr2line): function bodies, inlined code, padding, init text.
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { addressFrames, type SourceFrame } from '../../src/dwarf/addr2line.js';
import { AddressTable } from '../../src/dwarf/address-table.js';
import type { Address } from '../../src/dwarf/section.js';
import { readBuildId } from '../../src/scan/build-id.js';
import { codePlaces, openDwarf, writeTableFile } from '../helpers/address-tables.js';
import { corpus61 } from '../helpers/corpus.js';
import { sampleFunctions } from '../helpers/symbolize-oracle.js';

const corpus = corpus61();
const real = corpus ? test.serial : test.skip;
const dir = mkdtempSync(join(tmpdir(), 'ksymtree-real-address-table-'));

const MODULES = ['net/bridge/bridge.ko', 'net/ceph/libceph.ko', 'fs/btrfs/btrfs.ko', 'fs/smb/client/cifs.ko', 'net/sctp/sctp.ko',
  'fs/overlayfs/overlay.ko', 'drivers/net/wireguard/wireguard.ko'];

const show = (f: SourceFrame[]) => f.map((x) => `${x.function} ${x.file}:${x.line}:${x.column}`).join(' < ');

/** Places of `path` where the table and the walk differ, as text; and how many places had frames, inlined ones. */
async function compare(path: string, places: (o: Awaited<ReturnType<typeof openDwarf>>) => Address[]) {
  const identity = { buildId: (await readBuildId(path))!, size: statSync(path).size };
  const { file } = await writeTableFile(path, dir, `${identity.buildId}.addr`, identity);
  const o = await openDwarf(path, identity);
  const table = AddressTable.open(file, identity)!;
  try {
    const targets = places(o);
    const walk = addressFrames(o.dwarf, o.units, targets);
    const mine = table.frames(targets);
    const bad = targets.flatMap((p, i) => (JSON.stringify(walk[i]) === JSON.stringify(mine[i]) ? []
      : [`${path} ${p.section}:0x${p.value.toString(16)}: walk ${show(walk[i])}; table ${show(mine[i])}`]));
    return { bad, places: targets.length, answered: walk.filter((f) => f.length > 0).length, inlined: walk.filter((f) => f.length > 1).length };
  } finally {
    table.close();
    o.close();
  }
}

real('vmlinux: 20,000 places inside functions and every 997th code byte get the DWARF walk\'s frames from the table', async (t) => {
  const vmlinux = join(corpus!.debug, 'vmlinux');
  const sample = sampleFunctions(vmlinux, 2, 20000);
  const r = await compare(vmlinux, (o) => [...sample.map((s) => ({ section: 0, value: s.value + s.offset })), ...codePlaces(o, 997)]);
  t.log(`${r.places} places, ${r.answered} with frames, ${r.inlined} inside inlined code, ${r.bad.length} differ`);
  for (const b of r.bad.slice(0, 30)) t.log(b);
  t.true(r.places >= 30000);
  t.true(r.inlined > 3000);
  t.deepEqual(r.bad, []);
});

real('7 modules: every 7th byte of their code sections gets the DWARF walk\'s frames from the table', async (t) => {
  const bad: string[] = [];
  let places = 0;
  let inlined = 0;
  for (const rel of MODULES) {
    const r = await compare(join(corpus!.debug, 'kernel', rel), (o) => codePlaces(o, 7));
    bad.push(...r.bad);
    places += r.places;
    inlined += r.inlined;
  }
  t.log(`${places} places, ${inlined} inside inlined code, ${bad.length} differ`);
  for (const b of bad.slice(0, 30)) t.log(b);
  t.true(places >= 100000);
  t.deepEqual(bad, []);
});
