// Real-kernel tier: Debian's 6.1 cloud-amd64 debug tree (vmlinux + 1,121 modules) and its installed tree.
// Oracle: GNU nm over the same files. Skipped (by name, counted as skipped) when the corpus is absent.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { openDatabase } from '../../src/db/sqlite.js';
import { corpus61 } from '../helpers/corpus.js';
import { ksymtree } from '../helpers/cli.js';

const corpus = corpus61();
const real = corpus ? test.serial : test.skip;
const work = mkdtempSync(join(tmpdir(), 'ksymtree-real-'));

/** Lines present more often in `a` than in `b` (multiset difference: the same line can occur twice). */
function surplus(a: readonly string[], b: readonly string[]): string[] {
  const count = new Map<string, number>();
  for (const l of b) count.set(l, (count.get(l) ?? 0) + 1);
  return a.filter((l) => {
    const n = count.get(l) ?? 0;
    count.set(l, n - 1);
    return n <= 0;
  });
}

/** `nm -A --defined-only` over every object, one nm process at a time so lines never interleave. */
function nmDefined(tree: string): string[] {
  const text = execFileSync('bash', ['-c', `find -L "$1" \\( -name '*.ko' -o -name vmlinux \\) -type f -print0 | xargs -0 -n 100 nm -A --defined-only`, 'nm', tree],
    { encoding: 'utf8', maxBuffer: 1 << 30 });
  const lines: string[] = [];
  for (const l of text.split('\n')) {
    const m = /^(.+?):([0-9a-f]+) (\S) (.+)$/.exec(l);
    if (m) lines.push(`${m[1]} ${m[2]} ${m[3]} ${m[4]}`);
  }
  return lines;
}

real('debug tree: every defined symbol (object, name, value, nm letter) equals nm, 0 mismatches', async (t) => {
  const db = join(work, 'debug.db');
  const r = await ksymtree(['index', corpus!.debug, '--db', db, '--quiet', '--no-aliases']);
  t.is(r.status, 0, r.stderr);
  const ours: string[] = [];
  const sqlite = openDatabase(db, { readonly: true });
  const rows = sqlite.prepare(`SELECT o.path, s.value, s.nm_letter, s.name FROM symbols s JOIN objects o ON o.id = s.object_id
    WHERE s.nm_letter IS NOT NULL AND s.nm_letter NOT IN ('U', 'w', 'v')`).iterate() as IterableIterator<{ path: string; value: string; nm_letter: string; name: string }>;
  for (const r of rows) ours.push(`${r.path} ${r.value} ${r.nm_letter} ${r.name}`);
  const objects = sqlite.prepare('SELECT count(*) FROM objects').pluck().get() as number;
  sqlite.close();
  const nm = nmDefined(corpus!.debug);
  const missing = surplus(nm, ours);
  const extra = surplus(ours, nm);
  t.log(`${objects} objects, ${nm.length} defined symbols from nm, ${ours.length} from ksymtree`);
  t.is(objects, 1122);
  t.deepEqual(missing.slice(0, 10), [], `${missing.length} symbols nm lists that ksymtree does not`);
  t.deepEqual(extra.slice(0, 10), [], `${extra.length} symbols ksymtree lists that nm does not`);
});

real('installed tree with --debug-dir: every module pairs with its debug copy by build-id; symbols equal nm of the installed files', async (t) => {
  const db = join(work, 'installed.db');
  const r = await ksymtree(['index', corpus!.installed, '--debug-dir', corpus!.debug, '--db', db, '--quiet', '--no-aliases']);
  t.is(r.status, 0, r.stderr);
  const sqlite = openDatabase(db, { readonly: true });
  const pairs = sqlite.prepare(`SELECT kind, debug_pairing, count(*) AS n FROM objects GROUP BY kind, debug_pairing`).all() as { kind: string; debug_pairing: string | null; n: number }[];
  const modules = pairs.filter((p) => p.kind === 'module');
  t.deepEqual(modules, [{ kind: 'module', debug_pairing: 'build-id', n: 1121 }]);
  // A paired debug copy really has the same build-id as the installed object (checked with readelf -n).
  const sample = sqlite.prepare("SELECT path, debug_path, build_id FROM objects WHERE module_name IN ('bridge', 'cifs', 'ext4')").all() as { path: string; debug_path: string; build_id: string }[];
  for (const s of sample) {
    for (const f of [s.path, s.debug_path]) {
      const note = execFileSync('readelf', ['-n', f], { encoding: 'utf8' });
      t.true(note.includes(`Build ID: ${s.build_id}`), `${f} has build-id ${s.build_id}`);
    }
  }
  const ours: string[] = [];
  for (const r of sqlite.prepare(`SELECT o.path, s.value, s.nm_letter, s.name FROM symbols s JOIN objects o ON o.id = s.object_id
    WHERE o.kind = 'module' AND s.nm_letter IS NOT NULL AND s.nm_letter NOT IN ('U', 'w', 'v')`).iterate() as IterableIterator<{ path: string; value: string; nm_letter: string; name: string }>) {
    ours.push(`${r.path} ${r.value} ${r.nm_letter} ${r.name}`);
  }
  sqlite.close();
  const nm = nmDefined(corpus!.installed);
  t.true(nm.length > 100_000, `nm listed ${nm.length} symbols`);
  t.deepEqual(surplus(nm, ours).slice(0, 10), []);
  t.deepEqual(surplus(ours, nm).slice(0, 10), []);
});

real("a vmlinuz alone yields the same kallsyms view as the debug vmlinux (its tables found by shape)", async (t) => {
  const vmlinuz = execFileSync('bash', ['-c', 'ls "$1"/vmlinuz-*', 'ls', corpus!.boot], { encoding: 'utf8' }).trim();
  const fromImage = join(work, 'vmlinuz.db');
  const fromDebug = join(work, 'vmlinux.db');
  t.is((await ksymtree(['index', vmlinuz, '--db', fromImage, '--quiet'])).status, 0);
  t.is((await ksymtree(['index', join(corpus!.debug, 'vmlinux'), '--db', fromDebug, '--quiet', '--no-aliases'])).status, 0);
  const a = await ksymtree(['kallsyms', '--db', fromImage]);
  const b = await ksymtree(['kallsyms', '--db', fromDebug]);
  t.true(a.stdout.split('\n').length > 80_000);
  t.is(a.stdout, b.stdout);
  t.regex((await ksymtree(['stats', '--db', fromImage])).stdout, /duplicate names\t[1-9]/);
});
