// `npm run bench -- [TREE] [--debug-dir DIR] [--all-sites] [--apply INSTALLED_TREE] [--runs N] [--frames N]
// [--decode-frames N] [--symbolize-only] [--no-addr2line] [--no-link-pass] [--no-symbolize]`: ksymtree next to its peers on the
// same files, in one run: nm -A for the scan, addr2line (the kas_alias method) for the sites, xz -dc for a tree
// of .ko.xz, for the tree's vmlinux with a config beside it one kernel-build link pass (`kallsyms-aliases`)
// beside that pass's mksysmap, and `symbolize` on N frames (default 10,000) beside addr2line and
// decode_stacktrace.sh. Wall time and peak RSS come from GNU time (/usr/bin/time) around
// each command; the page cache is warmed first so that every command reads from memory. The commands run in
// turn, N rounds (default 3), and each row gives the median. A row is marked UNRELIABLE when other processes
// used more than a quarter of a core while it ran. Figures are printed, never asserted.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findConfig } from '../../src/config/find-config.js';
import { walkTree } from '../../src/tree/walk.js';
import { linuxSource61File } from '../e2e/harness/kernels.js';
import { CLI } from '../helpers/cli.js';
import { repoPath } from '../helpers/repo.js';
import { type Command, type Measure, type Run, disturbed, measure, timed } from './measure.js';
import { symbolizeFrames } from './symbolize-frames.js';

const cores = availableParallelism();

