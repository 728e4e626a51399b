// `node dist/test/bench/catalog-scale.js BASE.db [REAL.db ...] --module LIVEPATCH.ko [--builds 10,50,200]
// [--name NAME] [--runs N]`: the catalogue at hundreds of builds. BASE and the REAL indexes (other real builds)
// are added as they are. Synthetic stable releases of BASE then fill it up to each count: each is BASE with
// vmlinux's build-id made unique and every definition line moved, so every object with a duplicated name is
// new to the catalogue (as from Debian 6.1.0-50 to -56, where 1,063 of 1,122 objects changed) while an object
// without one is shared (its names and counts stay). The count-th build is made so (a scratch copy of BASE,
// lines moved) and added by `catalog add`, timed; the ones before it are cloned inside the catalogue in SQL
// (BASE's rows, each changed object under a new objset with its lines moved), which stores what `catalog add`
// would store for them in a fraction of its time (the number of new objsets of both is printed to compare). At
// each count: the catalogue's size, the time of that add, of `catalog sympos NAME` and of `klp check MODULE
// --catalog` (median of N runs), with CPU seconds and the load. Figures are printed, never asserted.
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Database } from '../../src/db/sqlite.js';
import { openDatabase } from '../../src/db/sqlite.js';
import { CLI } from '../helpers/cli.js';
import { type Measure, measure, timed } from './measure.js';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args.splice(at, 2)[1] : undefined;
}

const syntheticId = (baseBuildId: string, k: number) => `${baseBuildId.slice(0, -8)}${k.toString(16).padStart(8, '0')}`;

/** Turns the scratch index into synthetic build k: its vmlinux build-id ends in k, every site line one further. */
function nextRelease(scratch: string, baseBuildId: string, k: number): void {
  const db = openDatabase(scratch);
  try {
    db.transaction(() => {
      db.prepare('UPDATE sites SET decl_line = decl_line + 1 WHERE decl_line IS NOT NULL').run();
      db.prepare("UPDATE objects SET build_id = ? WHERE kind = 'vmlinux'").run(syntheticId(baseBuildId, k));
    })();
  } finally {
    db.close();
  }
}

/**
 * Synthetic build k cloned from the base build's rows: each object with a copy that has a definition line gets a
 * new objset, its lines moved by `shift`; the others are shared, as `catalog add` shares them. Returns the number
 * of new objsets.
 */
function cloneBuild(catalog: Database, base: number, baseBuildId: string, k: number, shift: number): number {
  const id = syntheticId(baseBuildId, k);
  let created = 0;
  catalog.transaction(() => {
    const build = Number(catalog.prepare("INSERT INTO builds (release, flavour, arch, build_id, identity, source, objects) SELECT release, flavour, arch, ?, ?, 'synthetic', objects FROM builds WHERE id = ?")
      .run(id, id, base).lastInsertRowid);
    const objects = catalog.prepare(`SELECT b.objname, b.objset_id AS objset, s.hash, EXISTS (SELECT 1 FROM objset_copies c WHERE c.objset_id = b.objset_id AND c.decl_line IS NOT NULL) AS changes
      FROM build_objects b JOIN objsets s ON s.id = b.objset_id WHERE b.build_id = ?`).all(base) as { objname: string; objset: number; hash: string; changes: number }[];
    const newObjset = catalog.prepare('INSERT INTO objsets (hash) VALUES (?)');
    const names = catalog.prepare('INSERT INTO objset_names SELECT ?, name_id, copies FROM objset_names WHERE objset_id = ?');
    const copies = catalog.prepare('INSERT INTO objset_copies SELECT ?, name_id, rank, alias, decl_file, decl_line + ?, unit, section, letter FROM objset_copies WHERE objset_id = ?');
    const object = catalog.prepare('INSERT INTO build_objects VALUES (?, ?, ?)');
    for (const o of objects) {
      let objset = o.objset;
      if (o.changes) {
        objset = Number(newObjset.run(`${o.hash}+${shift}`).lastInsertRowid);
        names.run(objset, o.objset);
        copies.run(objset, shift, o.objset);
        created++;
      }
      object.run(build, o.objname, objset);
    }
  })();
  return created;
}

