// Real-kernel tier for `ksymtree apply`: Debian's 6.1 cloud-amd64 installed tree (1,121 plain modules, every
// one signed) and, when fetched, the 6.12 cloud-amd64 installed tree (.ko.xz). Work happens on copies in the
// temporary directory. Skipped (by name) when the corpus is absent.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import test from 'ava';
import { openDatabase } from '../../src/db/sqlite.js';
import { corpus61 } from '../helpers/corpus.js';
import { ksymtree, sha256File } from '../helpers/build-apply-fixtures.js';

const corpus = corpus61();
const real = corpus ? test.serial : test.skip;
const work = mkdtempSync(join(tmpdir(), 'ksymtree-apply-real-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

function corpus612(): string | null {
  const base = process.env.KSYMTREE_CORPUS_612 ?? join(process.env.KSYMTREE_CORPUS ?? join(homedir(), '.cache/ksymtree-corpus'), '6.12-cloud-amd64');
  return existsSync(join(base, 'installed')) ? join(base, 'installed') : null;
}

function modules(tree: string): string[] {
  return execFileSync('find', ['-L', tree, '-name', '*.ko*', '-type', 'f'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}

function shas(tree: string): Map<string, string> {
  return new Map(modules(tree).map((f) => [relative(tree, f), sha256File(f)]));
}

function aliasCounts(db: string): Map<string, number> {
  const sqlite = openDatabase(db, { readonly: true });
  try {
    const rows = sqlite.prepare(`SELECT o.path AS path, count(*) AS n FROM aliases a JOIN objects o ON o.id = a.object_id
      WHERE o.kind = 'module' GROUP BY o.id`).all() as { path: string; n: number }[];
    return new Map(rows.map((r) => [r.path, r.n]));
  } finally {
    sqlite.close();
  }
}

function relocationNames(file: string): string {
  const text = execFileSync('readelf', ['-rW', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return text.replace(/^(Relocation section '[^']+') at offset 0x[0-9a-f]+/gm, '$1').replace(/^([0-9a-f]{16})\s+[0-9a-f]{16}/gm, '$1');
}

let db61 = '';

real('6.1 installed tree: apply --dry-run lists every module with aliases and its alias count', async (t) => {
  t.timeout(10 * 60_000);
  const c = corpus!;
  db61 = join(work, 'installed61.db');
  const idx = await ksymtree(['index', c.installed, '--debug-dir', c.debug, '--db', db61, '-q']);
  t.true(idx.status === 0 || idx.status === 1, idx.stderr);
  const counts = aliasCounts(db61);
  t.true(counts.size >= 100, `modules with aliases: ${counts.size}`);

  // Debian signs every module of the "unsigned" package: by default each is refused, with its count.
  const refused = await ksymtree(['apply', '--db', db61, '--dry-run', '-q']);
  t.is(refused.status, 1);
  const lines = refused.stdout.split('\n').filter((l) => l && !l.startsWith('skipped\t'));
  t.is(lines.length, counts.size);
  for (const l of lines) {
    const [action, n, path] = l.split('\t');
    t.is(action, 'refused', l);
    t.is(Number(n), counts.get(path) ?? -1, path);
  }
  t.regex(refused.stdout, /^skipped\t\d+\t\S*vmlinux\tvmlinux cannot be changed/m);

  const dry = await ksymtree(['apply', '--db', db61, '--dry-run', '--strip-signature', '-q']);
  t.is(dry.status, 0, dry.stderr);
  const would = dry.stdout.split('\n').filter((l) => l.startsWith('would-apply\t'));
  t.is(would.length, counts.size);
  t.log(`6.1 cloud installed: ${counts.size} modules, ${[...counts.values()].reduce((a, b) => a + b, 0)} aliases; ${dry.stderr.trim()}`);
});

real('6.1 installed tree copy: apply --strip-signature, every rewritten module reads the same; twice is a no-op; exact revert', async (t) => {
  t.timeout(20 * 60_000);
  const c = corpus!;
  if (!db61) return t.fail('the dry-run test builds the index first');
  const copy = join(work, 'copy61');
  cpSync(c.installed, copy, { recursive: true, preserveTimestamps: true, dereference: true });
  const original = shas(copy);
  const r = await ksymtree(['apply', copy, '--db', db61, '--strip-signature', '-q']);
  t.is(r.status, 0, r.stderr);
  const applied = r.stdout.split('\n').filter((l) => l.startsWith('applied\t')).map((l) => l.split('\t')[2]);
  t.is(applied.length, aliasCounts(db61).size);
  for (const file of applied) {
    const before = join(c.installed, relative(copy, file));
    t.is(relocationNames(file), relocationNames(before), `${file}: every relocation names the same symbol`);
    const stderr = execFileSync('sh', ['-c', 'readelf -aW "$1" 2>&1 >/dev/null', 'sh', file], { encoding: 'utf8' });
    t.is(stderr, '', `${file}: readelf -a has no complaint`);
  }
  t.is((await ksymtree(['verify', copy, '--db', db61])).status, 0);
  const once = shas(copy);
  const again = await ksymtree(['apply', copy, '--db', db61, '--strip-signature', '-q']);
  t.is(again.status, 0, again.stderr);
  t.deepEqual(shas(copy), once, 'a second apply changes no byte');
  const back = await ksymtree(['apply', copy, '--db', db61, '--revert', '-q']);
  t.is(back.status, 0, back.stderr);
  t.deepEqual(shas(copy), original, 'revert gives every original byte back, signatures included');
});

const dir612 = corpus612();
(dir612 ? test.serial : test.skip)(`6.12 installed tree copy (.ko.xz): every module stays decompressible with xz -t and readable${dir612 ? '' : ' (SKIPPED: no 6.12 corpus; fetch-debian-kernel cloud-amd64 6.12)'}`, async (t) => {
  t.timeout(30 * 60_000);
  const copy = join(work, 'copy612');
  cpSync(dir612!, copy, { recursive: true, preserveTimestamps: true, dereference: true });
  const db = join(work, 'installed612.db');
  const idx = await ksymtree(['index', copy, '--db', db, '-q']);
  t.true(idx.status === 0 || idx.status === 1, idx.stderr);
  const original = shas(copy);
  const r = await ksymtree(['apply', copy, '--db', db, '--strip-signature', '-q']);
  t.is(r.status, 0, r.stderr);
  t.true(r.stdout.split('\n').filter((l) => l.startsWith('applied\t')).length >= 50);
  for (const f of modules(copy)) {
    execFileSync('xz', ['-t', f]);
    const robot = execFileSync('xz', ['--robot', '-lv', f], { encoding: 'utf8' });
    t.regex(robot, /\tCRC32\t/, f);
  }
  for (const l of r.stdout.split('\n').filter((x) => x.startsWith('applied\t'))) {
    const f = l.split('\t')[2];
    const elf = join(work, 'x.ko');
    execFileSync('sh', ['-c', 'xz -dc "$1" > "$2"', 'sh', f, elf]);
    t.is(execFileSync('sh', ['-c', 'readelf -aW "$1" 2>&1 >/dev/null', 'sh', elf], { encoding: 'utf8' }), '', f);
  }
  const back = await ksymtree(['apply', copy, '--db', db, '--revert', '-q']);
  t.is(back.status, 0, back.stderr);
  t.deepEqual(shas(copy), original);
});
