// `ksymtree catalog add`, `catalog sympos` and `klp check --catalog` on the three fixture kernel builds of
// test/helpers/build-klp-fixtures.ts. Oracles: readelf -n (each vmlinux's build-id), readelf -s (foo.ko's copies
// of helper in .symtab order, by the STT_FILE before each), nm (whether two vmlinux are the same), and
// `klp check --db` on each build's own index (the catalogue must answer alike).
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import test from 'ava';
import { openDatabase } from '../src/db/sqlite.js';
import { buildKlpFixtures } from './helpers/build-klp-fixtures.js';
import { ksymtree } from './helpers/cli.js';
import { moduleFiles } from './helpers/copy-oracle.js';
import { exec } from './helpers/exec.js';
import type { CatalogSymposRecord } from '../src/commands/catalog.js';
import type { KlpCheckRecord } from '../src/commands/klp.js';

const f = await buildKlpFixtures();
const builds = [f.builds.A, f.builds.B, f.builds.C];
const buildIds = new Map(await Promise.all(builds.map(async (b) =>
  [b.vmlinux, /Build ID: ([0-9a-f]+)/.exec((await exec('readelf', ['-n', b.vmlinux])).stdout)![1]] as const)));
/** The vmlinux's build-id, as readelf -n prints it. */
const buildId = (vmlinux: string) => buildIds.get(vmlinux)!;
const catalog = join(f.work, 'catalog.db');

test.serial('catalog add merges each build once; an object identical in two builds is stored once; adding again replaces', async (t) => {
  const r = await ksymtree(['catalog', 'add', catalog, ...builds.map((b) => b.db)]);
  t.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.is(lines.length, 4);
  for (const [k, b] of builds.entries()) t.true(lines[k].startsWith(`added 6.1.0-ksymtree x86_64 build-id ${buildId(b.vmlinux)}: 2 objects`), lines[k]);
  // C's vmlinux is built from the same sources and order as A's.
  const sameVmlinux = (await exec('nm', ['-n', f.builds.A.vmlinux])).stdout === (await exec('nm', ['-n', f.builds.C.vmlinux])).stdout;
  t.true(sameVmlinux);
  t.regex(lines[2], /2 objects, 1 not already in the catalogue/);
  t.regex(lines[3], /: 3 builds, \d+ bytes$/);
  const again = await ksymtree(['catalog', 'add', catalog, f.builds.A.db]);
  t.regex(again.stdout, /^replaced 6\.1\.0-ksymtree x86_64 .*2 objects, 0 not already in the catalogue/);
  t.regex(again.stdout, /: 3 builds, /);
  const db = openDatabase(catalog, { readonly: true });
  t.is(db.prepare('SELECT count(*) FROM objsets').pluck().get(), 5);
  t.deepEqual(db.prepare('SELECT flavour, arch FROM builds GROUP BY flavour, arch').raw().all(), [['ksymtree', 'x86_64']]);
  db.close();
});

test.serial('catalog sympos: every build\'s copies of helper in foo.ko in readelf\'s .symtab order, with their sites', async (t) => {
  const r = await ksymtree(['catalog', 'sympos', 'helper', '--catalog', catalog, '--object', 'foo', '--format', 'json']);
  t.is(r.status, 0, r.stderr);
  const records = JSON.parse(r.stdout) as CatalogSymposRecord[];
  t.is(records.length, 3);
  for (const b of builds) {
    const rec = records.find((x) => x.build_id === buildId(b.vmlinux))!;
    t.truthy(rec, b.dir);
    t.is(rec.object, 'foo');
    t.deepEqual(rec.copies.map((c) => [c.sympos, basename(c.decl_file!)]), (await moduleFiles(b.foo, 'helper')).map((file, k) => [k + 1, file]));
  }
  // Without --object: every object that has the name (vmlinux first); a unique name has sympos 0 and no site.
  const tick = JSON.parse((await ksymtree(['catalog', 'sympos', 'sched_tick', '--catalog', catalog, '--format', 'json'])).stdout) as CatalogSymposRecord[];
  t.deepEqual(tick.map((x) => [x.object, x.copies]), builds.map(() => ['vmlinux', [{ sympos: 0, alias: null, decl_file: null, decl_line: null, unit: null }]]));
  const none = await ksymtree(['catalog', 'sympos', 'no_such_name', '--catalog', catalog]);
  t.is(none.status, 2);
  t.regex(none.stderr, /no_such_name: in no build of/);
});

test.serial('klp check --catalog answers as klp check --db on each build\'s own index', async (t) => {
  for (const module of [f.sample, f.klpSym]) {
    const viaCatalog = await ksymtree(['klp', 'check', module, '--reference', f.builds.A.db, '--catalog', catalog, '--format', 'json']);
    const viaDb = await ksymtree(['klp', 'check', module, '--reference', f.builds.A.db, ...builds.flatMap((b) => ['--db', b.db]), '--format', 'json']);
    t.is(viaCatalog.status, viaDb.status);
    const cat = JSON.parse(viaCatalog.stdout) as KlpCheckRecord;
    const per = JSON.parse(viaDb.stdout) as KlpCheckRecord;
    for (const [k, r] of per.references.entries()) {
      // A is the reference itself when given as an index (not compared with itself); in the catalogue it is a target matching its own sites.
      const selfInCatalog = cat.references[k].builds.find((x) => x.db.includes(`build-id ${buildId(f.builds.A.vmlinux).slice(0, 12)}`))!;
      t.true(selfInCatalog.ok && ['site', 'unique'].includes(selfInCatalog.match!), `${r.name} in A`);
      for (const b of [f.builds.B, f.builds.C]) {
        const fromDb = r.builds.find((x) => x.db === b.db)!;
        const fromCatalog = cat.references[k].builds.find((x) => x.db.includes(`build-id ${buildId(b.vmlinux).slice(0, 12)}`))!;
        // Unique names keep no site in the catalogue; everything the check decides on is the same.
        t.deepEqual([fromCatalog.status, fromCatalog.copies, fromCatalog.bound?.alias, fromCatalog.match, fromCatalog.sympos_to_bind],
          [fromDb.status, fromDb.copies, fromDb.bound?.alias, fromDb.match, fromDb.sympos_to_bind], `${r.name} in ${basename(b.dir)}`);
      }
    }
  }
});

test.serial('a catalogue of another schema version, or an index that cannot be opened, is refused with exit 2', async (t) => {
  const other = join(f.work, 'other.db');
  const db = openDatabase(other);
  db.pragma('user_version = 99');
  db.close();
  const r = await ksymtree(['catalog', 'sympos', 'helper', '--catalog', other]);
  t.is(r.status, 2);
  t.regex(r.stderr, /schema version 99, this ksymtree reads version 1/);
  const notIndex = join(f.work, 'not-an-index.db');
  writeFileSync(notIndex, 'not sqlite');
  const bad = await ksymtree(['catalog', 'add', catalog, notIndex]);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /not-an-index\.db/);
  const still = openDatabase(catalog, { readonly: true });
  t.is(still.prepare('SELECT count(*) FROM builds').pluck().get(), 3);
  still.close();
});
