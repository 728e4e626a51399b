/**
 * One fuzzing process (forked by fuzz.ts, one per target): loads the target's parsers with branch counters,
 * replays the corpus directory, then mutates corpus entries until the deadline, keeping every input that
 * reaches a new counter bucket. Each input is written to `work/<fileName>` before it runs, so the supervisor
 * can save it when this process hangs or dies. Findings: an exception other than ObjectError (and its DWARF
 * subclass), an input that took more than 1 s of CPU, or one that raised the peak RSS by more than 256 MB.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prng } from '../helpers/prng.js';
import { startCoverage } from './coverage.js';
import { Mutator, literalTokens } from './mutate.js';
import type { FuzzTarget } from './target.js';

export interface EngineOptions {
  readonly target: string;
  /** How long to mutate, after the corpus has been replayed. */
  readonly seconds: number;
  /** Stop after this many mutated inputs (a deterministic run: same seed, same inputs), when given. */
  readonly execs?: number;
  readonly seed: number;
  /** Inputs to start from; new coverage is added here (files named by their SHA-1). */
  readonly corpus: string;
  readonly findings: string;
  /** A scratch directory (tmpfs when there is one) for the current input. */
  readonly work: string;
  /** Replay mode: run only this input, in this fresh process, and report how far it raised the peak RSS. */
  readonly replay?: string;
}

export type FindingKind = 'exception' | 'hang' | 'memory' | 'crash';

export interface Finding {
  readonly target: string;
  readonly kind: FindingKind;
  readonly signature: string;
  readonly message: string;
  /** The saved input. */
  readonly input: string;
}

export interface EngineStats {
  readonly execs: number;
  /** Time spent mutating so far (start-up and the corpus replay excluded). */
  readonly fuzzSeconds: number;
  readonly covered: number;
  readonly counters: number;
  readonly corpus: number;
}

export type EngineMessage = { type: 'stats'; stats: EngineStats } | { type: 'finding'; finding: Finding } | { type: 'replayed'; rssKb: number; cpuUs: number };

export const HANG_CPU_US = 1_000_000;
export const MEMORY_LIMIT_KB = 256 << 10;
/**
 * Exit code of an engine whose peak RSS rose past the limit: it leaves the input in `MEMORY_CANDIDATE` for a
 * replay in a fresh process (garbage of many earlier inputs can add up to a peak none of them makes alone).
 */
export const EXIT_AFTER_MEMORY = 3;
export const MEMORY_CANDIDATE = 'memory-candidate';
/**
 * Freed native memory (zlib states, above all) stays resident in malloc's arenas: the peak RSS creeps up by a
 * few KB per input. Past this much creep the engine hands its last input over for a replay, and restarts.
 */
const CREEP_LIMIT_KB = 1 << 20;

export const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

/** Saves a finding's input and its description; the signature (what went wrong, and where) names the pair. */
export function saveFinding(dir: string, target: string, kind: FindingKind, message: string, input: Buffer): Finding {
  const signature = signatureOf(kind, message);
  const base = join(dir, `${target}-${kind}-${sha1(Buffer.from(signature)).slice(0, 12)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${base}.bin`, input);
  writeFileSync(`${base}.txt`, `${target} ${kind}\n${message}\n`);
  return { target, kind, signature, message, input: `${base}.bin` };
}

