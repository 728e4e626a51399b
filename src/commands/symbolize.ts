// `ksymtree symbolize`: addresses, frames or a whole kernel log → the copy each frame ran in (alias, sympos),
// its file:line from the line table and the inlined call chain; logs are annotated in place.
import { readFileSync } from 'node:fs';
import type { Db } from '../db/db.js';
import type { Output } from '../io/output.js';
import { defaultJobs } from '../pipeline/pool.js';
import { type Copy, CopyFinder, type Placement } from '../symbolize/copies.js';
import { type InputFrame, framesOfArguments, framesOfLine } from '../symbolize/frames.js';
import { KallsymsFile } from '../symbolize/kallsyms-file.js';
import { tableDir } from '../symbolize/address-tables.js';
import { type Frame, ObjectLines } from '../symbolize/object-lines.js';
import { type CommandResult, finished, withIndex } from './command.js';

export interface SymbolizeOptions {
  readonly db?: string;
  readonly format: 'text' | 'json';
  /** A copy of /proc/kallsyms: runtime addresses (KASLR, module loads) → symbols. */
  readonly kallsyms?: string;
  /** A debug tree for objects the index has no debug copy for (an installed tree indexed alone). */
  readonly debugDir?: string;
  readonly sourceRoot?: string;
  /** Threads reading DWARF (default: the number of cores); 1 reads in this thread. */
  readonly jobs?: number;
  /** False: no address tables, every answer walks the DWARF (`--no-tables`). */
  readonly tables?: boolean;
}

/** One copy's answer: its source frames (innermost first) or why there are none. */
interface CopyAnswer {
  readonly copy: Copy;
  readonly frames: Frame[] | string;
}

/** What one input frame resolved to. */
interface Resolved {
  readonly frame: InputFrame;
  /** 1-based line of the log (stdin), or argument position. */
  readonly at: number;
  readonly placement: Placement | { error: string };
  readonly answers: CopyAnswer[];
}

/** The module (null: vmlinux) most symbolic frames name; undefined when none names one. */
function busiestObject(frames: readonly InputFrame[]): string | null | undefined {
  const counts = new Map<string | null, number>();
  for (const f of frames) if (f.name !== null) counts.set(f.module, (counts.get(f.module) ?? 0) + 1);
  let best: string | null | undefined;
  for (const [module, n] of counts) if (best === undefined || n > counts.get(best)!) best = module;
  return best;
}

/** One turn of the event loop: lets the worker pool hand out the tasks posted so far. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Resolves every frame: copies from the index, then each object's DWARF once for all its addresses. When
 * every frame is symbolic and there is no --kallsyms, the busiest object's frames have copies in it alone and
 * no other frame has one there: its places go to the threads first, which read them while the other frames
 * are placed (the index is queried synchronously).
 */
async function resolveFrames(db: Db, frames: { frame: InputFrame; at: number }[], opts: SymbolizeOptions, tables: string | null): Promise<Resolved[]> {
  const lines = new ObjectLines(opts.debugDir ?? null, opts.sourceRoot, opts.jobs ?? defaultJobs(), frames.length, tables);
  try {
    const finder = new CopyFinder(db, opts.kallsyms ? new KallsymsFile(opts.kallsyms) : null);
    const busiest = busiestObject(frames.map((f) => f.frame));
    const warm = busiest === undefined ? null : finder.object(busiest);
    if (warm) lines.warm(warm, frames.filter((f) => f.frame.name !== null && f.frame.module === busiest).length);
    const placements: (Placement | { error: string })[] = new Array(frames.length);
    const answers: CopyAnswer[][] = new Array(frames.length);
    /** Places the frames at `indexes` and reads their objects' DWARF; answers land in `answers`. */
    const placeAndRead = (indexes: readonly number[]): Promise<void> => {
      finder.prefetch(indexes.map((i) => frames[i].frame));
      const byObject = new Map<number, { copy: Copy; offset: bigint; slot: [number, number] }[]>();
      for (const i of indexes) {
        const p = (placements[i] = finder.place(frames[i].frame));
        answers[i] = 'error' in p ? [] : p.copies.map((copy) => ({ copy, frames: '' }));
        if ('error' in p) continue;
        p.copies.forEach((copy, j) => {
          const list = byObject.get(copy.object.id) ?? [];
          list.push({ copy, offset: p.offset, slot: [i, j] });
          byObject.set(copy.object.id, list);
        });
      }
      const lists = [...byObject.values()];
      return lines.frames(lists.map((list) => ({
        object: list[0].copy.object, places: list.map((x) => ({ section: x.copy.section, value: x.copy.value + x.offset })),
      }))).then((found) => lists.forEach((list, n) => list.forEach((x, k) => (answers[x.slot[0]][x.slot[1]] = { copy: x.copy, frames: found[n][k] }))));
    };
    const early = busiest !== undefined && !opts.kallsyms && (busiest !== null || frames.every((f) => f.frame.name !== null));
    const first = new Set(early ? frames.flatMap((f, i) => (f.frame.name !== null && f.frame.module === busiest ? [i] : [])) : []);
    const reading = [placeAndRead([...first])];
    // Awaited below with the rest; a failure meanwhile is not an unhandled rejection.
    reading[0].catch(() => {});
    if (first.size > 0) await turn();
    reading.push(placeAndRead(frames.flatMap((_, i) => (first.has(i) ? [] : [i]))));
    await Promise.all(reading);
    return frames.map(({ frame, at }, i) => ({ frame, at, placement: placements[i], answers: answers[i] }));
  } finally {
    await lines.close();
  }
}

