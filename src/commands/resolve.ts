// `ksymtree resolve ALIAS`: the copy an alias names (objname, section+offset, site, livepatch sympos) and trace
// lines (kprobe events, perf probe, bpftrace) that reach exactly that copy on a running kernel.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { debugPathOf, indexedConfig } from '../db/queries.js';
import { type FunctionRow, functionRows, symbolPlace, uniqueAnchor } from '../db/symbols.js';
import { STB_LOCAL } from '../elf/constants.js';
import { FatalError } from '../errors.js';
import { type AliasRow, aliasRowsByAlias, objectName, offsetInSection, siteText } from '../db/alias-rows.js';
import type { Db } from '../db/db.js';
import { callSitesOf } from '../analyse/callers.js';
import type { Output } from '../io/output.js';
import { type CommandResult, type TextOrJson, finished, withIndex, writeRecords } from './command.js';

export interface ResolveOptions {
  readonly db?: string;
  readonly format?: TextOrJson;
  /** A /proc/kallsyms copy (or the live file) of the running kernel. */
  readonly kallsyms?: string;
  /** /sys/module-style directory: <dir>/<module>/sections/<section> holds each section's load address. */
  readonly sysModule?: string;
}

interface KallsymsLine { address: bigint; name: string; module: string | null }

function readKallsyms(path: string): KallsymsLine[] {
  const lines: KallsymsLine[] = [];
  for (const text of readFileSync(path, 'latin1').split('\n')) {
    const m = /^([0-9a-fA-F]+) \S (\S+)(?:\t\[(\S+)\])?/.exec(text);
    if (m) lines.push({ address: BigInt(`0x${m[1]}`), name: m[2], module: m[3] ?? null });
  }
  return lines;
}

/**
 * The runtime address of the symbol an alias names, found without the kernel knowing the alias: the
 * SYMPOS-th line of that name in the object's part of /proc/kallsyms (vmlinux lines come in address order
 * and modules in .symtab order, which are exactly the sympos orders), or section load address + offset.
 */
function runtimeAddress(r: AliasRow, opts: ResolveOptions): { address: bigint; how: string } | null {
  if (opts.kallsyms) {
    const module = r.kind === 'vmlinux' ? null : r.module;
    const same = readKallsyms(opts.kallsyms).filter((l) => l.name === r.name && l.module === module);
    const hit = same[r.sympos - 1];
    if (hit && hit.address !== 0n) return { address: hit.address, how: `copy ${r.sympos} of ${same.length} named ${r.name} in ${opts.kallsyms}` };
    if (hit) throw new FatalError(`${opts.kallsyms} shows zero addresses: read it as root (kptr_restrict hides them)`);
  }
  if (opts.sysModule && r.kind === 'module' && r.section) {
    const base = join(opts.sysModule, r.module ?? '', 'sections', r.section);
    if (existsSync(base)) {
      const address = BigInt(readFileSync(base, 'latin1').trim()) + BigInt(`0x${r.value}`);
      return { address, how: `${base} + 0x${BigInt(`0x${r.value}`).toString(16)}` };
    }
  }
  return null;
}

/** The kernel's MAX_EVENT_NAME_LEN (64) including the NUL. */
const EVENT_NAME_MAX = 63;

/**
 * A kprobe event name unique in the whole tree: the object, the name and the sympos (`bridge_jhash_3`).
 * Two events of one name in one group are merged by the kernel into one that fires for both probes, so
 * names are never bare NAME_SYMPOS (`jhash_1` exists in vmlinux, bridge, nfsd, vxlan, ...). `suffix` tells
 * the forms of one copy apart. A name too long for the kernel keeps its end and gets a hash of the whole.
 */
function eventName(r: Pick<AliasRow, 'kind' | 'module' | 'name' | 'sympos'>, suffix = ''): string {
  const full = `${objectName(r)}_${r.name}_${r.sympos}${suffix}`.replace(/[^A-Za-z0-9_]/g, '_');
  if (full.length <= EVENT_NAME_MAX) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `h${hash}_${full.slice(full.length - (EVENT_NAME_MAX - hash.length - 2))}`;
}

/** One copy an alias names, as `resolve --format json` prints it (README: "Machine-readable output"). */
export interface ResolveRecord {
  alias: string; object: string; path: string; name: string; sympos: number; section: string | null; offset: string; size: number;
  decl_file: string | null; decl_line: number | null; unit: string | null;
  livepatch: { objname: string | null; old_name: string; old_sympos: number };
  /** A unique symbol of the same section at or below the copy: `[MOD:]NAME+OFFSET` reaches it on any load. */
  anchor: { name: string; offset: string; kprobe_event: string } | null;
  /** With --kallsyms or a /sys/module copy: this boot's address and trace lines using it. */
  runtime: { address: string; how: string; kprobe_event: string; perf_probe: string; bpftrace: string } | null;
  /** Functions: whether ftrace has a call site in this copy; null when not known. */
  ftrace: boolean | null;
  /** Why kprobes (kprobe_events, perf, bpftrace) cannot attach to this copy, when they cannot; no probe lines then. */
  probe_refused: string | null;
  /**
   * For a copy kprobes cannot reach: the functions of its object that call it directly (what to probe
   * instead), each call site once; null when not asked or not found (then `callers_error` says why).
   */
  callers: Caller[] | null;
  callers_error: string | null;
}