function defaultTree(): string {
  for (const flavour of ['6.1-amd64', '6.1-cloud-amd64']) {
    const p = join(process.env.KSYMTREE_CORPUS ?? join(homedir(), '.cache/ksymtree-corpus'), flavour, 'debug');
    if (existsSync(p)) return p;
  }
  return repoPath('examples', 'build');
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

const KNOWN_FLAGS = ['--all-sites', '--no-addr2line', '--no-link-pass', '--no-symbolize', '--symbolize-only'];
const KNOWN_OPTIONS = ['--debug-dir', '--apply', '--runs', '--frames', '--decode-frames'];

function main(): void {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    // The usage is this file's opening comment.
    const head = readFileSync(repoPath('test', 'bench', 'bench.ts'), 'utf8');
    process.stdout.write(`${head.split('\nimport ')[0].replace(/^\/\/ ?/gm, '')}\n`);
    return;
  }
  const unknown = args.filter((a, i) => a.startsWith('-') && ![...KNOWN_FLAGS, ...KNOWN_OPTIONS].includes(a) && !KNOWN_OPTIONS.includes(args[i - 1]));
  if (unknown.length) {
    process.stderr.write(`bench: unknown option ${unknown.join(' ')} (npm run bench -- --help)\n`);
    process.exitCode = 2;
    return;
  }
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
  const rounds = Math.max(1, Number(option('--runs') ?? 3));
  // The addr2line and decode_stacktrace.sh peers take minutes; the link pass needs linux-source-6.1. Each can be left out.
  const withAddr2line = !flag('--no-addr2line');
  const withLinkPass = !flag('--no-link-pass');
  const withSymbolize = !flag('--no-symbolize');
  const frameCount = Number(option('--frames') ?? 10000);
  const decodeFrames = Number(option('--decode-frames') ?? 200);
  const symbolizeOnly = flag('--symbolize-only');
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
  const index = (extra: string, to = db) => `node ${q(CLI)} index ${q(tree)}${debug} --db ${q(to)} --quiet --timings --jobs ${cores}${extra}`;

  const [load1, load5] = loadavg();
  process.stdout.write(`bench: ${tree}: ${objects.length} objects (${plain.length} uncompressed), ${cores} cores, ${rounds} rounds; `
    + `load average before: ${load1.toFixed(2)} (1 min), ${load5.toFixed(2)} (5 min)${load1 > 0.5 ? ' - BUSY: figures from this run prove nothing' : ''}\n`);
  spawnSync('bash', ['-c', `xargs -0 cat < ${q(list)} > /dev/null`]);
  const xz = objects.filter((o) => o.path.endsWith('.ko.xz')).map((o) => o.path);
  const xzList = join(work, 'xz-files');
  writeFileSync(xzList, xz.join('\0'));
  if (symbolizeOnly) {
    spawnSync('bash', ['-c', index('')]);
    printSymbolize(symbolizeRows(db, debugDir ?? tree, work, q, rounds, frameCount, decodeFrames));
    rmSync(work, { recursive: true, force: true });
    return;
  }
  const rows = measure([
    // A tree of .ko.xz only has nothing for nm to read: its peer, and the base of the ratio column, is xz -dc.
    ...(plain.length ? [{ label: `nm -A (xargs -P ${cores})`, shell: nm, note: 'peer: symbols only' }] : []),
    ...(xz.length ? [{ label: `xz -dc (xargs -P ${cores})`, shell: `xargs -0 -P ${cores} -n 16 xz -dc < ${q(xzList)} > /dev/null`, note: `peer: decompression of the ${xz.length} .ko.xz` }] : []),
    { label: 'ksymtree index --no-aliases', shell: index(' --no-aliases', join(work, 'pass1.db')), note: 'pass 1: scan' },
    { label: 'ksymtree index (whole job)', shell: index(''), note: 'scan + sites + sympos + aliases' },
  ], rounds);
  const once: Command[] = [];
  if (withAddr2line) {
    once.push({ label: `binutils: addr2line (xargs -P ${cores})`, shell: `tr '\\n' '\\0' < ${q(addr2lineScript(db, work))} | xargs -0 -P ${cores} -I{} bash -c {} > /dev/null`,
      note: 'peer: the kas_alias method, duplicates only; one round' });
  }
  if (allSites) once.push({ label: 'ksymtree index --all-sites', shell: index(' --all-sites', join(work, 'all.db')), note: 'a site for every function and variable; one round' });
  if (applyTree) {
    const copy = join(work, 'apply-tree');
    spawnSync('cp', ['-a', resolve(applyTree), copy]);
    const applyDb = join(work, 'apply.db');
    once.push({ label: 'ksymtree index (installed copy)', shell: `node ${q(CLI)} index ${q(copy)}${debug} --db ${q(applyDb)} --quiet --jobs ${cores}`, note: 'one round' });
    once.push({ label: 'ksymtree apply --strip-signature', shell: `node ${q(CLI)} apply ${q(copy)} --db ${q(applyDb)} --quiet --strip-signature --jobs ${cores} > /dev/null`,
      note: 'rewrites the modules with aliases; one round' });
  }
  rows.push(...measure(once, 1));
  const link = withLinkPass ? linkPass(tree, debugDir, work, q, rounds) : null;
  const decoded = withSymbolize ? symbolizeRows(db, debugDir ?? tree, work, q, rounds, frameCount, decodeFrames) : null;
  const base = rows[0].seconds;
  const whole = rows.find((r) => r.label === 'ksymtree index (whole job)')!;
  const pass1 = rows.find((r) => r.label === 'ksymtree index --no-aliases')!;
  const objectsPerSec = (s: number) => (objects.length / s).toFixed(0);
  const range = (r: Measure) => (r.runs.length > 1 ? `${Math.min(...r.runs.map((x) => x.seconds)).toFixed(2)}-${Math.max(...r.runs.map((x) => x.seconds)).toFixed(2)}` : '');
  process.stdout.write(`${'command'.padEnd(40)} ${'median s'.padStart(9)} ${'range s'.padStart(12)} ${`x ${plain.length ? 'nm' : 'xz'}`.padStart(6)} ${'peak RSS MB'.padStart(12)} ${'objects/s'.padStart(10)}\n`);
  for (const r of rows) {
    const rss = Math.max(...r.runs.map((x) => x.peakRssMb));
    process.stdout.write(`${r.label.padEnd(40)} ${r.seconds.toFixed(2).padStart(9)} ${range(r).padStart(12)} ${(r.seconds / base).toFixed(2).padStart(6)} `
      + `${rss.toFixed(0).padStart(12)} ${objectsPerSec(r.seconds).padStart(10)}${r.note ? `  (${r.note})` : ''}`
      + `${r.unreliable ? `  UNRELIABLE: other processes used up to ${Math.max(...r.runs.map((x) => x.otherCpu)).toFixed(1)} CPU s during a run` : ''}\n`);
  }
  const count = (sql: string) => spawnSync('sqlite3', [db, sql], { encoding: 'utf8' }).stdout.trim();
  const symbols = Number(count('SELECT count(*) FROM symbols'));
  process.stdout.write(`ksymtree indexed ${symbols} symbols (${(symbols / whole.seconds).toFixed(0)} symbols/s over the whole job), `
    + `${count('SELECT count(*) FROM aliases')} aliases in ${count('SELECT count(DISTINCT object_id) FROM aliases')} objects; `
    + `sites added ${(whole.seconds - pass1.seconds).toFixed(2)} s to pass 1 (medians)\n`);
  for (const r of rows) {
    r.runs.forEach((run, i) => { if (run.phases) process.stdout.write(`phases of ${r.label}${r.runs.length > 1 ? ` (round ${i + 1})` : ''}: ${run.phases}\n`); });
  }
  if (link) {
    const [peer, ours] = link;
    process.stdout.write(`link pass (one per .tmp_vmlinux.kallsymsN; target <= 3 s): ${ours.label} ${ours.seconds.toFixed(2)} s (${range(ours)}), `
      + `${peer.label} ${peer.seconds.toFixed(2)} s (${range(peer)}), x ${(ours.seconds / peer.seconds).toFixed(1)}`
      + `${[peer, ours].some((r) => r.unreliable) ? '  UNRELIABLE: other processes ran' : ''}\n`);
  }
  printSymbolize(decoded);
  rmSync(work, { recursive: true, force: true });
}

