// `npm run bench -- [TREE] [--debug-dir DIR]`: ksymtree next to its peers on the same files, in one run.
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
  return { label, seconds: Number(m[1]), peakRssMb: Number(m[2]) / 1024, note };
}

function main(): void {
  const args = process.argv.slice(2);
  const debugAt = args.indexOf('--debug-dir');
  const debugDir = debugAt >= 0 ? args.splice(debugAt, 2)[1] : undefined;
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
  const index = (extra: string) => `node ${q(cli)} index ${q(tree)}${debug} --db ${q(db)} --quiet --jobs ${cores}${extra}`;

  process.stdout.write(`bench: ${tree}: ${objects.length} objects (${plain.length} uncompressed), ${cores} cores\n`);
  timed('warm-up (cat)', `xargs -0 cat < ${q(list)} > /dev/null`);
  const rows: Measure[] = [
    timed(`nm -A (xargs -P ${cores})`, nm, 'peer: symbols only'),
    timed('ksymtree index (whole job)', index('')),
  ];
  const base = rows[0].seconds;
  const objectsPerSec = (s: number) => (objects.length / s).toFixed(0);
  process.stdout.write(`${'command'.padEnd(34)} ${'wall s'.padStart(8)} ${'x nm'.padStart(6)} ${'peak RSS MB'.padStart(12)} ${'objects/s'.padStart(10)}\n`);
  for (const r of rows) {
    process.stdout.write(`${r.label.padEnd(34)} ${r.seconds.toFixed(2).padStart(8)} ${(r.seconds / base).toFixed(2).padStart(6)} `
      + `${r.peakRssMb.toFixed(0).padStart(12)} ${objectsPerSec(r.seconds).padStart(10)}${r.note ? `  (${r.note})` : ''}\n`);
  }
  const symbols = spawnSync('sqlite3', [db, 'SELECT count(*) FROM symbols'], { encoding: 'utf8' }).stdout.trim();
  if (symbols) process.stdout.write(`ksymtree indexed ${symbols} symbols: ${(Number(symbols) / rows[1].seconds).toFixed(0)} symbols/s\n`);
  rmSync(work, { recursive: true, force: true });
}

main();
