// What packagers and scripts meet at the command line: where the index is found (one rule, KSYMTREE_DB,
// the places looked at), failed files named on stderr, --format json, help with examples, the man page.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import test from 'ava';
import { openDatabase } from '../src/db/sqlite.js';
import { buildFixtures } from './helpers/build-fixtures.js';
import { ksymtree, parseTsv } from './helpers/cli.js';

const fixtures = buildFixtures();
const work = mkdtempSync(join(tmpdir(), 'ksymtree-cli-'));
const NO_ENV = { KSYMTREE_DB: undefined };

/** A tree of the fixture's modules (and vmlinux), indexed with no --db: the index goes to <tree>/ksymtree.db. */
async function indexedTree(name: string, modules?: (m: string) => boolean): Promise<string> {
  const fx = await fixtures;
  const tree = join(work, name);
  mkdirSync(join(tree, 'kernel'), { recursive: true });
  copyFileSync(fx.tree.vmlinux, join(tree, 'vmlinux'));
  for (const m of fx.tree.modules.filter(modules ?? (() => true))) copyFileSync(m, join(tree, 'kernel', basename(m)));
  const r = await ksymtree(['index', tree, '--quiet'], { env: NO_ENV });
  if (r.status !== 0) throw new Error(r.stderr);
  return tree;
}

const count = (db: string, sql: string) => {
  const s = openDatabase(db, { readonly: true });
  try {
    return s.prepare(sql).pluck().get() as number;
  } finally {
    s.close();
  }
};

test('queries find the index where index put it: --db, KSYMTREE_DB, <TREE>/ksymtree.db, ./ksymtree.db; else they say where they looked', async (t) => {
  const tree = await indexedTree('where-is-it');
  const db = join(tree, 'ksymtree.db');
  const empty = mkdtempSync(join(work, 'cwd-'));
  // Nothing given, nothing in the working directory: exit 2, naming the running kernel's tree and ./ksymtree.db.
  const none = await ksymtree(['stats'], { cwd: empty, env: NO_ENV });
  t.is(none.status, 2);
  t.true(none.stderr.includes(join(empty, 'ksymtree.db')), none.stderr);
  t.regex(none.stderr, new RegExp(`/lib/modules/${release().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/ksymtree\\.db`));
  t.regex(none.stderr, /KSYMTREE_DB/);
  // KSYMTREE_DB is honoured by every reader, and by index as the place to write.
  const objects = count(db, 'SELECT count(*) FROM objects');
  const viaEnv = await ksymtree(['stats', '--format', 'json'], { cwd: empty, env: { KSYMTREE_DB: db } });
  t.is(viaEnv.status, 0, viaEnv.stderr);
  t.is(JSON.parse(viaEnv.stdout).objects.total, objects);
  for (const cmd of [['aliases'], ['symbols'], ['kallsyms'], ['errors'], ['lookup', 'helper'], ['verify']]) {
    const r = await ksymtree(cmd, { cwd: empty, env: { KSYMTREE_DB: db } });
    t.not(r.status, 2, `${cmd[0]}: ${r.stderr}`);
  }
  const elsewhere = join(work, 'env-written.db');
  const written = await ksymtree(['index', tree, '--quiet', '--no-aliases'], { env: { KSYMTREE_DB: elsewhere } });
  t.is(written.status, 0, written.stderr);
  t.true(written.stderr.includes(`-> ${elsewhere}`));
  // --db beats KSYMTREE_DB; a missing --db file is named.
  const missing = await ksymtree(['stats', '--db', join(empty, 'nope.db')], { env: { KSYMTREE_DB: db } });
  t.is(missing.status, 2);
  t.true(missing.stderr.includes(join(empty, 'nope.db')));
  // ./ksymtree.db is the last place looked at.
  copyFileSync(db, join(empty, 'ksymtree.db'));
  t.is((await ksymtree(['stats'], { cwd: empty, env: NO_ENV })).status, 0);
  // apply and verify with a TREE read the index index wrote beside it.
  const dry = await ksymtree(['apply', tree, '--dry-run', '-q'], { cwd: mkdtempSync(join(work, 'cwd-')), env: NO_ENV });
  t.not(dry.status, 2, dry.stderr);
  t.true(dry.stderr.includes(`index ${db}`), dry.stderr);
});