interface SymbolizeMeasures {
  readonly frames: number;
  readonly objects: number;
  /** The first run after indexing: it builds the debug copies' address tables. */
  readonly first: Run;
  /** The runs after it (the tables read): the target's figure. */
  readonly ours: Measure;
  readonly addr2line: Measure;
  /** decode_stacktrace.sh on the first `decoded` frames; null without Debian's linux-source-6.1. */
  readonly script: Measure | null;
  readonly decoded: number;
}

/**
 * The issue-12 target: `count` frames of vmlinux and seven modules (symbolize-frames.ts) decoded by `ksymtree
 * symbolize` with a warm index (its first run, which builds the address tables, timed apart), beside binutils addr2line on the same places (one process per object with
 * all its addresses, `-i -f`, as many at once as cores) and decode_stacktrace.sh (Debian's linux-source-6.1,
 * binutils) on the first `decodeFrames` of the same log: it runs addr2line once per frame, so all of them
 * would take an hour; its time is also given per `count` frames. Null when the index lacks those objects.
 */
function symbolizeRows(db: string, modules: string, work: string, q: (s: string) => string, rounds: number, count: number, decodeFrames: number): SymbolizeMeasures | null {
  let input;
  try {
    input = symbolizeFrames(db, count);
  } catch (e) {
    process.stderr.write(`bench: no symbolize rows: ${(e as Error).message}\n`);
    return null;
  }
  const log = join(work, 'frames.log');
  writeFileSync(log, input.log);
  const head = join(work, 'frames-head.log');
  writeFileSync(head, `${input.log.split('\n').slice(0, decodeFrames).join('\n')}\n`);
  // One script per object, its addresses on stdin (9,000 vmlinux addresses exceed one argument's 128 KB).
  const scripts = input.objects.map((o, i) => {
    const addresses = join(work, `symbolize-${i}.addresses`);
    writeFileSync(addresses, `${o.addresses.map((a) => `0x${a.toString(16)}`).join('\n')}\n`);
    const sh = join(work, `symbolize-${i}.sh`);
    writeFileSync(sh, `addr2line -i -f -e ${q(o.debugPath)}${o.kind === 'module' ? ' -j .text' : ''} < ${q(addresses)}\n`);
    return sh;
  });
  const vmlinux = input.objects.find((o) => o.kind === 'vmlinux')?.debugPath;
  const script = linuxSource61File('scripts/decode_stacktrace.sh');
  const ksymtree = { label: `ksymtree symbolize (${count} frames)`, shell: `node ${q(CLI)} symbolize --db ${q(db)} < ${q(log)} > /dev/null` };
  const first = timed({ ...ksymtree, label: `${ksymtree.label}, first run` });
  const [ours, addr2line] = measure([
    ksymtree,
    { label: `addr2line -i -f (xargs -P ${cores})`, shell: `printf '%s\\0' ${scripts.map(q).join(' ')} | xargs -0 -P ${cores} -n 1 bash > /dev/null` },
  ], rounds);
  const [decoded] = script && vmlinux
    ? measure([{ label: `decode_stacktrace.sh (first ${decodeFrames} frames)`, shell: `bash ${q(script)} ${q(vmlinux)} auto ${q(modules)} < ${q(head)} > /dev/null` }], 1)
    : [null];
  return { frames: count, objects: input.objects.length, first, ours, addr2line, script: decoded, decoded: decodeFrames };
}