/** Kind, message without its numbers, and the innermost frame of ours: one entry per distinct bug. */
export function signatureOf(kind: FindingKind, message: string): string {
  const lines = message.split('\n');
  const frame = lines.find((l) => /^\s+at .*dist\/src\//.test(l))?.replace(/:\d+\)?$/, '').trim() ?? '';
  return `${kind} ${lines[0].replace(/^.*?internal error: /, '').replace(/0x[0-9a-f]+|\d+/gi, 'N')} ${frame}`;
}

class Engine {
  private corpus: Buffer[] = [];
  private known = new Set<string>();
  private signatures = new Set<string>();
  private execs = 0;
  private baselineRss = 0;
  private lastReport = 0;
  private fuzzStart = 0;

  constructor(private opts: EngineOptions, private target: FuzzTarget, private typed: (e: unknown) => boolean,
    private coverage: ReturnType<typeof startCoverage>) {}

  async run(): Promise<void> {
    const inputs = readdirSync(this.opts.corpus).sort().map((f) => readFileSync(join(this.opts.corpus, f)));
    for (const input of inputs) {
      await this.exec(input);
      this.add(input, false);
    }
    this.baselineRss = process.resourceUsage().maxRSS;
    const maxLength = Math.min(1 << 20, Math.max(4096, ...inputs.map((b) => b.length * 2)));
    const rand = prng(this.opts.seed);
    const dictionary = [...this.target.dictionary, ...literalTokens(this.coverage.words, this.coverage.numbers)];
    const mutator = new Mutator(rand, dictionary, maxLength);
    if (this.corpus.length === 0) this.corpus.push(Buffer.alloc(0));
    this.fuzzStart = Date.now();
    const deadline = this.fuzzStart + this.opts.seconds * 1000;
    const last = this.execs + (this.opts.execs ?? Infinity);
    while (Date.now() < deadline && this.execs < last) {
      const recent = Math.max(1, this.corpus.length >> 3);
      const pick = () => this.corpus[rand() < 0.3 ? this.corpus.length - 1 - Math.floor(rand() * recent) : Math.floor(rand() * this.corpus.length)];
      const input = mutator.mutate(pick(), pick());
      if (await this.exec(input)) this.add(input, true);
      // Inputs run on microtasks only: give the event loop a turn (the supervisor's disconnect) now and then.
      if (this.report(false)) await new Promise((resolve) => setImmediate(resolve));
    }
    this.report(true);
  }

  private add(input: Buffer, save: boolean): void {
    const id = sha1(input);
    if (this.known.has(id)) return;
    this.known.add(id);
    this.corpus.push(input);
    if (save) writeFileSync(join(this.opts.corpus, id), input);
  }

  /** Runs one input; true when it reached new coverage. */
  private async exec(input: Buffer): Promise<boolean> {
    const path = join(this.opts.work, this.target.fileName);
    writeFileSync(path, input);
    const peakBefore = process.resourceUsage().maxRSS;
    const cpu = process.cpuUsage();
    try {
      await this.target.run(path, input);
    } catch (e) {
      if (!this.typed(e)) this.found('exception', e instanceof Error ? e.stack ?? e.message : String(e), input);
    }
    this.execs++;
    const used = process.cpuUsage(cpu);
    if (used.user + used.system > HANG_CPU_US) {
      this.found('hang', `took ${((used.user + used.system) / 1e6).toFixed(2)} s of CPU (limit ${HANG_CPU_US / 1e6} s)`, input);
    }
    if (this.baselineRss > 0) await this.checkMemory(input, peakBefore);
    return this.coverage.novelty() > 0;
  }

  /** An input that raised the peak RSS by more than the limit, or the creep of many, ends this engine. */
  private async checkMemory(input: Buffer, peakBefore: number): Promise<void> {
    const peak = process.resourceUsage().maxRSS;
    if (peak - peakBefore <= MEMORY_LIMIT_KB && peak - this.baselineRss <= CREEP_LIMIT_KB) return;
    writeFileSync(join(this.opts.work, MEMORY_CANDIDATE), input);
    // After the message is out: an exit right after process.send can lose it.
    await new Promise<void>((resolve) => (process.send ? process.send({ type: 'stats', stats: this.stats() }, () => resolve()) : resolve()));
    process.exit(EXIT_AFTER_MEMORY);
  }

  private found(kind: FindingKind, message: string, input: Buffer): void {
    const signature = signatureOf(kind, message);
    if (this.signatures.has(signature)) return;
    this.signatures.add(signature);
    send({ type: 'finding', finding: saveFinding(this.opts.findings, this.target.name, kind, message, input) });
  }

  /** Sends the stats once a second (or now); true when it did. */
  private report(force: boolean): boolean {
    const now = Date.now();
    if (!force && now - this.lastReport < 1000) return false;
    this.lastReport = now;
    send({ type: 'stats', stats: this.stats() });
    return true;
  }

  private stats(): EngineStats {
    const fuzzSeconds = this.fuzzStart ? (Date.now() - this.fuzzStart) / 1000 : 0;
    return { execs: this.execs, fuzzSeconds, covered: this.coverage.covered, counters: this.coverage.total, corpus: this.corpus.length };
  }
}

/** One input in a fresh process, after one warm-up run of an empty input (lazy imports, first-call caches). */
async function replay(target: FuzzTarget, input: Buffer, path: string, typed: (e: unknown) => boolean): Promise<void> {
  const run = async (b: Buffer) => {
    writeFileSync(path, b);
    await target.run(path, b).catch((e: unknown) => {
      if (!typed(e)) throw e;
    });
  };
  await run(Buffer.alloc(0));
  const base = process.resourceUsage().maxRSS;
  const cpu = process.cpuUsage();
  await run(input);
  const used = process.cpuUsage(cpu);
  await new Promise<void>((resolve) => process.send?.({ type: 'replayed', rssKb: process.resourceUsage().maxRSS - base, cpuUs: used.user + used.system }, () => resolve()));
}

function send(m: EngineMessage): void {
  process.send?.(m);
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2]) as EngineOptions;
  // The supervisor is gone (killed, interrupted): nobody reads the results any more.
  process.on('disconnect', () => process.exit(0));
  const coverage = startCoverage();
  // Imported after the hooks are in place: the same instrumented module instances the parsers throw from.
  const { ObjectError } = await import('../../src/errors.js');
  const { loadTarget } = await import('./targets/index.js');
  const target = await loadTarget(opts.target);
  if (opts.replay) await replay(target, readFileSync(opts.replay), join(opts.work, target.fileName), (e) => e instanceof ObjectError);
  else await new Engine(opts, target, (e) => e instanceof ObjectError, coverage).run();
  process.removeAllListeners('disconnect');
  process.disconnect?.();
}

if (process.argv[1]?.endsWith('/engine.js')) await main();
