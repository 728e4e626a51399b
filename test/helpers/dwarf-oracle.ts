// The oracle for definition sites: llvm-dwarfdump-19 (binutils addr2line is wrong on DWARF 5, see
// shared/domain.md). Everything here parses llvm-dwarfdump's text output; nothing uses ksymtree's reader.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { exec } from './exec.js';

export const LLVM_DWARFDUMP = 'llvm-dwarfdump-19';

export function haveDwarfdump(): boolean {
  try {
    execFileSync(LLVM_DWARFDUMP, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface OracleCu {
  readonly name: string | null;
  readonly compDir: string | null;
}

export interface OracleDie {
  readonly offset: number;
  readonly tag: string;
  /** Attribute name → raw text inside the outer parentheses (continuation lines joined with '\n'). */
  readonly attrs: Map<string, string>;
  readonly cu: OracleCu | null;
}

/** Parses DIE blocks of llvm-dwarfdump output; a DW_TAG_compile_unit block sets the unit of the blocks after it. */
export function parseDies(text: string): OracleDie[] {
  const out: OracleDie[] = [];
  let cur: { offset: number; tag: string; attrs: Map<string, string>; cu: OracleCu | null } | null = null;
  let lastAttr: string | null = null;
  let cu: OracleCu | null = null;
  const close = () => {
    if (!cur) return;
    if (cur.tag === 'DW_TAG_compile_unit' || cur.tag === 'DW_TAG_skeleton_unit' || cur.tag === 'DW_TAG_partial_unit') {
      cu = { name: str(cur.attrs.get('DW_AT_name')), compDir: str(cur.attrs.get('DW_AT_comp_dir')) };
      cur.cu = cu;
    }
    out.push(cur);
    cur = null;
  };
  for (const line of text.split('\n')) {
    const head = /^(0x[0-9a-f]+):\s+(DW_TAG_\w+|NULL)/.exec(line);
    if (head) {
      close();
      cur = { offset: parseInt(head[1], 16), tag: head[2], attrs: new Map(), cu };
      lastAttr = null;
      continue;
    }
    if (/^0x[0-9a-f]+: Compile Unit:/.test(line) || /^Line info:/.test(line) || line.trim() === '') {
      if (line.trim() === '' && cur) close();
      continue;
    }
    const attr = /^\s+(DW_AT_\w+)\s+(?:\[[^\]]*\]\s+)?\((.*)$/.exec(line);
    if (attr && cur) {
      lastAttr = attr[1];
      cur.attrs.set(attr[1], attr[2].replace(/\)$/, ''));
      continue;
    }
    if (cur && lastAttr && /^\s+\[0x/.test(line)) cur.attrs.set(lastAttr, `${cur.attrs.get(lastAttr)}\n${line.trim().replace(/\)+$/, ')')}`);
  }
  close();
  return out;
}

/** `("text")` → text; a quoted string value, null when absent. */
export function str(v: string | undefined): string | null {
  if (v === undefined) return null;
  const m = /"((?:[^"\\]|\\.)*)"/.exec(v);
  return m ? m[1] : null;
}

export function num(v: string | undefined): number | null {
  if (v === undefined) return null;
  const m = /^(0x[0-9a-f]+|\d+)/.exec(v.trim());
  return m ? Number(m[1]) : null;
}

/** DW_AT_low_pc / high_pc address values. */
export function addr(v: string | undefined): bigint | null {
  if (v === undefined) return null;
  const m = /^(0x[0-9a-f]+)/.exec(v.trim());
  return m ? BigInt(m[1]) : null;
}

/** Range starts of a DW_AT_ranges value, in listed order. */
export function rangeStarts(v: string | undefined): bigint[] {
  if (v === undefined) return [];
  return [...v.matchAll(/\[(0x[0-9a-f]+), 0x[0-9a-f]+\)/g)].map((m) => BigInt(m[1]));
}

/** `DW_OP_addr 0x...` of a location that is exactly that operation. */
export function locationAddr(v: string | undefined): bigint | null {
  if (v === undefined) return null;
  const m = /^DW_OP_addr (0x[0-9a-f]+)$/.exec(v.trim());
  return m ? BigInt(m[1]) : null;
}

