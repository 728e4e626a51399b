// Real-kernel tier for address tables (Debian 6.1 cloud-amd64 debug tree): vmlinux's and 7 modules' tables
// answer a deterministic sample of places exactly as the DWARF walk does (whose answers symbolize-real.test.ts
// holds against llvm-symbolizer-19 and eu-addr2line), and `symbolize` builds, reads and replaces them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { addressFrames, type SourceFrame } from '../../src/dwarf/addr2line.js';
import { AddressTable } from '../../src/dwarf/address-table.js';
import type { Address } from '../../src/dwarf/section.js';
import { readBuildId } from '../../src/scan/build-id.js';
import { codePlaces, openDwarf, writeTableFile } from '../helpers/address-tables.js';
import { symbolizeFrames } from '../bench/symbolize-frames.js';
import { CLI, ksymtree } from '../helpers/cli.js';
import { corpus61 } from '../helpers/corpus.js';
import { sampleFunctions } from '../helpers/symbolize-oracle.js';

const corpus = corpus61();
const real = corpus ? test.serial : test.skip;
const dir = mkdtempSync(join(tmpdir(), 'ksymtree-real-address-table-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

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

// ---- the command: tables built beside the index, then read; damaged and stale tables replaced ----

real('symbolize: the first run builds the tables, warm runs read them, a damaged or stale table is replaced; output equals --no-tables', async (t) => {
  const db = join(dir, 'debug.db');
  const r = await ksymtree(['index', corpus!.debug, '--db', db, '--quiet']);
  t.is(r.status, 0, r.stderr);
  const { log } = symbolizeFrames(db, 3000);
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'symbolize', '--db', db, ...args], { input: log, encoding: 'utf8', maxBuffer: 1 << 28 });
  const walked = run('--no-tables');
  t.true(walked.stdout.split('\n').length > 3000);
  t.false(existsSync(`${db}.tables`), '--no-tables writes nothing');
  const tables = `${db}.tables`;
  const first = run();
  t.is(first.stdout, walked.stdout);
  // vmlinux's (2,700 places), and the modules' with 100 places or of 16 MB or less (the others are walked).
  const vmlinuxId = (await readBuildId(join(corpus!.debug, 'vmlinux')))!;
  const files = readdirSync(tables).sort();
  t.true(files.includes(`${vmlinuxId}.addr`) && files.length >= 4, files.join(' '));
  t.true(files.every((f) => /^[0-9a-f]{40}\.addr$/.test(f)), files.join(' '));
  t.is(run().stdout, walked.stdout, 'warm');
  t.is(run('-j', '1', '--format', 'json').stdout, run('--no-tables', '-j', '1', '--format', 'json').stdout, 'json, one thread');

  // A flipped byte in the middle of vmlinux's table (a unit block): refused, the run walks, the file is dropped.
  const vmlinuxTable = join(tables, `${vmlinuxId}.addr`);
  const good = readFileSync(vmlinuxTable);
  const bad = Buffer.from(good);
  bad[bad.length >> 1] ^= 1;
  writeFileSync(vmlinuxTable, bad);
  t.is(run().stdout, walked.stdout, 'damaged table');
  t.false(existsSync(vmlinuxTable), 'the damaged table is dropped');
  t.is(run().stdout, walked.stdout, 'rebuilt');
  t.true(readFileSync(vmlinuxTable).equals(good), 'the rebuilt table has the same bytes');

  // A module's table replaced by another module's (another build-id inside): stale, rebuilt, not used.
  const [one, other] = files.filter((f) => f !== `${vmlinuxId}.addr`);
  const oneBytes = readFileSync(join(tables, one));
  writeFileSync(join(tables, one), readFileSync(join(tables, other)));
  t.is(run().stdout, walked.stdout, 'stale table');
  t.true(readFileSync(join(tables, one)).equals(oneBytes), 'the stale table is rebuilt');
});
