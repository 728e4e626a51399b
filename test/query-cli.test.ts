// lookup, resolve, diff and stats on the gcc fixture tree, checked against readelf and the aliases listing.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import test from 'ava';
import { buildFixtures } from './helpers/build-fixtures.js';
import { ksymtree, parseTsv } from './helpers/cli.js';

const fixtures = buildFixtures();
const work = mkdtempSync(join(tmpdir(), 'ksymtree-query-'));

async function indexTree(name: string, modules: string[]): Promise<string> {
  const tree = join(work, name);
  mkdirSync(join(tree, 'kernel'), { recursive: true });
  for (const m of modules) copyFileSync(m, join(tree, 'kernel', basename(m)));
  const db = join(tree, 'ksymtree.db');
  const r = await ksymtree(['index', tree, '--db', db, '--quiet']);
  if (r.status !== 0) throw new Error(r.stderr);
  return db;
}

const plainModules = async () => [...(await fixtures).tree.modules];

test('lookup NAME lists every definition across objects; lookup ALIAS names exactly one', async (t) => {
  const db = await indexTree('lookup', await plainModules());
  const all = (await ksymtree(['lookup', 'helper', '--db', db])).stdout.trim().split('\n').map((l) => l.split('\t'));
  const aliases = parseTsv((await ksymtree(['aliases', '--db', db])).stdout).filter((r) => r.name === 'helper');
  t.is(all.filter((c) => c[0] === 'foo').length, 2);
  t.deepEqual(all.filter((c) => c[0] === 'foo').map((c) => c[3]).sort(), aliases.map((a) => a.alias).sort());
  const one = (await ksymtree(['lookup', aliases[0].alias, '--db', db])).stdout.trim().split('\n');
  t.is(one.length, 1);
  t.true(one[0].includes(`sympos ${aliases[0].sympos}`));
  const missing = await ksymtree(['lookup', 'no_such_symbol', '--db', db]);
  t.is(missing.status, 2);
});

test('resolve gives sympos, section+offset, a unique-anchor kprobe line, and the runtime address from a kallsyms copy', async (t) => {
  const db = await indexTree('resolve', await plainModules());
  const alias = parseTsv((await ksymtree(['aliases', '--db', db, '--object', 'foo'])).stdout).find((r) => r.name === 'helper' && r.sympos === '2')!;
  const base = 0xffffffffc0100000n;
  const kallsyms = join(work, 'kallsyms');
  writeFileSync(kallsyms, (await ksymtree(['kallsyms', '--db', db, '--base', base.toString(16)])).stdout);
  const out = (await ksymtree(['resolve', alias.alias, '--db', db, '--kallsyms', kallsyms])).stdout;
  t.regex(out, new RegExp(`sympos 2, ${alias.section.replace('.', '\\.')}\\+0x${BigInt(`0x${alias.value}`).toString(16)}`));
  t.regex(out, /\.old_sympos = 2/);
  // Event names carry the object (unique per tree) and differ between the two forms (no merged event).
  t.regex(out, /kprobe_events: p:ksymtree\/foo_helper_2 foo:\S+\+0x[0-9a-f]+/);
  t.regex(out, /kprobe_events: p:ksymtree\/foo_helper_2_addr 0x[0-9a-f]+/);
  t.true(out.includes(`runtime address: 0x${(base + BigInt(`0x${alias.value}`)).toString(16)}`), out);
});

test('diff reports aliases removed and added between two builds, nothing between identical ones', async (t) => {
  const modules = await plainModules();
  const full = await indexTree('diff-full', modules);
  const withoutFoo = await indexTree('diff-nofoo', modules.filter((m) => basename(m) !== 'foo.ko'));
  t.is((await ksymtree(['diff', full, full])).stdout, '');
  const fooAliases = parseTsv((await ksymtree(['aliases', '--db', full, '--object', 'foo'])).stdout);
  const removed = (await ksymtree(['diff', full, withoutFoo])).stdout.trim().split('\n');
  t.is(removed.length, fooAliases.length);
  t.true(removed.every((l) => l.startsWith('foo\t-\t')));
  const added = (await ksymtree(['diff', withoutFoo, full])).stdout.trim().split('\n');
  t.true(added.every((l) => l.startsWith('foo\t+\t')));
});

test('stats counts objects, aliases and sites consistently with the listings', async (t) => {
  const db = await indexTree('stats', await plainModules());
  const stats = Object.fromEntries((await ksymtree(['stats', '--db', db])).stdout.trim().split('\n').map((l) => l.split('\t')));
  const aliases = parseTsv((await ksymtree(['aliases', '--db', db])).stdout);
  t.is(Number(stats.aliases), aliases.length);
  t.is(Number(stats.sites), aliases.length);
  t.is(Number(stats.errors), 0);
  t.regex(stats.objects, /^\d+$/);
});