/** `(0x0000abcd "name")` → 0xabcd. */
export function ref(v: string | undefined): number | null {
  if (v === undefined) return null;
  const m = /^(?:cu \+ 0x[0-9a-f]+ => \{)?(0x[0-9a-f]+)/.exec(v.trim());
  return m ? parseInt(m[1], 16) : null;
}

async function dwarfdump(args: string[]): Promise<string> {
  const { stdout } = await exec(LLVM_DWARFDUMP, args);
  return stdout;
}

const unitLists = new Map<string, Promise<{ offsets: number[]; cus: OracleCu[] }>>();

/** Every unit DIE of `file` (`--debug-info --recurse-depth=0`): to tell which unit a DIE offset is in. */
function unitList(file: string) {
  let p = unitLists.get(file);
  if (!p) {
    p = dwarfdump(['--debug-info', '--recurse-depth=0', file]).then((text) => {
      const units = parseDies(text).filter((d) => d.cu && d.tag !== 'NULL').sort((a, b) => a.offset - b.offset);
      return { offsets: units.map((u) => u.offset), cus: units.map((u) => u.cu!) };
    });
    unitLists.set(file, p);
  }
  return p;
}

/**
 * All DIEs named any of `names`, each with its unit, in batches that keep argv short. Units come from the
 * unit list, not from `-p` (whose parent chains repeat the whole unit DIE per match: 400 MB for a vmlinux).
 */
export async function diesByName(file: string, names: readonly string[]): Promise<OracleDie[]> {
  const out: OracleDie[] = [];
  const unique = [...new Set(names)];
  if (unique.length === 0) return out;
  const units = await unitList(file);
  for (let i = 0; i < unique.length; i += 2000) {
    const batch = unique.slice(i, i + 2000);
    for (const d of parseDies(await dwarfdump([...batch.map((n) => `--name=${n}`), file]))) {
      let lo = 0;
      let hi = units.offsets.length - 1;
      let k = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (units.offsets[mid] <= d.offset) {
          k = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      out.push({ ...d, cu: k >= 0 ? units.cus[k] : null });
    }
  }
  return out;
}

export interface Lookup {
  readonly cu: OracleCu | null;
  readonly subprogram: OracleDie | null;
  /** llvm's "Line info" for the address (the row containing it). */
  readonly line: { file: string | null; line: number } | null;
}

/** `--lookup=ADDR` on a linked object: the unit and innermost subprogram covering the address. */
export async function lookup(file: string, address: bigint): Promise<Lookup> {
  const text = await dwarfdump([`--lookup=0x${address.toString(16)}`, file]);
  const dies = parseDies(text);
  const cuDie = dies.find((d) => d.tag === 'DW_TAG_compile_unit' || d.tag === 'DW_TAG_skeleton_unit');
  let subprogram = [...dies].reverse().find((d) => d.tag === 'DW_TAG_subprogram') ?? null;
  // llvm prints the innermost subroutine as the "function": code inlined at a clone's first instruction
  // shows a DW_TAG_inlined_subroutine instead. Its parent chain (-p) holds the enclosing subprogram.
  const inner = dies.find((d) => d.tag === 'DW_TAG_inlined_subroutine');
  if (!subprogram && inner) {
    const chain = parseDies(await dwarfdump([`--debug-info=0x${inner.offset.toString(16)}`, '-p', file]));
    subprogram = [...chain].reverse().find((d) => d.tag === 'DW_TAG_subprogram') ?? null;
  }
  const m = /^Line info: (?:file '([^']*)', )?line (\d+)/m.exec(text);
  return { cu: cuDie?.cu ?? null, subprogram, line: m ? { file: m[1] ?? null, line: Number(m[2]) } : null };
}

const dieCache = new Map<string, OracleDie | null>();

/** One DIE by offset (`--debug-info=OFFSET`). */
export async function dieAt(file: string, offset: number): Promise<OracleDie | null> {
  const key = `${file}@${offset}`;
  if (!dieCache.has(key)) {
    const dies = parseDies(await dwarfdump([`--debug-info=0x${offset.toString(16)}`, file]));
    dieCache.set(key, dies.find((d) => d.offset === offset) ?? null);
  }
  return dieCache.get(key)!;
}

/**
 * decl_file/decl_line of a DIE, each from the first DIE having it along DW_AT_abstract_origin and
 * DW_AT_specification (what llvm's own DWARFDie::getDeclLine/getDeclFile do).
 */
export async function declOf(file: string, die: OracleDie, known: ReadonlyMap<number, OracleDie> = new Map<number, OracleDie>()): Promise<{ file: string | null; line: number | null }> {
  let d: OracleDie | null = die;
  let declFile: string | null = null;
  let declLine: number | null = null;
  for (let hop = 0; d && hop < 16; hop++) {
    declFile ??= str(d.attrs.get('DW_AT_decl_file'));
    declLine ??= num(d.attrs.get('DW_AT_decl_line'));
    if (declFile !== null && declLine !== null) break;
    const next: number | null = ref(d.attrs.get('DW_AT_abstract_origin')) ?? ref(d.attrs.get('DW_AT_specification'));
    if (next === null) break;
    d = known.get(next) ?? (await dieAt(file, next));
  }
  return { file: declFile, line: declLine };
}

/** The path relative to the source root as the oracle sees it: without the unit's comp_dir and './'. */
export function relativeTo(path: string | null, cu: OracleCu | null): string | null {
  if (path === null) return null;
  let p = posix.normalize(path);
  const dir = cu?.compDir ? posix.normalize(cu.compDir).replace(/\/$/, '') : null;
  if (dir && p.startsWith(`${dir}/`)) p = p.slice(dir.length + 1);
  return p.replace(/^\.\//, '');
}

export function unitName(cu: OracleCu | null): string | null {
  if (!cu?.name) return null;
  if (cu.name.startsWith('/')) return relativeTo(cu.name, cu);
  return posix.normalize(cu.name).replace(/^\.\//, '');
}

/**
 * A relocatable object (.o, .ko) linked so that each allocated section sits at its own known base:
 * llvm-dwarfdump does not apply relocations inside location expressions of ET_REL files (DW_OP_addr shows
 * 0), so the oracle reads a copy where the linker has applied them. Returns the copy and the section bases.
 */
export function linkForOracle(rel: string, out: string, ld: string, ldFlags: readonly string[] = []): Map<string, bigint> | null {
  const sections = execFileSync('readelf', ['-SW', rel], { encoding: 'utf8' });
  const bases = new Map<string, bigint>();
  let script = 'SECTIONS {\n';
  let n = 0;
  for (const line of sections.split('\n')) {
    const m = /^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+(\S*)/.exec(line);
    if (!m || !m[3].includes('A') || m[2] === 'NULL' || m[2] === 'NOTE' || m[2] === 'GROUP') continue;
    if (m[1].startsWith('.rela') || m[1].startsWith('.rel.')) continue;
    const base = BigInt(++n) * 0x100_0000n;
    bases.set(m[1], base);
    script += `  "${m[1]}" 0x${base.toString(16)} : { *("${m[1]}") }\n`;
  }
  script += '  /DISCARD/ : { *(.note.gnu.build-id) }\n}\n';
  const scriptPath = `${out}.ld`;
  execFileSync('sh', ['-c', 'cat > "$0"', scriptPath], { input: script });
  try {
    execFileSync(ld, [...ldFlags, '-T', scriptPath, '--unresolved-symbols=ignore-all', '--noinhibit-exec', '-e', '0', '-o', out, rel], { stdio: 'pipe' });
  } catch {
    // --noinhibit-exec still writes the output when relocations against undefined symbols overflow.
  }
  return existsSync(out) ? bases : null;
}

export type Expected =
  /** The oracle found the DIE: its decl site and unit. */
  | { readonly kind: 'decl'; readonly file: string | null; readonly line: number | null; readonly unit: string | null }
  /** Several DIEs at the address with different sites: any of them is acceptable. */
  | { readonly kind: 'ambiguous'; readonly options: readonly { file: string | null; line: number | null }[] }
  /** No DIE starts at the address; `line` is llvm's line-table answer when it has one, `unit` the covering unit. */
  | { readonly kind: 'no-die'; readonly unit: string | null; readonly line: { file: string | null; line: number } | null };

export interface OracleSymbol {
  readonly name: string;
  readonly type: 'func' | 'object';
  /** Address in `file` (for a relocatable object: in its linkForOracle copy); null when unknown. */
  readonly address: bigint | null;
}

/**
 * What llvm-dwarfdump says about each symbol. Functions: `--lookup` (one run each, `concurrency` at a time)
 * unless `byNameFirst`, which first tries one batched `--name` run and looks up only the functions it
 * missed (out-of-line clones have no DW_AT_name of their own). Variables: `--name`, matched by DW_OP_addr.
 */
export async function expectedSites(file: string, symbols: readonly OracleSymbol[], options: { byNameFirst?: boolean; concurrency?: number; lineTableOnly?: boolean } = {}): Promise<(Expected | null)[]> {
  const byName = await diesByName(file, symbols.filter((s) => s.address !== null && (s.type === 'object' || options.byNameFirst)).map((s) => baseOf(s.name)));
  const known = new Map(byName.map((d) => [d.offset, d]));
  const out: (Expected | null)[] = new Array(symbols.length).fill(null);
  const lookups: number[] = [];
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i];
    if (s.address === null) continue;
    const base = baseOf(s.name);
    if (s.type === 'object') {
      let hits = byName.filter((d) => d.tag === 'DW_TAG_variable' && str(d.attrs.get('DW_AT_name')) === base && locationAddr(d.attrs.get('DW_AT_location')) === s.address);
      // A definition that names itself through DW_AT_specification (`int x;` after `extern int x;`) has
      // no DW_AT_name for --name to find: small objects are searched whole.
      if (hits.length === 0 && statSync(file).size <= FULL_DUMP_LIMIT) {
        const all = await fullDump(file);
        hits = all.byAddress.get(s.address) ?? [];
        for (const [k, v] of all.byOffset) if (!known.has(k)) known.set(k, v);
      }
      // In a large object, search the units holding a declaration of that name instead.
      if (hits.length === 0) {
        const decls = byName.filter((d) => d.tag === 'DW_TAG_variable' && str(d.attrs.get('DW_AT_name')) === base && d.attrs.has('DW_AT_declaration'));
        for (const d of decls) {
          const unit = await unitDump(file, d.offset);
          for (const [k, v] of unit.byOffset) if (!known.has(k)) known.set(k, v);
          hits.push(...(unit.byAddress.get(s.address) ?? []));
        }
      }
      out[i] = await fromCandidates(file, hits, known) ?? { kind: 'no-die', unit: null, line: null };
      continue;
    }
    if (options.byNameFirst) {
      const hits = byName.filter((d) => d.tag === 'DW_TAG_subprogram' && str(d.attrs.get('DW_AT_name')) === base && startsAt(d, s.address!));
      const e = await fromCandidates(file, hits, known);
      if (e) {
        out[i] = e;
        continue;
      }
    }
    lookups.push(i);
  }
  let next = 0;
  const lane = async () => {
    while (next < lookups.length) {
      const i = lookups[next++];
      const a = symbols[i].address!;
      const l = await lookup(file, a);
      const unit = unitName(l.cu);
      if (l.subprogram && startsAt(l.subprogram, a) && !options.lineTableOnly) {
        const d = await declOf(file, l.subprogram, known);
        out[i] = { kind: 'decl', file: relativeTo(d.file, l.cu), line: d.line, unit };
      } else out[i] = { kind: 'no-die', unit, line: await firstRowAt(file, a) };
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 2 }, lane));
  return out;
}