test('index names each failed file on stderr as `ksymtree errors` words it: the first 20, then how many more', async (t) => {
  const fx = await fixtures;
  const tree = join(work, 'many-bad');
  mkdirSync(join(tree, 'kernel'), { recursive: true });
  copyFileSync(fx.tree.modules.find((m) => m.endsWith('.ko'))!, join(tree, 'kernel', 'good.ko'));
  const bad = fx.bad.filter((b) => b.available);
  for (let i = 0; i < 24; i++) copyFileSync(bad[i % bad.length].path, join(tree, 'kernel', `bad-${String(i).padStart(2, '0')}.ko`));
  const db = join(work, 'many-bad.db');
  const r = await ksymtree(['index', tree, '--db', db, '--quiet', '--no-aliases'], { env: NO_ENV });
  t.is(r.status, 1, r.stderr);
  // The oracle: the errors table, first row of each file in path then offset order.
  const s = openDatabase(db, { readonly: true });
  const rows = s.prepare('SELECT path, message FROM errors ORDER BY path, offset').all() as { path: string; message: string }[];
  s.close();
  const firsts = [...new Map(rows.reverse().map((e) => [e.path, e.message])).entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, m]) => m);
  t.is(firsts.length, 24);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('ksymtree: ') && !/indexed|errors in|alias shortened|kernel config:/.test(l));
  t.deepEqual(lines.slice(0, 20), firsts.slice(0, 20).map((m) => `ksymtree: ${m}`));
  t.true(lines.every((l, i) => i < 20 || !l.includes('/bad-')), 'no more than 20 file lines');
  t.regex(r.stderr, /ksymtree: \.\.\. and 4 more \(`ksymtree errors --db /);
  t.true(firsts.every((m) => /^\S+\/bad-\d\d\.ko: /.test(m)), 'each line starts with the path');
  const listed = (await ksymtree(['errors', '--db', db])).stdout.trim().split('\n');
  t.true(firsts.every((m) => listed.includes(m)));
});

test('--format json: lookup, where, resolve, stats, diff and errors print the documented fields, agreeing with the index and readelf', async (t) => {
  const tree = await indexedTree('json');
  const db = join(tree, 'ksymtree.db');
  const json = async (args: string[]) => {
    const r = await ksymtree([...args, '--format', 'json'], { env: NO_ENV });
    t.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const foo = (await fixtures).tree.modules.find((m) => basename(m) === 'foo.ko')!;
  // readelf: the helper copies of foo.ko and their values.
  const readelf = execFileSync('readelf', ['-sW', foo], { encoding: 'utf8' }).split('\n')
    .map((l) => l.trim().split(/\s+/)).filter((c) => c[7] === 'helper' && c[6] !== 'UND').map((c) => BigInt(`0x${c[1]}`));
  const aliases = parseTsv((await ksymtree(['aliases', '--db', db, '--object', 'foo'])).stdout).filter((a) => a.name === 'helper');

  const lookup = (await json(['lookup', 'helper', '--db', db])).filter((r: { object: string }) => r.object === 'foo');
  t.is(lookup.length, readelf.length);
  t.deepEqual(lookup.map((r: { address: string }) => BigInt(`0x${r.address}`)).sort(), [...readelf].sort());
  t.deepEqual(lookup.map((r: { alias: string }) => r.alias).sort(), aliases.map((a) => a.alias).sort());
  for (const r of lookup) {
    t.deepEqual(Object.keys(r), ['object', 'path', 'name', 'alias', 'sympos', 'kallsyms', 'section', 'offset', 'address', 'decl_file', 'decl_line', 'unit', 'class', 'ftrace']);
    t.not(r.class, null, 'helper is duplicated in foo: it has a collision class');
    t.true(r.path.endsWith('/foo.ko'));
  }
  const byAlias = await json(['lookup', aliases[0].alias, '--db', db]);
  t.is(byAlias.length, 1);
  t.is(byAlias[0].sympos, Number(aliases[0].sympos));

  const where = (await json(['where', 'helper', '--db', db])).filter((r: { object: string }) => r.object === 'foo');
  t.deepEqual(where.map((r: { decl_file: string; decl_line: number }) => `${r.decl_file}:${r.decl_line}`).sort(),
    aliases.map((a) => `${a.decl_file}:${a.decl_line}`).sort());

  const second = aliases.find((a) => a.sympos === '2')!;
  const base = 0xffffffffc0100000n;
  const kallsyms = join(work, 'json-kallsyms');
  writeFileSync(kallsyms, (await ksymtree(['kallsyms', '--db', db, '--base', base.toString(16)])).stdout);
  const [resolved] = await json(['resolve', second.alias, '--db', db, '--kallsyms', kallsyms]);
  t.deepEqual(resolved.livepatch, { objname: 'foo', old_name: 'helper', old_sympos: 2 });
  t.is(resolved.runtime.address, `0x${(base + BigInt(`0x${second.value}`)).toString(16)}`);
  t.regex(resolved.anchor.kprobe_event, /^p:ksymtree\/foo_helper_2 foo:\S+\+0x[0-9a-f]+$/);
  t.regex(resolved.runtime.bpftrace, /^bpftrace -e 'kprobe:0x[0-9a-f]+ /);

  const stats = await json(['stats', '--db', db]);
  t.is(stats.objects.total, count(db, 'SELECT count(*) FROM objects'));
  t.is(stats.objects.modules, count(db, "SELECT count(*) FROM objects WHERE kind = 'module'"));
  t.is(stats.symbols.total, count(db, 'SELECT count(*) FROM symbols'));
  t.is(stats.symbols.kallsyms_visible, count(db, 'SELECT count(*) FROM symbols WHERE ks_letter IS NOT NULL'));
  t.is(stats.aliases.total, count(db, 'SELECT count(*) FROM aliases'));
  t.is(stats.errors.total, 0);

  const without = await indexedTree('json-nofoo', (m) => basename(m) !== 'foo.ko');
  const removed = await json(['diff', db, join(without, 'ksymtree.db')]);
  const fooAll = parseTsv((await ksymtree(['aliases', '--db', db, '--object', 'foo'])).stdout);
  t.is(removed.length, fooAll.length);
  t.true(removed.every((r: { object: string; change: string; old_sympos: null }) => r.object === 'foo' && r.change === '-' && r.old_sympos === null));
  t.deepEqual(removed.map((r: { alias: string }) => r.alias).sort(), fooAll.map((a) => a.alias).sort());
  t.deepEqual(await json(['diff', db, db]), []);

  t.deepEqual(await json(['errors', '--db', db]), []);
});

test('errors --format json gives path, object, offset, kind and message of every error row', async (t) => {
  const fx = await fixtures;
  const tree = join(work, 'errors-json');
  mkdirSync(join(tree, 'kernel'), { recursive: true });
  const bad = fx.bad.filter((b) => b.available).slice(0, 3);
  bad.forEach((b, i) => copyFileSync(b.path, join(tree, 'kernel', `b${i}.ko`)));
  const db = join(work, 'errors-json.db');
  await ksymtree(['index', tree, '--db', db, '--quiet', '--no-aliases'], { env: NO_ENV });
  const records = JSON.parse((await ksymtree(['errors', '--db', db, '--format', 'json'])).stdout) as Record<string, unknown>[];
  t.is(records.length, count(db, 'SELECT count(*) FROM errors'));
  for (const r of records) {
    t.deepEqual(Object.keys(r), ['path', 'object', 'offset', 'kind', 'message']);
    t.true(String(r.message).startsWith(String(r.path)));
  }
});

test('help COMMAND shows its options and examples; --help has examples for packager, livepatch author and tracer', async (t) => {
  const top = await ksymtree(['--help']);
  for (const user of ['Packager', 'Livepatch author', 'Tracer']) t.regex(top.stdout, new RegExp(`^${user}.*:$`, 'm'));
  for (const cmd of ['index', 'symbols', 'aliases', 'lookup', 'where', 'resolve', 'diff', 'kallsyms', 'apply', 'verify', 'stats', 'errors']) {
    const r = await ksymtree(['help', cmd]);
    t.is(r.status, 0);
    t.regex(r.stdout, new RegExp(`^Usage: ksymtree ${cmd} `, 'm'));
    t.regex(r.stdout, new RegExp(`^Examples:\\n  \\$ ksymtree ${cmd}`, 'm'), cmd);
  }
});

test('the man page is generated from the command definitions: every command and option, valid roff, same bytes twice', async (t) => {
  const page = (await ksymtree(['man'])).stdout;
  t.is((await ksymtree(['man'])).stdout, page);
  const path = join(work, 'ksymtree.1');
  writeFileSync(path, page);
  // groff's own warnings are the oracle for valid roff; its text rendering for what a reader sees.
  const warnings = execFileSync('groff', ['-man', '-Tutf8', '-ww', '-z', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.is(warnings, '');
  const text = execFileSync('groff', ['-man', '-Tutf8', '-P', '-cbou', path], { encoding: 'utf8' }).replace(/\s+/g, ' ');
  for (const cmd of ['index', 'symbols', 'aliases', 'lookup', 'where', 'resolve', 'diff', 'kallsyms', 'apply', 'verify', 'stats', 'errors']) {
    const help = (await ksymtree(['help', cmd])).stdout;
    for (const flag of help.matchAll(/^ {2}((?:-\w, )?--[\w-]+)/gm)) {
      if (flag[1] !== '-h, --help') t.true(text.includes(flag[1]), `${cmd} ${flag[1]} in the man page`);
    }
  }
  for (const section of ['NAME', 'SYNOPSIS', 'COMMANDS', 'EXAMPLES', 'EXIT STATUS', 'ENVIRONMENT']) t.true(text.includes(section));
  t.true(text.includes('KSYMTREE_DB'));
});
