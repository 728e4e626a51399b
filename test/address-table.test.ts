// Address tables on the DWARF fixtures: every code byte answered as the DWARF walk answers it (relocatable and
// linked, DWARF 2-5, gcc and clang), deterministic bytes, and stale, truncated, corrupt or half-written
// tables never trusted.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { addressFrames, type SourceFrame } from '../src/dwarf/addr2line.js';
import { AddressTable, AddressTableError, type TableIdentity } from '../src/dwarf/address-table.js';
import type { Address } from '../src/dwarf/section.js';
import { openTable, writeTable } from '../src/symbolize/address-tables.js';
import { codePlaces, openDwarf, writeTableFile } from './helpers/address-tables.js';
import { buildDwarfFixtures } from './helpers/build-dwarf-fixtures.js';
import { haveDwarfdump } from './helpers/dwarf-oracle.js';

// Built before any test is declared: ava takes every declaration in the module's first run.
const fixtures = haveDwarfdump() ? await buildDwarfFixtures() : null;
const dir = mkdtempSync(join(tmpdir(), 'ksymtree-address-table-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const ID: TableIdentity = { buildId: 'test', size: 1 };

/** The walk's frames and the table's for the same places of `path`. */
async function both(path: string, table: string, places: (o: Awaited<ReturnType<typeof openDwarf>>) => Address[]) {
  const o = await openDwarf(path);
  try {
    const targets = places(o);
    const walk = addressFrames(o.dwarf, o.units, targets);
    const t = AddressTable.open(table, ID)!;
    try {
      return { targets, walk, table: t.frames(targets) };
    } finally {
      t.close();
    }
  } finally {
    o.close();
  }
}

const show = (f: SourceFrame[]) => f.map((x) => `${x.function} ${x.file}:${x.line}:${x.column}`).join(' < ');

(fixtures ? test : test.skip)('every code byte of every fixture: the table answers as the DWARF walk does', async (t) => {
  const objects = fixtures!.fixtures.flatMap((f) => [f.relocatable, ...(f.linked ? [f.linked] : [])].map((path) => ({ name: f.name, path })));
  t.true(objects.length >= 8, `only ${objects.length} fixture objects were built`);
  let answered = 0;
  let inlined = 0;
  for (const [k, { name, path }] of objects.entries()) {
    const { file } = await writeTableFile(path, dir, `fixture-${k}.addr`, ID);
    const r = await both(path, file, (o) => codePlaces(o, 1));
    const bad = r.targets.flatMap((p, i) => (JSON.stringify(r.walk[i]) === JSON.stringify(r.table[i]) ? []
      : [`${name} ${path} ${p.section}:0x${p.value.toString(16)}: walk ${show(r.walk[i])}; table ${show(r.table[i])}`]));
    for (const b of bad.slice(0, 20)) t.log(b);
    t.is(bad.length, 0, `${name}: ${bad.length} of ${r.targets.length} places differ`);
    answered += r.walk.filter((f) => f.length > 0).length;
    inlined += r.walk.filter((f) => f.length > 1).length;
  }
  t.log(`${objects.length} objects, ${answered} code bytes with frames, ${inlined} inside inlined code`);
  t.true(answered > 1000);
  t.true(inlined > 0, 'the fixtures exercise inlined code');
});

const base = fixtures?.fixtures.find((f) => f.name === 'x86_64-dwarf5-debian');

(base ? test : test.skip)('the same object gives the same table bytes', async (t) => {
  const a = await writeTableFile(base!.relocatable, dir, 'same-a.addr', ID);
  const b = await writeTableFile(base!.relocatable, dir, 'same-b.addr', ID);
  t.true(a.bytes.equals(b.bytes));
});

(base ? test : test.skip)('a table of another build-id or size is stale: not opened, and writeTable replaces it', async (t) => {
  const sub = join(dir, 'stale');
  mkdirSync(sub);
  const { file } = await writeTableFile(base!.relocatable, sub, 'x.addr', { buildId: 'aaaa', size: 10 });
  t.not(AddressTable.open(file, { buildId: 'aaaa', size: 10 }), null);
  t.is(AddressTable.open(file, { buildId: 'bbbb', size: 10 }), null);
  t.is(AddressTable.open(file, { buildId: 'aaaa', size: 11 }), null);
  const place = { file, identity: { buildId: 'bbbb', size: 10 } };
  t.is(openTable(place), null);
  t.is(await writeTable(base!.relocatable, place), null);
  const rebuilt = openTable(place);
  t.not(rebuilt, null);
  t.deepEqual(rebuilt!.meta.buildId, 'bbbb');
  rebuilt!.close();
  t.deepEqual(readdirSync(sub), ['x.addr'], 'no temporary file is left');
});

(base ? test : test.skip)('a truncated or corrupt table is an error or stale, never an answer that differs', async (t) => {
  const { file, bytes } = await writeTableFile(base!.relocatable, dir, 'good.addr', ID);
  const good = await both(base!.relocatable, file, (o) => codePlaces(o, 1));
  const headBytes = bytes.readUInt32LE(8 + 20);
  const cuts = [0, 7, 20, headBytes - 1, headBytes, headBytes + 3, Math.floor((headBytes + bytes.length) / 2), bytes.length - 1];
  // Every byte of the head's fixed words (the head length's high byte would ask for gigabytes), then spread out.
  const flips = [...Array.from({ length: 32 }, (_, k) => k), ...Array.from({ length: 64 }, (_, k) => Math.floor((k * bytes.length) / 64) + (k % 7))];
  const variants = [
    ...cuts.map((n) => ({ what: `cut at ${n}`, data: bytes.subarray(0, n) })),
    ...flips.map((at) => {
      const data = Buffer.from(bytes);
      data[at] ^= 0x10;
      return { what: `byte ${at} flipped`, data };
    }),
  ];
  let refused = 0;
  for (const [k, v] of variants.entries()) {
    const path = join(dir, `bad-${k}.addr`);
    writeFileSync(path, v.data);
    let answer: SourceFrame[][] | null = null;
    try {
      const table = AddressTable.open(path, ID);
      if (table) {
        try {
          answer = table.frames(good.targets);
        } finally {
          table.close();
        }
      }
    } catch (e) {
      t.true(e instanceof AddressTableError, `${v.what}: ${(e as Error).stack}`);
      t.regex((e as Error).message, new RegExp(`^${path}: address table at offset \\d+: expected `));
    }
    if (answer === null) refused++;
    else t.is(JSON.stringify(answer), JSON.stringify(good.table), `${v.what}: a damaged table answered differently`);
  }
  t.is(refused, variants.length, 'every damaged table is refused (checksums cover every byte the answers read)');
  t.is(openTable({ file: join(dir, 'bad-3.addr'), identity: ID }), null, 'openTable: damaged means rebuild');
});

(base ? test : test.skip)('a table that cannot be written leaves nothing; a leftover temporary file is never read', async (t) => {
  const blocked = join(dir, 'blocked');
  writeFileSync(blocked, 'a file where the table directory should be');
  const place = { file: join(blocked, 'x.addr'), identity: ID };
  const why = await writeTable(base!.relocatable, place);
  t.regex(why ?? '', /no address table: /);
  t.false(existsSync(place.file));
  // An interrupted write: the temporary file holds the first half of a good table; the table's name does not exist.
  const sub = join(dir, 'interrupted');
  mkdirSync(sub);
  const { bytes } = await writeTableFile(base!.relocatable, dir, 'whole.addr', ID);
  writeFileSync(join(sub, 'x.addr.123.abc.tmp'), bytes.subarray(0, bytes.length >> 1));
  t.is(openTable({ file: join(sub, 'x.addr'), identity: ID }), null);
  t.true(readFileSync(join(dir, 'whole.addr')).equals(bytes));
});
