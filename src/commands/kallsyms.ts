// `ksymtree kallsyms`: the index's kallsyms view as /proc/kallsyms prints it (vmlinux in address or decoded table
// order, modules in .symtab order), with load addresses when given and, with --aliases, each alias after its copy.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../db/db.js';
import { selectObjects } from '../db/queries.js';
import { kallsymsLines } from '../db/symbols.js';
import type { Output } from '../io/output.js';
import { type CommandResult, finished, withIndex } from './command.js';

export interface KallsymsOptions {
  readonly db?: string;
  readonly object?: string;
  /** /sys/module (holding <module>/sections/) or one module's sections directory. */
  readonly sections?: string;
  /** Added to every printed address: a KASLR slide, or a base for section-relative module addresses. */
  readonly base?: bigint;
  readonly aliases: boolean;
}

const MASK64 = (1n << 64n) - 1n;

type SectionBase = (section: string) => bigint | undefined;

/** Section load addresses of one module from a /sys/module-style tree; null when none are given. */
function sectionBases(dir: string | undefined, module: string, single: boolean): SectionBase | null {
  if (!dir) return null;
  const perModule = join(dir, module, 'sections');
  const where = existsSync(perModule) ? perModule : single ? dir : null;
  if (!where) return null;
  const cache = new Map<string, bigint | undefined>();
  return (section) => {
    if (!cache.has(section)) {
      const file = join(where, section);
      cache.set(section, existsSync(file) ? BigInt(readFileSync(file, 'latin1').trim()) : undefined);
    }
    return cache.get(section);
  };
}

/**
 * The kallsyms view in /proc/kallsyms format: vmlinux in address order, each module in .symtab order
 * (`ADDR TYPE NAME\t[module]`). Module addresses are section-relative unless load addresses are given;
 * per-cpu symbols stay offsets into the per-cpu area, as the running kernel cannot tell us more.
 */
export function runKallsyms(opts: KallsymsOptions, out: Output): Promise<CommandResult> {
  return withIndex(opts.db, (db) => {
    writeKallsyms(db, opts, out);
    return finished();
  });
}

function writeKallsyms(db: Db, opts: KallsymsOptions, out: Output): void {
  const objects = selectObjects(db, opts.object);
  const lines = kallsymsLines(db);
  const base = opts.base ?? 0n;
  const unplaced = new Set<string>();
  for (const o of objects) {
    const isModule = o.kind === 'module';
    const bases = isModule ? sectionBases(opts.sections, o.module_name ?? '', objects.length === 1) : null;
    const suffix = isModule ? `\t[${o.module_name}]` : '';
    for (const l of lines(o.id, o.kind)) {
      let address = BigInt(`0x${l.value}`) + base;
      const sectionBase = bases && l.section ? bases(l.section) : undefined;
      if (sectionBase !== undefined && l.ks_letter.toLowerCase() !== 'a') address += sectionBase;
      else if (bases && l.section && l.ks_letter.toLowerCase() !== 'a') unplaced.add(`${o.module_name}: ${l.section}`);
      const addr = (address & MASK64).toString(16).padStart(16, '0');
      out.line(`${addr} ${l.ks_letter} ${l.name}${suffix}`);
      if (opts.aliases && l.alias) out.line(`${addr} ${l.ks_letter} ${l.alias}${suffix}`);
    }
  }
  // sysfs lists only sections with bytes: symbols of empty ones keep their section-relative address.
  for (const u of unplaced) out.note(`no load address for section ${u}; its symbols are printed section-relative`);
}
