// The index command as users run it: exit codes, error rows, the atomic index, schema versions, defaults.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import test from 'ava';
import { openDatabase } from '../src/db/sqlite.js';
import { buildFixtures } from './helpers/build-fixtures.js';
import { CLI, ksymtree, parseTsv } from './helpers/cli.js';

const fixtures = buildFixtures();
const work = mkdtempSync(join(tmpdir(), 'ksymtree-index-'));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

test('a good tree indexes with exit 0, one object row per file and the db path printed', async (t) => {
  const fx = await fixtures;
  const db = join(work, 'good.db');
  const r = await ksymtree(['index', fx.tree.root, '--db', db, '--quiet', '--no-aliases']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, new RegExp(`-> ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const rows = parseTsv((await ksymtree(['symbols', '--db', db])).stdout);
  const objects = new Set(rows.map((r) => r.object));
  t.deepEqual([...objects].sort(), [fx.tree.vmlinux, ...fx.tree.modules].sort());
});

test('bad objects get one clear error row each, every good object is still indexed, exit code 1', async (t) => {
  const fx = await fixtures;
  const tree = join(work, 'mixed');
  mkdirSync(join(tree, 'kernel'), { recursive: true });
  const good = fx.tree.modules.filter((m) => m.endsWith('.ko'));
  for (const m of good) copyFileSync(m, join(tree, 'kernel', basename(m)));
  const bad = fx.bad.filter((b) => b.available);
  // Every bad input gets a module file name, so that the walk picks it up as an object.
  const copyName = (b: (typeof bad)[number]) => `${b.kind}-${basename(b.path)}${/\.ko(\.(gz|xz|zst))?$/.test(b.path) ? '' : '.ko'}`;
  for (const b of bad) copyFileSync(b.path, join(tree, 'kernel', copyName(b)));
  const db = join(work, 'mixed.db');
  const r = await ksymtree(['index', tree, '--db', db, '--quiet', '--no-aliases']);
  t.is(r.status, 1, r.stderr);
  const sqlite = openDatabase(db, { readonly: true });
  const errors = sqlite.prepare('SELECT path, message FROM errors').all() as { path: string; message: string }[];
  const indexed = sqlite.prepare("SELECT path FROM objects WHERE status = 'ok'").pluck().all() as string[];
  sqlite.close();
  for (const b of bad) {
    const path = join(tree, 'kernel', copyName(b));
    const mine = errors.filter((e) => e.path === path);
    t.true(mine.length >= 1, `${b.kind}: an error row`);
    t.true(mine.every((e) => e.message.startsWith(path) && /offset 0x[0-9a-f]+/.test(e.message)), `${b.kind}: ${mine.map((e) => e.message).join('; ')}`);
  }
  for (const m of good) t.true(indexed.includes(join(tree, 'kernel', basename(m))), `${m} indexed`);
  const listed = (await ksymtree(['errors', '--db', db])).stdout;
  t.is(listed.trim().split('\n').length, errors.length);
});

test('--jobs 1, 2 and 4 give the same rows in every table and the same file, byte for byte', async (t) => {
  const fx = await fixtures;
  // The whole fixture tree (duplicates, sites, aliases) with bad objects among it (error rows).
  const tree = join(work, 'jobs');
  mkdirSync(join(tree, 'kernel'), { recursive: true });
  for (const m of fx.tree.modules) copyFileSync(m, join(tree, 'kernel', basename(m)));
  copyFileSync(fx.tree.vmlinux, join(tree, 'vmlinux'));
  fx.bad.filter((b) => b.available).forEach((b, i) => copyFileSync(b.path, join(tree, 'kernel', `bad${i}.ko`)));
  const dump = (db: string) => {
    const sqlite = openDatabase(db, { readonly: true });
    const tables = sqlite.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[];
    const rows = Object.fromEntries(tables.map((name) => [name, sqlite.prepare(`SELECT * FROM ${name}`).raw().all()]));
    sqlite.close();
    return rows;
  };
  const runs = [];
  for (const jobs of ['1', '2', '4']) {
    const db = join(work, `jobs${jobs}.db`);
    const r = await ksymtree(['index', tree, '--db', db, '--quiet', '--jobs', jobs]);
    t.is(r.status, 1, r.stderr);
    runs.push({ jobs, db, rows: dump(db) });
  }
  const [one, ...others] = runs;
  t.true((one.rows.aliases as unknown[]).length > 0 && (one.rows.sites as unknown[]).length > 0 && (one.rows.errors as unknown[]).length > 0);
  for (const o of others) {
    for (const table of Object.keys(one.rows)) t.deepEqual(o.rows[table], one.rows[table], `--jobs ${o.jobs}: table ${table}`);
    t.is(sha(o.db), sha(one.db), `--jobs ${o.jobs}: file`);
  }
});

test('a directory cycle is reported once and not walked forever; the rest is indexed', async (t) => {
  const fx = await fixtures;
  const db = join(work, 'cycle.db');
  const r = await ksymtree(['index', fx.cycleTree, '--db', db, '--quiet', '--no-aliases']);
  t.is(r.status, 1, r.stderr);
  const sqlite = openDatabase(db, { readonly: true });
  const messages = sqlite.prepare("SELECT message FROM errors WHERE kind = 'walk'").pluck().all() as string[];
  const objects = sqlite.prepare('SELECT count(*) FROM objects').pluck().get() as number;
  sqlite.close();
  t.is(messages.length, 1);
  t.regex(messages[0], /already walked/);
  t.true(objects > 0);
});

/** A tree large enough that an index run is still going when it is interrupted: many links to one module. */
function slowTree(modulePath: string): string {
  const tree = join(work, 'slow');
  mkdirSync(join(tree, 'kernel'), { recursive: true });
  for (let i = 0; i < 1500; i++) symlinkSync(modulePath, join(tree, 'kernel', `m${i}.ko`));
  return tree;
}

for (const signal of ['SIGINT', 'SIGKILL'] as const) {
  test.serial(`an index run stopped by ${signal} leaves the previous index byte-identical`, async (t) => {
    const fx = await fixtures;
    const db = join(work, `interrupted-${signal}.db`);
    t.is((await ksymtree(['index', fx.tree.root, '--db', db, '--quiet', '--no-aliases'])).status, 0);
    const before = sha(db);
    const tree = existsSync(join(work, 'slow')) ? join(work, 'slow') : slowTree(fx.tree.modules.find((m) => m.endsWith('.ko'))!);
    const child = spawn(process.execPath, [CLI, 'index', tree, '--db', db, '--quiet', '--no-aliases', '--jobs', '1'], { stdio: 'ignore' });
    const tempPrefix = `.${basename(db)}.tmp-`;
    const started = Date.now();
    while (!readdirSync(work).some((n) => n.startsWith(tempPrefix)) && Date.now() - started < 20_000) {
      await new Promise((r) => setTimeout(r, 5));
    }
    t.true(readdirSync(work).some((n) => n.startsWith(tempPrefix)), 'the run was building its temporary index');
    child.kill(signal);
    await new Promise((r) => child.on('close', r));
    t.is(sha(db), before);
    if (signal === 'SIGINT') t.false(readdirSync(work).some((n) => n.startsWith(tempPrefix)), 'temporary index removed');
    // The next run removes what a killed run left behind.
    t.is((await ksymtree(['index', fx.tree.root, '--db', db, '--quiet', '--no-aliases'])).status, 0);
    t.false(readdirSync(work).some((n) => n.startsWith(tempPrefix)));
  });
}

test('an index of another schema version is refused with a message to re-run index', async (t) => {
  const fx = await fixtures;
  const db = join(work, 'old.db');
  t.is((await ksymtree(['index', fx.tree.root, '--db', db, '--quiet', '--no-aliases'])).status, 0);
  const sqlite = openDatabase(db);
  sqlite.pragma('user_version = 999');
  sqlite.close();
  const r = await ksymtree(['symbols', '--db', db]);
  t.is(r.status, 2);
  t.regex(r.stderr, /schema version 999.*re-run `ksymtree index`/);
});

test('without --db the index goes beside the tree when it is writable', async (t) => {
  const fx = await fixtures;
  const tree = join(work, 'writable');
  mkdirSync(tree);
  copyFileSync(fx.tree.modules.find((m) => m.endsWith('.ko'))!, join(tree, 'one.ko'));
  const r = await ksymtree(['index', tree, '--quiet', '--no-aliases']);
  t.is(r.status, 0, r.stderr);
  t.true(existsSync(join(tree, 'ksymtree.db')));
  t.true(r.stderr.includes(join(tree, 'ksymtree.db')));
});

test('usage errors and missing inputs exit with 2 and say what is wrong', async (t) => {
  const missing = await ksymtree(['index', join(work, 'does-not-exist'), '--db', join(work, 'x.db')]);
  t.is(missing.status, 2);
  t.regex(missing.stderr, /does-not-exist: no such file or directory/);
  const badJobs = await ksymtree(['index', '--jobs', 'zero']);
  t.is(badJobs.status, 2);
  t.regex(badJobs.stderr, /positive integer/);
  const noDb = await ksymtree(['symbols', '--db', join(work, 'none.db')]);
  t.is(noDb.status, 2);
  t.regex(noDb.stderr, /ksymtree index/);
});
