/**
 * `npm run fuzz -- --minutes N [--execs E] [--target NAME ...] [--jobs J] [--corpus DIR] [--findings DIR] [--seed S]`:
 * coverage-guided fuzzing of every parser target (targets/index.ts) for N minutes each (or until E inputs), J at a time.
 * Each target runs in its own process (engine.ts); this supervisor restarts it after a crash and kills it
 * when one input has used more than 1 s of CPU (a hang), keeping that input as a finding. Prints executions,
 * executions per second, coverage (counters hit / counters of the loaded parser modules) and findings per
 * target; exits 1 when there is a finding.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  EXIT_AFTER_MEMORY, type EngineMessage, type EngineOptions, type EngineStats, type Finding, HANG_CPU_US, MEMORY_CANDIDATE, MEMORY_LIMIT_KB, saveFinding, sha1,
} from './engine.js';
import { TARGET_NAMES, loadTarget } from './targets/index.js';

export interface FuzzOptions {
  readonly targets: readonly string[];
  readonly seconds: number;
  /** Stop each target after this many inputs, or at `seconds`, whichever comes first. */
  readonly execs?: number;
  readonly jobs: number;
  readonly seed: number;
  /** Where each target's corpus persists between runs; null: a fresh temporary corpus from the seeds. */
  readonly corpus: string | null;
  readonly findings: string;
  readonly log?: (line: string) => void;
}

export interface TargetReport {
  readonly target: string;
  execs: number;
  /** Time spent mutating, over all the target's processes (start-ups excluded): what execs/s is computed over. */
  seconds: number;
  covered: number;
  counters: number;
  corpus: number;
  restarts: number;
  readonly findings: Finding[];
}

const ENGINE = fileURLToPath(new URL('./engine.js', import.meta.url));
/** Temporary directories of the targets running now, removed also when the run is interrupted. */
const scratch = new Set<string>();
/** A child stuck this long of wall time on one input is a hang whatever its CPU says (a spawned xz, a blocked read). */
const HANG_WALL_MS = 10_000;
const CLOCK_TICKS = 100;
/** A heap limit far above any one input's needs: an overrun kills the process, a crash finding. */
const ENGINE_FLAGS = ['--max-old-space-size=1024'];
const MAX_RESTARTS = 200;
/** Start-ups and replays of the corpus may take this long beyond the fuzzing time, per process. */
const STARTUP_ALLOWANCE_MS = 60_000;

export async function fuzz(opts: FuzzOptions): Promise<TargetReport[]> {
  const queue = [...opts.targets];
  const reports: TargetReport[] = [];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const report = await fuzzTarget(name, opts);
      opts.log?.(`${name}: done: ${summary(report)}`);
      reports.push(report);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.jobs) }, worker));
  return opts.targets.map((t) => reports.find((r) => r.target === t)!);
}

async function fuzzTarget(name: string, opts: FuzzOptions): Promise<TargetReport> {
  const corpus = opts.corpus ? join(opts.corpus, name) : mkdtempSync(join(tmpdir(), `ksymtree-fuzz-corpus-${name}-`));
  mkdirSync(corpus, { recursive: true });
  const target = await loadTarget(name);
  if (readdirSync(corpus).length === 0) {
    for (const seed of await target.seeds()) writeFileSync(join(corpus, sha1(seed)), seed);
  }
  const work = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `ksymtree-fuzz-${name}-`));
  scratch.add(work);
  if (!opts.corpus) scratch.add(corpus);
  const report: TargetReport = { target: name, execs: 0, seconds: 0, covered: 0, counters: 0, corpus: 0, restarts: 0, findings: [] };
  const signatures = new Set<string>();
  const addFinding = (f: Finding): boolean => {
    if (signatures.has(f.signature)) return false;
    signatures.add(f.signature);
    report.findings.push(f);
    opts.log?.(`${name}: FINDING (${f.kind}) ${f.message.split('\n')[0]}\n  input: ${f.input}`);
    return true;
  };
  try {
    const execs = opts.execs ?? Infinity;
    while (report.seconds < opts.seconds - 0.5 && report.execs < execs && report.restarts <= MAX_RESTARTS) {
      const engine: EngineOptions = {
        target: name, seconds: opts.seconds - report.seconds, execs: opts.execs === undefined ? undefined : execs - report.execs,
        seed: opts.seed + report.restarts, corpus, findings: opts.findings, work,
      };
      const outcome = await runEngine(engine, join(work, target.fileName), report, addFinding, opts.log);
      if (outcome.kind === 'finished') break;
      report.restarts++;
      opts.log?.(`${name}: restarting its process (${outcome.kind}; restart ${report.restarts})`);
      if (outcome.kind === 'memory') {
        const confirmed = await confirmMemory(engine, opts.log);
        if (confirmed) addFinding(confirmed);
        continue;
      }
      const input = outcome.input ?? Buffer.alloc(0);
      // Not replayed at the next start, or the target would never get past it.
      rmSync(join(corpus, sha1(input)), { force: true });
      if (!addFinding(saveFinding(opts.findings, name, outcome.kind, outcome.message, input))) {
        opts.log?.(`${name}: stopped: the same ${outcome.kind} came back; fix it first`);
        break;
      }
    }
  } finally {
    for (const dir of [work, ...(opts.corpus ? [] : [corpus])]) {
      rmSync(dir, { recursive: true, force: true });
      scratch.delete(dir);
    }
  }
  return report;
}