function printSymbolize(m: SymbolizeMeasures | null): void {
  if (!m) return;
  const busy = (r: Measure) => (r.unreliable ? '  UNRELIABLE: other processes ran' : '');
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const span = (r: Measure) => `${r.seconds.toFixed(2)} s (${Math.min(...r.runs.map((x) => x.seconds)).toFixed(2)}-${Math.max(...r.runs.map((x) => x.seconds)).toFixed(2)}; `
    + `CPU ${median(r.runs.map((x) => x.cpu)).toFixed(2)} s)`;
  const firstBusy = disturbed(m.first) ? '  UNRELIABLE: other processes ran' : '';
  process.stdout.write(`symbolize (${m.frames} frames of vmlinux and ${m.objects - 1} modules, warm index; target <= 2 s): `
    + `ksymtree first run (builds the address tables) ${m.first.seconds.toFixed(2)} s (CPU ${m.first.cpu.toFixed(2)} s)${firstBusy}, `
    + `ksymtree warm (tables read) ${span(m.ours)}${busy(m.ours)}, `
    + `addr2line on the same places ${span(m.addr2line)}${busy(m.addr2line)}`);
  if (m.script) {
    const per = (m.script.seconds / m.decoded) * m.frames;
    process.stdout.write(`, decode_stacktrace.sh ${m.script.seconds.toFixed(2)} s for the first ${m.decoded} frames (${per.toFixed(0)} s per ${m.frames})${busy(m.script)}`);
  }
  process.stdout.write('\n');
}

/**
 * The kernel build's step on the tree's vmlinux (its DWARF, the config beside it): mksysmap (the kernel's
 * script, the peer in the same pass) and `ksymtree kallsyms-aliases` on its output. Null without them.
 */
function linkPass(tree: string, debugDir: string | undefined, work: string, q: (s: string) => string, rounds: number): Measure[] | null {
  const vmlinux = [tree, debugDir].filter((d): d is string => !!d).map((d) => join(resolve(d), 'vmlinux')).find((p) => existsSync(p));
  // found as index finds it, else the corpus layout's boot/config-<release> beside the debug tree
  const corpusBoot = join(tree, '..', 'boot');
  const beside = existsSync(corpusBoot) ? readdirSync(corpusBoot).find((f) => f.startsWith('config-')) : undefined;
  const config = vmlinux ? findConfig([tree, ...(debugDir ? [debugDir] : [])])?.from ?? (beside ? join(corpusBoot, beside) : null) : null;
  const mksysmap = linuxSource61File('scripts/mksysmap');
  if (!vmlinux || !config || !mksysmap) return null;
  const syms = join(work, 'vmlinux.syms');
  const mk = `NM=nm sh ${q(mksysmap)} ${q(vmlinux)} ${q(syms)}`;
  spawnSync('bash', ['-c', mk]);
  return measure([
    { label: 'mksysmap (nm -n)', shell: mk, note: 'peer: the pass\'s own symbol listing' },
    { label: 'ksymtree kallsyms-aliases', shell: `node ${q(CLI)} kallsyms-aliases --config ${q(config)} --sysmap ${q(syms)} ${q(vmlinux)} > /dev/null` },
  ], rounds);
}

main();