function objsetCount(catalog: string): number {
  const db = openDatabase(catalog, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM objsets').pluck().get() as number;
  } finally {
    db.close();
  }
}

const figure = (m: Measure) => `${m.seconds.toFixed(2)} s (CPU ${m.runs.map((r) => r.cpu.toFixed(2)).join('/')})${m.unreliable ? ' UNRELIABLE' : ''}`;

function main(): void {
  const args = process.argv.slice(2);
  const module = option(args, '--module');
  const counts = (option(args, '--builds') ?? '10,50,200').split(',').map(Number).sort((a, b) => a - b);
  const name = option(args, '--name') ?? 'name_show';
  const runs = Math.max(1, Number(option(args, '--runs') ?? 3));
  const [base, ...real] = args.map((a) => resolve(a));
  if (!base || !module) {
    console.error('usage: catalog-scale.js BASE.db [REAL.db ...] --module LIVEPATCH.ko [--builds 10,50,200] [--name NAME] [--runs N]');
    process.exit(2);
  }
  const work = mkdtempSync(join(tmpdir(), 'ksymtree-catalog-scale-'));
  const catalog = join(work, 'catalog.db');
  const scratch = join(work, 'synthetic.db');
  try {
    copyFileSync(base, scratch);
    const source = openDatabase(base, { readonly: true });
    const baseBuildId = source.prepare("SELECT build_id FROM objects WHERE kind = 'vmlinux'").pluck().get() as string;
    source.close();
    const first = timed({ label: 'add real', shell: `node ${q(CLI)} catalog add ${q(catalog)} ${[base, ...real].map(q).join(' ')}` });
    console.log(`${1 + real.length} real builds added in ${first.seconds.toFixed(1)} s (CPU ${first.cpu.toFixed(1)} s): ${(statSync(catalog).size / 1e6).toFixed(1)} MB`);
    console.log('| builds | size | per synthetic build | `catalog add` of the last build | `catalog sympos` | `klp check --catalog` | load (1 min) |');
    console.log('|---|---|---|---|---|---|---|');
    const sizeAtReal = statSync(catalog).size;
    let builds = 1 + real.length;
    let synthetic = 0;
    for (const count of counts) {
      let add = '';
      if (builds < count) {
        const db = openDatabase(catalog);
        const baseId = db.prepare('SELECT id FROM builds WHERE build_id = ?').pluck().get(baseBuildId) as number;
        let cloned = 0;
        while (builds < count - 1) {
          synthetic++;
          cloned = cloneBuild(db, baseId, baseBuildId, 0x10000 + synthetic, 1000 + synthetic);
          builds++;
        }
        db.close();
        nextRelease(scratch, baseBuildId, ++synthetic);
        const before = objsetCount(catalog);
        const m = measure([{ label: 'add', shell: `node ${q(CLI)} catalog add ${q(catalog)} ${q(scratch)} > /dev/null` }], 1)[0];
        builds++;
        add = `${figure(m)}; ${objsetCount(catalog) - before} new objsets${cloned ? ` (a clone: ${cloned})` : ''}`;
      }
      const [sympos, check] = measure([
        { label: 'sympos', shell: `node ${q(CLI)} catalog sympos ${name} --catalog ${q(catalog)} > /dev/null` },
        { label: 'klp check', shell: `node ${q(CLI)} klp check ${q(module)} --catalog ${q(catalog)} > /dev/null` },
      ], runs);
      const size = statSync(catalog).size;
      console.log(`| ${builds} | ${(size / 1e6).toFixed(1)} MB | ${synthetic ? `${((size - sizeAtReal) / synthetic / 1e6).toFixed(2)} MB` : ''} | ${add}`
        + ` | ${figure(sympos)} | ${figure(check)} | ${loadavg()[0].toFixed(2)} |`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
