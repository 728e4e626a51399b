// Real-kernel tier for the aliases (Debian 6.1 cloud-amd64 debug tree). Counts come from nm, the oracle.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { openDatabase } from '../../src/db/sqlite.js';
import { corpus61 } from '../helpers/corpus.js';
import { ksymtree } from '../helpers/cli.js';

const corpus = corpus61();
const real = corpus ? test.serial : test.skip;
const work = mkdtempSync(join(tmpdir(), 'ksymtree-real-aliases-'));
const db1 = join(work, 'jobs2.db');
const db2 = join(work, 'jobs1.db');

function nmCount(file: string, name: string): number {
  return execFileSync('nm', [file], { encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n').filter((l) => l.endsWith(` ${name}`)).length;
}

real('index with aliases succeeds on the whole debug tree', async (t) => {
  const r = await ksymtree(['index', corpus!.debug, '--db', db1, '--quiet', '--jobs', '2']);
  t.is(r.status, 0, r.stderr);
});

real("every copy of vmlinux's name_show gets its own alias, built from its decl site", (t) => {
  const sqlite = openDatabase(db1, { readonly: true });
  const aliases = sqlite.prepare(`SELECT a.alias, a.sympos FROM aliases a JOIN objects o ON o.id = a.object_id JOIN symbols s
    ON s.object_id = a.object_id AND s.idx = a.idx WHERE o.kind = 'vmlinux' AND s.name = 'name_show' ORDER BY a.sympos`).all() as { alias: string; sympos: number }[];
  sqlite.close();
  const expected = nmCount(join(corpus!.debug, 'vmlinux'), 'name_show');
  t.true(expected >= 2);
  t.is(aliases.length, expected);
  t.is(new Set(aliases.map((a) => a.alias)).size, expected);
  t.deepEqual(aliases.map((a) => a.sympos), Array.from({ length: expected }, (_, i) => i + 1));
  for (const a of aliases) t.regex(a.alias, /^name_show@[A-Za-z0-9_]+_c_\d+$/);
});

real("bridge.ko's four jhash copies get four distinct unit-qualified aliases", (t) => {
  const sqlite = openDatabase(db1, { readonly: true });
  const rows = sqlite.prepare(`SELECT a.alias, o.path FROM aliases a JOIN objects o ON o.id = a.object_id JOIN symbols s
    ON s.object_id = a.object_id AND s.idx = a.idx WHERE o.module_name = 'bridge' AND s.name = 'jhash'`).all() as { alias: string; path: string }[];
  sqlite.close();
  t.is(rows.length, nmCount(rows[0].path, 'jhash'));
  t.is(rows.length, 4);
  t.is(new Set(rows.map((r) => r.alias)).size, 4);
  for (const r of rows) t.regex(r.alias, /^jhash@include_linux_jhash_h_\d+@net_bridge_[a-z_]+_c$/);
});

real('no alias is shared inside an object, none equals a symbol of its object, all fit KSYM_NAME_LEN', (t) => {
  const sqlite = openDatabase(db1, { readonly: true });
  const shared = sqlite.prepare('SELECT count(*) FROM (SELECT 1 FROM aliases GROUP BY object_id, alias HAVING count(*) > 1)').pluck().get();
  const clash = sqlite.prepare('SELECT count(*) FROM aliases a JOIN symbols s ON s.object_id = a.object_id AND s.name = a.alias').pluck().get();
  const longest = sqlite.prepare('SELECT max(length(alias)) FROM aliases').pluck().get() as number;
  const total = sqlite.prepare('SELECT count(*) FROM aliases').pluck().get() as number;
  sqlite.close();
  t.log(`${total} aliases, longest ${longest} characters`);
  t.true(total > 1000);
  t.is(shared, 0);
  t.is(clash, 0);
  t.true(longest <= 511);
});

real('two runs (2 jobs and 1 job) give byte-identical index files and aliases --format json', async (t) => {
  const r = await ksymtree(['index', corpus!.debug, '--db', db2, '--quiet', '--jobs', '1']);
  t.is(r.status, 0, r.stderr);
  const a = await ksymtree(['aliases', '--db', db1, '--format', 'json']);
  const b = await ksymtree(['aliases', '--db', db2, '--format', 'json']);
  t.is(a.status, 0);
  t.true(a.stdout.length > 100_000);
  t.is(a.stdout, b.stdout);
  t.true(readFileSync(db1).equals(readFileSync(db2)), 'the index files are byte-identical (distros build reproducibly)');
});