const sameFrames = (a: Frame[] | string, b: Frame[] | string) => JSON.stringify(a) === JSON.stringify(b);

const position = (f: Frame) => `${f.file ?? '??'}:${f.line}`;

/** The annotation decode_stacktrace.sh would put after a frame, plus continuation lines for inlined callers. */
function annotate(r: Resolved, indent: string): { tail: string; more: string[] } {
  if ('error' in r.placement) return { tail: ` (ksymtree: ${r.placement.error})`, more: [] };
  const { answers } = r;
  const names = (list: CopyAnswer[]) => list.map((a) => a.copy.alias ?? a.copy.name).join(' | ');
  const describe = (frames: Frame[] | string): { tail: string; more: string[] } => {
    if (typeof frames === 'string') return { tail: ` (ksymtree: ${frames})`, more: [] };
    const inner = frames.length > 1 ? ` (in ${frames[0].function ?? '??'}, inlined)` : '';
    const more = frames.slice(1).map((f, j) => `${indent}  ${frames[j].function ?? '??'} inlined into ${f.function ?? '??'} at ${position(f)}`);
    return { tail: ` ${position(frames[0])}${inner}`, more };
  };
  if (answers.length === 1 || answers.every((a) => sameFrames(a.frames, answers[0].frames))) {
    const alias = answers.some((a) => a.copy.alias) ? ` ${answers.length > 1 ? `one of ${names(answers)}:` : names(answers)}` : '';
    const d = describe(answers[0].frames);
    return { tail: `${alias}${d.tail}`, more: d.more };
  }
  const more = answers.flatMap((a) => {
    const d = describe(a.frames);
    return [`${indent}  ${a.copy.alias ?? a.copy.name}:${d.tail}`, ...d.more.map((l) => `  ${l}`)];
  });
  return { tail: ` (ksymtree: ${r.placement.how}: give --kallsyms FILE or the trace's addresses to tell them apart)`, more };
}

function record(r: Resolved): object {
  const f = r.frame;
  const base = { input: f.text.slice(f.start, f.end).trim(), at: r.at };
  const p = r.placement;
  if ('error' in p) return { ...base, error: p.error };
  const one = (a: CopyAnswer) => {
    const frames = typeof a.frames === 'string' ? [] : a.frames;
    return {
      name: a.copy.name, alias: a.copy.alias, object: a.copy.object.kind === 'vmlinux' ? 'vmlinux' : a.copy.object.module, sympos: a.copy.sympos,
      section: a.copy.section, offset: `0x${p.offset.toString(16)}`, size: a.copy.size,
      file: frames[0]?.file ?? null, line: frames[0]?.line ?? null, column: frames[0]?.column ?? null, frames,
      ...(typeof a.frames === 'string' ? { error: a.frames } : {}),
    };
  };
  const [first, ...rest] = r.answers;
  if (!rest.length) return { ...base, ...one(first), how: p.how };
  return { ...base, ...one(first), how: p.how, ambiguous: true, candidates: r.answers.map(one) };
}

/**
 * Symbolizes `args` (addresses or frames), or, without arguments, the kernel log on stdin, which is
 * printed back with each frame annotated. `tables`: the directory of the debug copies' address tables (null:
 * none, the DWARF is walked).
 */
export async function symbolize(db: Db, args: readonly string[], opts: SymbolizeOptions, out: Output, tables: string | null = null): Promise<number> {
  const fromLog = args.length === 0;
  const texts = fromLog ? readFileSync(0, 'latin1').split('\n') : [];
  if (fromLog && texts[texts.length - 1] === '') texts.pop();
  const frames = fromLog
    ? texts.flatMap((t, i) => framesOfLine(t).map((frame) => ({ frame, at: i + 1 })))
    : framesOfArguments(args).map((frame, i) => ({ frame, at: i + 1 }));
  const resolved = await resolveFrames(db, frames, opts, tables);
  const failed = resolved.filter((r) => 'error' in r.placement || r.answers.some((a) => typeof a.frames === 'string')).length;
  if (opts.format === 'json') {
    for (const r of resolved) out.line(JSON.stringify(record(r)));
    return failed;
  }
  if (!fromLog) {
    for (const r of resolved) {
      const a = annotate(r, '');
      out.line(`${r.frame.text}${a.tail}`);
      for (const l of a.more) out.line(l);
    }
    return failed;
  }
  const byLine = new Map<number, Resolved[]>();
  for (const r of resolved) byLine.set(r.at, [...(byLine.get(r.at) ?? []), r]);
  texts.forEach((text, i) => {
    const rs = byLine.get(i + 1);
    if (!rs) return out.line(text);
    const stamp = /^\s*\[\s*[\d.]+\]/.exec(text)?.[0] ?? '';
    const indent = stamp + ' '.repeat(Math.max(0, rs[0].frame.start - stamp.length));
    const parts = rs.map((r) => annotate(r, indent));
    out.line(`${text}${parts.map((p) => p.tail).join('')}`);
    for (const p of parts) for (const l of p.more) out.line(l);
  });
  return failed;
}

/** `ksymtree symbolize` as a command: exit 1 when some frame could not be placed or has no source line (each says why). */
export function runSymbolize(args: readonly string[], opts: SymbolizeOptions, out: Output): Promise<CommandResult> {
  return withIndex(opts.db, async (db, path) => finished((await symbolize(db, args, opts, out, opts.tables === false ? null : tableDir(path))) > 0));
}
