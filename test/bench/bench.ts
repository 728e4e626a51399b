// `npm run bench -- [TREE] [--debug-dir DIR] [--all-sites] [--apply INSTALLED_TREE]`: ksymtree next to its
// peers on the same files, in one run: nm -A for the scan, addr2line (the kas_alias method) for the sites.
// Wall time and peak RSS come from GNU time (/usr/bin/time) around each command; the page cache is warmed
// first so that every command reads from memory. Figures are printed, never asserted.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { walkTree } from '../../src/tree/walk.js';

interface Measure {
  label: string;
  seconds: number;
  peakRssMb: number;
  note?: string;
  /** The phase times `index --timings` printed, when the command was an index run. */
  phases?: string;
}

const cores = availableParallelism();
const root = resolve(new URL('../../..', import.meta.url).pathname);
const cli = join(root, 'bin/ksymtree.js');

function defaultTree(): string {
  for (const flavour of ['6.1-amd64', '6.1-cloud-amd64']) {
    const p = join(process.env.KSYMTREE_CORPUS ?? join(homedir(), '.cache/ksymtree-corpus'), flavour, 'debug');
    if (existsSync(p)) return p;
  }
  return join(root, 'examples/build');
}

function timed(label: string, shell: string, note?: string): Measure {
  const r = spawnSync('/usr/bin/time', ['-f', 'BENCH %e %M', 'bash', '-c', shell], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const m = /BENCH ([\d.]+) (\d+)/.exec(r.stderr ?? '');
  if (r.error || !m) throw new Error(`${label}: could not time \`${shell}\` (needs GNU time at /usr/bin/time): ${r.error?.message ?? r.stderr}`);
  if (r.status !== 0 && r.status !== 1) process.stderr.write(`bench: ${label} exited with ${r.status}: ${r.stderr.slice(-400)}\n`);
  const phases = /ksymtree: timings: (.*)/.exec(r.stderr)?.[1];
  return { label, seconds: Number(m[1]), peakRssMb: Number(m[2]) / 1024, note, phases };
}

/**
 * The binutils method of the kas_alias patches, on the objects that have in-object duplicates: addr2line over
 * the duplicate symbols' addresses, one process per object and section, as many in parallel as cores.
 */
function addr2lineScript(db: string, work: string): string {
  const rows = spawnSync('sqlite3', ['-separator', '\t', db, `SELECT o.path, coalesce(d.debug_path, o.path), sec.name, s.value
    FROM aliases a JOIN objects o ON o.id = a.object_id JOIN objects d ON d.id = a.object_id
    JOIN symbols s ON s.object_id = a.object_id AND s.idx = a.idx
    JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx ORDER BY o.id`], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
  const jobs = new Map<string, string[]>();
  for (const line of rows.split('\n').filter(Boolean)) {
    const [, dwarf, section, value] = line.split('\t');
    const key = `${dwarf}\t${section}`;
    jobs.set(key, [...(jobs.get(key) ?? []), `0x${value}`]);
  }
  const lines = [...jobs].map(([key, addrs]) => {
    const [dwarf, section] = key.split('\t');
    const exec = !/\.ko$/.test(dwarf);
    return `addr2line -f -e '${dwarf}' ${exec ? '' : `-j '${section}' `}${addrs.join(' ')}`;
  });
  const file = join(work, 'addr2line.cmds');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function main(): void {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args.splice(at, 1).length > 0 : false;
  };
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args.splice(at, 2)[1] : undefined;
  };
  const debugDir = option('--debug-dir');
  const applyTree = option('--apply');
  const allSites = flag('--all-sites');
  const tree = resolve(args[0] ?? defaultTree());
  const { objects } = walkTree(tree);
  const plain = objects.filter((o) => !/\.(gz|xz|zst)$/.test(o.path)).map((o) => o.path);
  const work = mkdtempSync(join(tmpdir(), 'ksymtree-bench-'));
  const list = join(work, 'files');
  writeFileSync(list, plain.join('\0'));
  const db = join(work, 'bench.db');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const debug = debugDir ? ` --debug-dir ${q(resolve(debugDir))}` : '';
  const nm = `xargs -0 -P ${cores} -n 64 nm -A < ${q(list)} > /dev/null`;
  const index = (extra: string, to = db) => `node ${q(cli)} index ${q(tree)}${debug} --db ${q(to)} --quiet --timings --jobs ${cores}${extra}`;

  process.stdout.write(`bench: ${tree}: ${objects.length} objects (${plain.length} uncompressed), ${cores} cores\n`);
  timed('warm-up (cat)', `xargs -0 cat < ${q(list)} > /dev/null`);
  const rows: Measure[] = [
    timed(`nm -A (xargs -P ${cores})`, nm, 'peer: symbols only'),
    timed('ksymtree index --no-aliases', index(' --no-aliases', join(work, 'pass1.db')), 'pass 1: scan'),
    timed('ksymtree index (whole job)', index(''), 'scan + sites + sympos + aliases'),
  ];
  const cmds = addr2lineScript(db, work);
  rows.push(timed(`binutils: addr2line (xargs -P ${cores})`, `tr '\\n' '\\0' < ${q(cmds)} | xargs -0 -P ${cores} -I{} bash -c {} > /dev/null`,
    'peer: the kas_alias method, duplicates only'));
  if (allSites) rows.push(timed('ksymtree index --all-sites', index(' --all-sites', join(work, 'all.db')), 'a site for every function and variable'));
  if (applyTree) {
    const copy = join(work, 'apply-tree');
    spawnSync('cp', ['-a', resolve(applyTree), copy]);
    const applyDb = join(work, 'apply.db');
    rows.push(timed('ksymtree index (installed copy)', `node ${q(cli)} index ${q(copy)}${debug} --db ${q(applyDb)} --quiet --jobs ${cores}`));
    rows.push(timed('ksymtree apply --strip-signature', `node ${q(cli)} apply ${q(copy)} --db ${q(applyDb)} --quiet --strip-signature --jobs ${cores} > /dev/null`,
      'rewrites the modules with aliases'));
  }
  const base = rows[0].seconds;
  const objectsPerSec = (s: number) => (objects.length / s).toFixed(0);
  process.stdout.write(`${'command'.padEnd(40)} ${'wall s'.padStart(8)} ${'x nm'.padStart(6)} ${'peak RSS MB'.padStart(12)} ${'objects/s'.padStart(10)}\n`);
  for (const r of rows) {
    process.stdout.write(`${r.label.padEnd(40)} ${r.seconds.toFixed(2).padStart(8)} ${(r.seconds / base).toFixed(2).padStart(6)} `
      + `${r.peakRssMb.toFixed(0).padStart(12)} ${objectsPerSec(r.seconds).padStart(10)}${r.note ? `  (${r.note})` : ''}\n`);
  }
  const count = (sql: string) => spawnSync('sqlite3', [db, sql], { encoding: 'utf8' }).stdout.trim();
  const symbols = Number(count('SELECT count(*) FROM symbols'));
  process.stdout.write(`ksymtree indexed ${symbols} symbols (${(symbols / rows[2].seconds).toFixed(0)} symbols/s over the whole job), `
    + `${count('SELECT count(*) FROM aliases')} aliases in ${count('SELECT count(DISTINCT object_id) FROM aliases')} objects; `
    + `sites added ${(rows[2].seconds - rows[1].seconds).toFixed(2)} s to pass 1\n`);
  for (const r of rows) if (r.phases) process.stdout.write(`phases of ${r.label}: ${r.phases}\n`);
  rmSync(work, { recursive: true, force: true });
}

main();