/** A function that calls a copy directly, at one call instruction. */
export interface Caller {
  name: string;
  /** Its alias when its name is duplicated in the object. */
  alias: string | null;
  sympos: number;
  /** Whether kprobes can attach to the caller (it has an ftrace entry); null when not known. */
  ftrace: boolean | null;
  /** The call instruction, as CALLER+0xOFFSET. */
  at: string;
  /** A jump ending the caller: the copy returns straight to the caller's caller. */
  tail: boolean;
  /** A notrace caller's own callers, up to CALLER_DEPTH levels from the copy; null beyond. */
  callers: Caller[] | null;
}

/** How many levels of notrace callers are followed up to traceable ones. */
const CALLER_DEPTH = 3;

/**
 * Direct callers of function symbols of one object (DWARF call sites confirmed by the call instruction),
 * named from the index; notrace callers are followed up the call chain until traceable ones.
 */
class CallerFinder {
  private functions = new Map<number, FunctionRow[]>();
  private select;

  constructor(db: Db, private r: AliasRow, private debugPath: string) {
    this.select = functionRows(db);
  }

  private get module(): boolean {
    return this.r.kind === 'module';
  }

  /** Function symbols of a section (a module's; vmlinux: all of them, key 0), loaded once. */
  private inSection(section: number): FunctionRow[] {
    let list = this.functions.get(section);
    if (!list) this.functions.set(section, (list = this.select(this.r.object_id, this.module ? section : null)));
    return list;
  }

  async callers(f: Pick<FunctionRow, 'idx' | 'name' | 'value' | 'shndx' | 'bind'>, depth: number, seen: Set<number>): Promise<Caller[]> {
    const sites = await callSitesOf(this.debugPath, { name: f.name, section: this.module ? f.shndx : 0, value: BigInt(`0x${f.value}`), local: f.bind === STB_LOCAL });
    const out: Caller[] = [];
    for (const site of sites) {
      const g = this.inSection(this.module ? site.section : 0)
        .find((x) => BigInt(`0x${x.value}`) <= site.at && site.at < BigInt(`0x${x.value}`) + BigInt(x.size));
      const at = g ? `${g.name}+0x${(site.at - BigInt(`0x${g.value}`)).toString(16)}` : `0x${site.at.toString(16)}`;
      const follow = g && g.ftrace === 0 && depth < CALLER_DEPTH && !seen.has(g.idx);
      out.push({ name: g?.name ?? '?', alias: g?.alias ?? null, sympos: g?.sympos ?? 0, ftrace: g && g.ftrace !== null ? g.ftrace === 1 : null, at, tail: site.tail,
        callers: follow ? await this.callers(g, depth + 1, new Set([...seen, g.idx])) : null });
    }
    return out;
  }
}

/** The callers of a refused copy, or why they cannot be found. */
async function callersOf(db: Db, r: AliasRow): Promise<{ callers: Caller[] | null; error: string | null }> {
  const debugPath = debugPathOf(db, r.object_id);
  if (!debugPath) return { callers: null, error: `${r.object}: no DWARF in the index (index with --debug-dir) to find callers in` };
  const sym = symbolPlace(db, r.object_id, r.idx);
  try {
    return { callers: await new CallerFinder(db, r, debugPath).callers({ ...r, ...sym }, 1, new Set([r.idx])), error: null };
  } catch (e) {
    return { callers: null, error: (e as Error).message };
  }
}

/**
 * trace_kprobe.c within_notrace_func(): without CONFIG_KPROBE_EVENTS_ON_NOTRACE a kprobe (events, perf and
 * bpftrace alike) must land in a function ftrace can trace; the kernel answers EINVAL and logs
 * "Could not probe notrace function".
 */
function probeRefused(r: AliasRow, notraceAllowed: boolean): string | null {
  if (r.ftrace !== 0 || notraceAllowed) return null;
  return 'this copy has no ftrace entry (notrace: e.g. an out-of-line copy of a header inline), and without '
    + 'CONFIG_KPROBE_EVENTS_ON_NOTRACE the kernel refuses kprobes on it (EINVAL, "Could not probe notrace function"); '
    + 'probe its callers, or use its livepatch position';
}

/** `ksymtree resolve ALIAS` as a command: its records as text lines or json. */
export function runResolve(alias: string, opts: ResolveOptions, out: Output): Promise<CommandResult> {
  return withIndex(opts.db, async (db) => {
    const records = await resolve(db, alias, opts);
    writeRecords(out, opts.format ?? 'text', records, () => resolveLines(records));
    return finished();
  });
}

/**
 * Where the copy an alias names is, and trace lines that reach exactly it on a running kernel; for a copy
 * kprobes cannot reach, its callers.
 */