function baseOf(name: string): string {
  const dot = name.indexOf('.', 1);
  return dot < 0 ? name : name.slice(0, dot);
}

/** A subprogram whose entry (low_pc) or one of whose ranges (a `.cold` part) starts at `a`. */
function startsAt(d: OracleDie, a: bigint): boolean {
  return addr(d.attrs.get('DW_AT_low_pc')) === a || rangeStarts(d.attrs.get('DW_AT_ranges')).includes(a);
}

const lineRows = new Map<string, Promise<Map<bigint, number>>>();

/**
 * The line of the first row at exactly `address` in `--debug-line` order (llvm's --lookup "Line info" is the
 * last row there instead; the issue asks for the first). End-of-sequence rows do not count.
 */
export async function firstRowAt(file: string, address: bigint): Promise<{ file: string | null; line: number } | null> {
  let p = lineRows.get(file);
  if (!p) {
    p = dwarfdump(['--debug-line', file]).then((text) => {
      const first = new Map<bigint, number>();
      for (const m of text.matchAll(/^0x([0-9a-f]+)[ \t]+(\d+)[ \t]+\d+[ \t]+\d+[ \t]+\d+[ \t]+\d+[ \t]+\d+[ \t]*(.*)$/gm)) {
        if (m[3].includes('end_sequence')) continue;
        const a = BigInt(`0x${m[1]}`);
        if (!first.has(a)) first.set(a, Number(m[2]));
      }
      return first;
    });
    lineRows.set(file, p);
  }
  const line = (await p).get(address);
  return line === undefined ? null : { file: null, line };
}

