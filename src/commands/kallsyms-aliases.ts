// The kernel build's step: alias lines for scripts/kallsyms. link-vmlinux.sh lists the symbols of each temporary
// vmlinux with mksysmap; this adds, after each copy of a name duplicated in vmlinux, a line with its alias at the
// same address and letter, named from that vmlinux's own DWARF. The next link embeds them: the kernel lists them.
import { type AliasInput, aliasesForObject, maxSymbolLength } from '../alias/naming.js';
import { siteRequests } from '../analyse/duplicates.js';
import { kallsymsRules } from '../config/kernel-config.js';
import { readConfigFile } from '../config/find-config.js';
import { readFileSync } from 'node:fs';
import { FatalError } from '../errors.js';
import type { Output } from '../io/output.js';
import { type CommandResult, finished } from './command.js';
import { reportFailures } from './failures.js';
import { symbolName, symbolValue } from '../scan/result.js';
import { scanObject } from '../scan/scan-object.js';
import { findSites } from '../sites/find-sites.js';

export interface KallsymsAliasesOptions {
  /** The temporary vmlinux of one kallsyms link pass (`.tmp_vmlinux.kallsymsN`, or `.tmp_vmlinuxN` from 6.12). */
  readonly vmlinux: string;
  /** mksysmap's output for it: `nm -n` lines, `ADDRESS LETTER NAME`. */
  readonly sysmap: string;
  /** The kernel's .config, whose CONFIG_KALLSYMS_ALL says which symbols scripts/kallsyms keeps. */
  readonly config: string;
}

/** One alias to add: the copy it names (address and name, as mksysmap lists it, and its sympos) and the alias. */
export interface LinkAlias {
  readonly name: string;
  readonly address: bigint;
  readonly sympos: number;
  readonly alias: string;
}

export interface SysmapWithAliases {
  /** The input, every line unchanged, with alias lines after their originals. */
  readonly text: string;
  readonly added: number;
  /** Aliases not added, and why (the copy is not in the list, or its alias would shadow it). */
  readonly skipped: readonly { alias: LinkAlias; reason: string }[];
  /** Objects or DWARF units ksymtree could not read (their copies got weaker aliases), as `ksymtree errors` says. */
  readonly failures: readonly string[];
}

/** scripts/kallsyms.c may_be_linker_script_provide_symbol() of 6.1 and 6.12. */
function mayBeLinkerScriptProvide(name: string): boolean {
  if (name.length < 8 || !name.startsWith('__')) return false;
  return /^__(start_|stop_|end_)/.test(name) || name.endsWith('_start') || name.endsWith('_end');
}

/**
 * Whether scripts/kallsyms sorts an alias after its original (compare_symbols(): same address, then weak last,
 * then linker-script symbols last, then fewer leading underscores first, then input order). Address to name
 * lookups (stack traces, %pS, ftrace) print the first symbol at an address: the original must stay first.
 */
export function sortsAfterOriginal(name: string, alias: string): boolean {
  const provide = Number(mayBeLinkerScriptProvide(alias)) - Number(mayBeLinkerScriptProvide(name));
  if (provide !== 0) return provide > 0;
  const underscores = (s: string) => /^_*/.exec(s)![0].length;
  return underscores(alias) >= underscores(name);
}

const SYSMAP_LINE = /^([0-9a-fA-F]+) (\S) (\S+)$/;

/**
 * Adds each alias on the line after its original's (same address text and letter). Every input line is kept
 * byte for byte; an alias whose copy is not in the list, or that would sort before it, is skipped. Copies that
 * share name and address (zero-size `__key.N` lockdep keys) take their aliases in sympos order, as the kernel
 * lists them in input order.
 */