/**
 * Replays the input that raised an engine's peak RSS past the limit in a fresh process: a finding when it
 * does so alone (else the garbage of many inputs added up, and fuzzing goes on).
 */
async function confirmMemory(engine: EngineOptions, log?: (line: string) => void): Promise<Finding | null> {
  const candidate = join(engine.work, MEMORY_CANDIDATE);
  const input = readFileSync(candidate);
  const rssKb = await new Promise<number>((resolve) => {
    const child = fork(ENGINE, [JSON.stringify({ ...engine, replay: candidate })], { execArgv: ENGINE_FLAGS, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    let got = -1;
    child.on('message', (m: EngineMessage) => {
      if (m.type === 'replayed') got = m.rssKb;
    });
    child.on('exit', () => resolve(got));
  });
  if (rssKb > MEMORY_LIMIT_KB) {
    return saveFinding(engine.findings, engine.target, 'memory', `raised the peak RSS by ${rssKb >> 10} MB in a fresh process (limit ${MEMORY_LIMIT_KB >> 10} MB)`, input);
  }
  log?.(`${engine.target}: an input past the memory limit during fuzzing raised the peak RSS by ${Math.max(rssKb, 0) >> 10} MB alone: not a finding`);
  return null;
}

type Outcome = { kind: 'finished' } | { kind: 'memory' } | { kind: 'hang' | 'crash'; message: string; input: Buffer | null };

/** One engine process until it ends; its stats are added to `report` as they arrive. */
function runEngine(engine: EngineOptions, inputPath: string, report: TargetReport, addFinding: (f: Finding) => boolean,
  log: ((line: string) => void) | undefined): Promise<Outcome> {
  const before = { execs: report.execs, seconds: report.seconds };
  const wallLimit = Date.now() + engine.seconds * 1000 + STARTUP_ALLOWANCE_MS;
  // The last engine's input, already kept: the watchdog must not time the start-up against it.
  rmSync(inputPath, { force: true });
  return new Promise((resolve) => {
    const child: ChildProcess = fork(ENGINE, [JSON.stringify(engine)], { execArgv: ENGINE_FLAGS, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let lastLog = Date.now();
    child.on('message', (m: EngineMessage) => {
      if (m.type === 'finding') addFinding(m.finding);
      else if (m.type === 'stats') {
        applyStats(report, before, m.stats);
        if (log && Date.now() - lastLog >= 30_000) {
          lastLog = Date.now();
          log(summary(report));
        }
      }
    });
    const watch = new Watchdog(child.pid!, inputPath);
    let hang: string | null = null;
    let overtime = false;
    const timer = setInterval(() => {
      hang ??= watch.check();
      if (hang) child.kill('SIGKILL');
      else if (Date.now() > wallLimit) {
        overtime = true;
        child.kill('SIGKILL');
      }
    }, 100);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      const input = watch.input();
      if (hang) resolve({ kind: 'hang', message: hang, input });
      else if (code === 0 || overtime) resolve({ kind: 'finished' });
      else if (code === EXIT_AFTER_MEMORY) resolve({ kind: 'memory' });
      else resolve({ kind: 'crash', message: `the fuzzing process died (${signal ?? `exit ${code}`}) on this input:\n${stderr}`, input });
    });
  });
}

function applyStats(report: TargetReport, before: { execs: number; seconds: number }, s: EngineStats): void {
  report.execs = before.execs + s.execs;
  report.seconds = before.seconds + s.fuzzSeconds;
  report.covered = Math.max(report.covered, s.covered);
  report.counters = Math.max(report.counters, s.counters);
  report.corpus = s.corpus;
}

/**
 * Watches one engine: the current input is the file it wrote last (its mtime changes with every input);
 * when one mtime has lasted more than 1 s of the process's CPU, or 10 s of wall time, that input hangs.
 */
class Watchdog {
  private mtime = -1;
  private cpuAtStart = 0;
  private wallAtStart = 0;
  constructor(private pid: number, private path: string) {}

  check(): string | null {
    let mtime: number;
    try {
      mtime = statSync(this.path).mtimeMs;
    } catch {
      return null;
    }
    const cpu = this.cpuTicks();
    if (cpu === null) return null;
    if (mtime !== this.mtime) {
      this.mtime = mtime;
      this.cpuAtStart = cpu;
      this.wallAtStart = Date.now();
      return null;
    }
    const cpuUs = ((cpu - this.cpuAtStart) / CLOCK_TICKS) * 1e6;
    const wall = Date.now() - this.wallAtStart;
    if (cpuUs > HANG_CPU_US) return `one input used more than ${(cpuUs / 1e6).toFixed(1)} s of CPU (limit ${HANG_CPU_US / 1e6} s); the process was killed`;
    if (wall > HANG_WALL_MS) return `one input ran for more than ${HANG_WALL_MS / 1000} s; the process was killed`;
    return null;
  }

  input(): Buffer | null {
    try {
      return readFileSync(this.path);
    } catch {
      return null;
    }
  }

  /** utime + stime of the process, every thread, in clock ticks (proc(5)). */
  private cpuTicks(): number | null {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return null;
    }
  }
}

export function summary(r: TargetReport): string {
  const rate = r.seconds > 0 ? Math.round(r.execs / r.seconds) : 0;
  return `${r.target}: ${r.execs.toLocaleString('en-US')} execs, ${rate.toLocaleString('en-US')}/s, coverage ${r.covered.toLocaleString('en-US')}/${r.counters.toLocaleString('en-US')} counters, `
    + `corpus ${r.corpus}, findings ${r.findings.length}${r.restarts ? `, restarts ${r.restarts}` : ''}`;
}

function parseArgs(argv: readonly string[]): FuzzOptions {
  let seconds = 60;
  let execs: number | undefined;
  const targets: string[] = [];
  let jobs = 1;
  let seed = 1;
  let corpus: string | null = join(homedir(), '.cache', 'ksymtree-fuzz', 'corpus');
  let findings = join(tmpdir(), 'ksymtree-fuzz-findings');
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`fuzz: ${argv[i - 1]} needs a value`);
      return v;
    };
    switch (argv[i]) {
      case '--minutes': seconds = Number(value()) * 60; break;
      case '--seconds': seconds = Number(value()); break;
      case '--execs': execs = Number(value()); break;
      case '--target': targets.push(...value().split(',')); break;
      case '--jobs': jobs = Number(value()); break;
      case '--seed': seed = Number(value()); break;
      case '--corpus': corpus = value(); break;
      case '--fresh': corpus = null; break;
      case '--findings': findings = value(); break;
      default: throw new Error(`fuzz: unknown argument ${argv[i]}; usage: npm run fuzz -- --minutes N [--execs E] [--target NAME,...] [--jobs J] [--corpus DIR | --fresh] [--findings DIR] [--seed S]`);
    }
  }
  for (const t of targets) if (!TARGET_NAMES.includes(t)) throw new Error(`fuzz: no target ${t} (targets: ${TARGET_NAMES.join(', ')})`);
  if (!(seconds > 0)) throw new Error('fuzz: --minutes must be a positive number');
  if (execs !== undefined && !(Number.isInteger(execs) && execs > 0)) throw new Error('fuzz: --execs must be a positive integer');
  return { targets: targets.length ? targets : TARGET_NAMES, seconds, execs, jobs, seed, corpus, findings, log: (l) => console.log(l) };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  }
  console.log(`fuzz: ${opts.targets.length} targets, ${opts.seconds / 60} min each, ${opts.jobs} at a time; corpus ${opts.corpus ?? '(fresh)'}; findings in ${opts.findings}`);
  const reports = await fuzz(opts);
  for (const r of reports) console.log(summary(r));
  const findings = reports.flatMap((r) => r.findings);
  for (const f of findings) console.log(`FINDING ${f.target} ${f.kind}: ${f.message.split('\n')[0]}\n  input: ${f.input}`);
  process.exitCode = findings.length ? 1 : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