const FULL_DUMP_LIMIT = 2 << 20;

interface DieIndex {
  byAddress: Map<bigint, OracleDie[]>;
  byOffset: Map<number, OracleDie>;
}

const dumps = new Map<string, Promise<DieIndex>>();

/** `llvm-dwarfdump ARGS` once per key, its DIEs indexed by offset and variables by DW_OP_addr address. */
function indexedDump(key: string, args: string[]): Promise<DieIndex> {
  let p = dumps.get(key);
  if (!p) {
    p = dwarfdump(args).then((text) => {
      const byAddress = new Map<bigint, OracleDie[]>();
      const byOffset = new Map<number, OracleDie>();
      for (const d of parseDies(text)) {
        byOffset.set(d.offset, d);
        const a = d.tag === 'DW_TAG_variable' ? locationAddr(d.attrs.get('DW_AT_location')) : null;
        if (a !== null) byAddress.set(a, [...(byAddress.get(a) ?? []), d]);
      }
      return { byAddress, byOffset };
    });
    dumps.set(key, p);
  }
  return p;
}

function fullDump(file: string): Promise<DieIndex> {
  return indexedDump(file, ['--debug-info', file]);
}

/** The whole unit holding DIE `offset` (`--debug-info=UNIT -c`), indexed like fullDump. */
async function unitDump(file: string, offset: number): Promise<DieIndex> {
  const units = await unitList(file);
  let k = 0;
  while (k + 1 < units.offsets.length && units.offsets[k + 1] <= offset) k++;
  return indexedDump(`${file}@${units.offsets[k]}`, [`--debug-info=0x${units.offsets[k].toString(16)}`, '-c', file]);
}