export function addAliasLines(sysmap: string, aliases: readonly LinkAlias[]): Omit<SysmapWithAliases, 'failures'> {
  const byCopy = new Map<string, LinkAlias[]>();
  for (const a of [...aliases].sort((x, y) => x.sympos - y.sympos)) {
    const key = `${a.address.toString(16)} ${a.name}`;
    const list = byCopy.get(key);
    if (list) list.push(a);
    else byCopy.set(key, [a]);
  }
  const used = new Set<LinkAlias>();
  const skipped: { alias: LinkAlias; reason: string }[] = [];
  const out: string[] = [];
  let added = 0;
  const lines = sysmap.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const names = new Set(aliases.map((a) => a.name));
  for (const line of lines) {
    out.push(line);
    const m = names.has(line.slice(line.lastIndexOf(' ') + 1)) ? SYSMAP_LINE.exec(line) : null;
    const a = m ? byCopy.get(`${BigInt(`0x${m[1]}`).toString(16)} ${m[3]}`)?.shift() : undefined;
    if (!m || !a) continue;
    used.add(a);
    if (sortsAfterOriginal(a.name, a.alias)) {
      out.push(`${m[1]} ${m[2]} ${a.alias}`);
      added++;
    } else skipped.push({ alias: a, reason: 'scripts/kallsyms would sort it before its original, which address lookups would then no longer print' });
  }
  for (const a of aliases) if (!used.has(a)) skipped.push({ alias: a, reason: 'its copy is not in the symbol list' });
  return { text: out.length ? `${out.join('\n')}\n` : '', added, skipped };
}

/**
 * The aliases of one temporary vmlinux, in memory (one object: no index, no workers): its kallsyms view by the
 * .config's rules and the sympos the scan gives it (its own tables are the previous pass's, so they are not
 * read), the definition sites of its in-object duplicates from its DWARF, and the naming rule.
 */
async function linkPassAliases(o: KallsymsAliasesOptions): Promise<{ aliases: LinkAlias[]; failures: string[] }> {
  const config = readConfigFile(o.config);
  const scanned = await scanObject(o.vmlinux, kallsymsRules(config), true);
  const s = scanned.elf?.symbols;
  if (!s?.count || scanned.kind !== 'vmlinux') {
    throw new FatalError(scanned.errors[0]?.message ?? `${o.vmlinux}: not a vmlinux (an ELF executable with a symbol table)`);
  }
  const requests = siteRequests(s, false);
  const found = await findSites(o.vmlinux, o.vmlinux, requests.map((symtabIndex) => ({ symtabIndex })));
  const sites = new Map(found.sites.map((x) => [x.symtabIndex, x]));
  const copies: AliasInput[] = [];
  const rowOf = new Map<number, number>();
  const existing = new Set<string>();
  for (let row = 0; row < s.count; row++) {
    const name = symbolName(s, row);
    if (name.includes('@')) existing.add(name);
    if (!s.sympos[row]) continue;
    const site = sites.get(s.index[row]);
    copies.push({ idx: s.index[row], name, sympos: s.sympos[row], declFile: site?.declFile ?? null, declLine: site?.declLine ?? null, unit: site?.unit ?? null });
    rowOf.set(s.index[row], row);
  }
  const aliases = aliasesForObject(copies, existing, maxSymbolLength(config.version)).map((a) => {
    const row = rowOf.get(a.idx)!;
    return { name: symbolName(s, row), address: symbolValue(s, row), sympos: s.sympos[row], alias: a.alias };
  });
  const failures = [...scanned.errors, ...found.errors].map((e) => e.message);
  return { aliases, failures };
}

async function sysmapWithAliases(o: KallsymsAliasesOptions): Promise<SysmapWithAliases> {
  const { aliases, failures } = await linkPassAliases(o);
  return { ...addAliasLines(o.sysmap, aliases), failures };
}

/** A whole input file, or stdin (0), as bytes in a string. */
function readInput(file: string | 0, option: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch (e) {
    throw new FatalError(`${file === 0 ? 'stdin' : `${option} ${file}`}: ${(e as Error).message}`);
  }
}

/**
 * `ksymtree kallsyms-aliases VMLINUX`: mksysmap's list (stdin, or --sysmap FILE) with the alias lines added;
 * the aliases left out, and what could not be read, as notes.
 */
export async function runKallsymsAliases(vmlinux: string, o: { config?: string; sysmap?: string }, out: Output): Promise<CommandResult> {
  const sysmap = readInput(o.sysmap ?? 0, '--sysmap');
  const config = o.config ?? process.env.KCONFIG_CONFIG ?? '.config';
  const r = await sysmapWithAliases({ vmlinux, sysmap, config });
  for (const s of r.skipped) out.note(`${vmlinux}: alias ${s.alias.alias} not added: ${s.reason}`);
  if (r.failures.length) reportFailures(out, r.failures, `\`ksymtree index ${vmlinux}\` and \`ksymtree errors\``);
  out.write(r.text);
  return finished();
}