export async function resolve(db: Db, alias: string, opts: ResolveOptions): Promise<ResolveRecord[]> {
  const rows = aliasRowsByAlias(db, alias);
  if (!rows.length) throw new FatalError(`${alias}: no such alias in the index (see \`ksymtree lookup NAME\`)`);
  const notraceAllowed = indexedConfig(db)?.options.CONFIG_KPROBE_EVENTS_ON_NOTRACE === 'y';
  const records: ResolveRecord[] = [];
  for (const r of rows) {
    const refused = probeRefused(r, notraceAllowed);
    const callers = refused ? await callersOf(db, r) : { callers: null, error: null };
    const obj = objectName(r);
    const ev = eventName(r);
    // Each form gets its own event name: pasting both then makes two events, not one firing twice.
    const evAddress = eventName(r, '_addr');
    // A unique function at or below the copy in its section: `[MOD:]ANCHOR+OFFSET` names exactly it on any load.
    const found = uniqueAnchor(db, r.object_id, r.idx, r.value, r.kind);
    const prefix = r.kind === 'module' ? `${obj}:` : '';
    const anchor = refused || !found ? null : ((delta) => ({ name: found.name, offset: delta, kprobe_event: `p:ksymtree/${ev} ${prefix}${found.name}+${delta}` }))(
      `0x${(BigInt(`0x${r.value}`) - BigInt(`0x${found.value}`)).toString(16)}`);
    const rt = runtimeAddress(r, opts);
    const addr = rt && `0x${rt.address.toString(16)}`;
    records.push({
      alias, object: obj, path: r.object, name: r.name, sympos: r.sympos, section: r.section, offset: offsetInSection(r), size: r.size,
      decl_file: r.decl_file, decl_line: r.decl_line, unit: r.unit,
      livepatch: { objname: r.kind === 'vmlinux' ? null : obj, old_name: r.name, old_sympos: r.sympos },
      anchor,
      runtime: !refused && rt && addr ? { address: addr, how: rt.how, kprobe_event: `p:ksymtree/${evAddress} ${addr}`, perf_probe: `perf probe --add '${addr}'`,
        bpftrace: `bpftrace -e 'kprobe:${addr} { printf("${evAddress}\\n"); }'` } : null,
      ftrace: r.ftrace === null ? null : r.ftrace === 1,
      probe_refused: refused,
      callers: callers.callers,
      callers_error: callers.error,
    });
  }
  return records;
}

/** The text lines naming a refused copy's callers, notrace callers followed by their own. */
function callerLines(r: ResolveRecord): string[] {
  if (r.callers_error) return [`  callers: not found (${r.callers_error})`];
  if (!r.callers) return [];
  if (!r.callers.length) {
    return [`  callers: no direct call to this copy in ${r.object} (DWARF call sites); it runs, if at all, through a function pointer`];
  }
  const lines = [`  callers in ${r.object} (probe a traceable one instead):`];
  const walk = (list: readonly Caller[], indent: string) => {
    for (const c of list) {
      const how = c.ftrace === null ? 'traceability unknown' : c.ftrace ? 'traceable' : 'notrace too';
      lines.push(`${indent}${c.alias ?? c.name}: ${c.tail ? 'jumps to it (tail call)' : 'calls it'} at ${c.at}, ${how}`);
      if (c.callers && !c.callers.length) lines.push(`${indent}  (no direct caller: reached through a function pointer, if at all)`);
      if (c.callers) walk(c.callers, `${indent}  `);
    }
  };
  walk(r.callers, '    ');
  return lines;
}

/** The text view of `resolve`: a summary line, then livepatch, kprobe, perf and bpftrace lines. */
function resolveLines(records: readonly ResolveRecord[]): string[] {
  const out: string[] = [];
  for (const r of records) {
    const site = siteText(r);
    out.push(`${r.alias}: ${r.object} ${r.name} sympos ${r.sympos}, ${r.section ?? '?'}+${r.offset}, size ${r.size}${site ? `, defined at ${site}` : ''}`);
    out.push(`  livepatch: .objname = ${r.livepatch.objname === null ? 'NULL' : `"${r.livepatch.objname}"`}, .old_name = "${r.name}", .old_sympos = ${r.sympos}`);
    if (r.probe_refused) out.push(`  no probe lines: ${r.probe_refused}`, ...callerLines(r));
    if (r.anchor) {
      out.push(`  kprobe_events: ${r.anchor.kprobe_event}`);
      out.push(`    (${r.anchor.name} is unique in ${r.livepatch.objname === null ? 'the whole tree' : r.object}, so kernels that refuse non-unique names accept it; stable across module loads and KASLR)`);
    }
    if (r.runtime) {
      out.push(`  runtime address: ${r.runtime.address} (${r.runtime.how})`);
      out.push(`  kprobe_events: ${r.runtime.kprobe_event}`);
      out.push(`  perf probe: ${r.runtime.perf_probe}`);
      out.push(`  bpftrace: ${r.runtime.bpftrace}`);
      out.push('    (a raw address names one copy whatever its name; valid for this boot and this module load only)');
    } else if (!r.anchor && !r.probe_refused) {
      out.push('  no unique neighbour in this section: give --kallsyms /proc/kallsyms for a runtime address');
    }
  }
  return out;
}