async function fromCandidates(file: string, hits: OracleDie[], known: ReadonlyMap<number, OracleDie>): Promise<Expected | null> {
  if (hits.length === 0) return null;
  const sites = await Promise.all(hits.map(async (h) => {
    const d = await declOf(file, h, known);
    return { file: relativeTo(d.file, h.cu), line: d.line, unit: unitName(h.cu) };
  }));
  // A DIE without any decl attribute (gcc's artificial `__func__`) names a unit, not a site.
  if (sites.every((s) => s.file === null && s.line === null)) return { kind: 'no-die', unit: sites[0].unit, line: null };
  const distinct = new Map(sites.map((s) => [`${s.file}:${s.line}:${s.unit}`, s]));
  if (distinct.size === 1) return { kind: 'decl', ...sites[0] };
  return { kind: 'ambiguous', options: [...distinct.values()] };
}

/**
 * Paths agree when equal, or when the oracle's is absolute and ends with ours: relativeTo() strips only
 * comp_dir, while ksymtree also strips a source root it learned (assembler units record absolute paths).
 */
export function samePath(ours: string | null, oracle: string | null): boolean {
  if (ours === oracle) return true;
  return ours !== null && oracle !== null && oracle.startsWith('/') && oracle.endsWith(`/${ours}`);
}

/** A disagreement between a site and the oracle, or null when they agree. */
export function disagreement(site: { declFile: string | null; declLine: number | null; unit: string | null; source: string }, e: Expected): string | null {
  switch (e.kind) {
    case 'decl':
      if (site.source !== 'decl') return `oracle has a DIE (${e.file}:${e.line}), we answered ${site.source}`;
      if (!samePath(site.declFile, e.file) || site.declLine !== e.line) return `decl ${site.declFile}:${site.declLine}, oracle ${e.file}:${e.line}`;
      if (!samePath(site.unit, e.unit)) return `unit ${site.unit}, oracle ${e.unit}`;
      return null;
    case 'ambiguous':
      if (site.source === 'decl' && !e.options.some((o) => samePath(site.declFile, o.file) && o.line === site.declLine)) {
        return `decl ${site.declFile}:${site.declLine} is none of the oracle's ${e.options.map((o) => `${o.file}:${o.line}`).join(', ')}`;
      }
      return null;
    case 'no-die':
      if (site.source === 'decl') return `decl ${site.declFile}:${site.declLine}, but the oracle has no DIE at the address`;
      if (site.source === 'line-table' && e.line && site.declLine !== e.line.line) return `line-table line ${site.declLine}, oracle line ${e.line.line}`;
      if (site.unit !== null && e.unit !== null && !samePath(site.unit, e.unit)) return `unit ${site.unit}, oracle ${e.unit}`;
      return null;
  }
}
