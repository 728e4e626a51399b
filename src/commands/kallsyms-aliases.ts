// The kernel build's step: alias lines for scripts/kallsyms. link-vmlinux.sh lists the symbols of each temporary
// vmlinux with mksysmap; this adds, after each copy of a name duplicated in vmlinux, a line with its alias at the
// same address and letter, named from that vmlinux's own DWARF. The next link embeds them: the kernel lists them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FatalError } from '../errors.js';
import { aliasRows } from '../index/alias-rows.js';
import { openIndexDb } from '../index/db.js';
import { runIndex } from './index.js';

export interface KallsymsAliasesOptions {
  /** The temporary vmlinux of one kallsyms link pass (`.tmp_vmlinux.kallsymsN`, or `.tmp_vmlinuxN` from 6.12). */
  readonly vmlinux: string;
  /** mksysmap's output for it: `nm -n` lines, `ADDRESS LETTER NAME`. */
  readonly sysmap: string;
  /** The kernel's .config, whose CONFIG_KALLSYMS_ALL says which symbols scripts/kallsyms keeps. */
  readonly config: string;
  readonly jobs: number;
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
    byCopy.set(key, [...(byCopy.get(key) ?? []), a]);
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

/** The aliases of one temporary vmlinux: indexed on its own (into a scratch index), by the kernel's .config. */
async function linkPassAliases(o: KallsymsAliasesOptions): Promise<{ aliases: LinkAlias[]; failures: readonly string[] }> {
  const scratch = mkdtempSync(join(tmpdir(), 'ksymtree-link-'));
  try {
    const db = join(scratch, 'index.db');
    const s = await runIndex({ inputs: [o.vmlinux], db, jobs: o.jobs, quiet: true, aliases: true, allSites: false, config: o.config, linkPass: true });
    const index = openIndexDb(db);
    try {
      const ids = index.prepare("SELECT id FROM objects WHERE kind = 'vmlinux'").pluck().all() as number[];
      if (ids.length !== 1) throw new FatalError(`${o.vmlinux}: not a vmlinux (an ELF executable with a symbol table)`);
      const aliases = aliasRows(index, ids).map((r) => ({ name: r.name, address: BigInt(`0x${r.value}`), sympos: r.sympos, alias: r.alias }));
      return { aliases, failures: s.failures };
    } finally {
      index.close();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export async function runKallsymsAliases(o: KallsymsAliasesOptions): Promise<SysmapWithAliases> {
  const { aliases, failures } = await linkPassAliases(o);
  return { ...addAliasLines(o.sysmap, aliases), failures };
}
