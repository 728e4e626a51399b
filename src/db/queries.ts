// Small read queries the commands share: objects chosen by --object, the kernel release, the index's kernel
// config, its error rows; and addresses printed 8 or 16 hex digits wide by ELF class.
import { FatalError } from '../errors.js';
import type { Db } from './db.js';
import { type KernelConfig, configFromMeta } from '../config/kernel-config.js';

export interface ObjectRow {
  id: number;
  path: string;
  kind: 'vmlinux' | 'module';
  module_name: string | null;
  elf_class: number | null;
}

/**
 * Objects selected by `--object`: a module name (`bridge`), `vmlinux`, or a path as indexed. All objects
 * when no selector is given.
 */
export function selectObjects(db: Db, selector?: string): ObjectRow[] {
  const all = db.prepare("SELECT id, path, kind, module_name, elf_class FROM objects WHERE status != 'failed' ORDER BY id").all() as ObjectRow[];
  if (!selector) return all;
  const found = all.filter((o) => o.path === selector || o.module_name === selector || (selector === 'vmlinux' && o.kind === 'vmlinux')
    || o.path.endsWith(`/${selector}`));
  if (!found.length) throw new FatalError(`no object named ${selector} in the index (give a module name, "vmlinux" or an indexed path)`);
  return found;
}

/** The kernel release the modules were made for: the first word of the first vermagic ("6.1.0-50-cloud-amd64 SMP ..."). */
export function kernelRelease(db: Db): string | null {
  const v = db.prepare('SELECT vermagic FROM objects WHERE vermagic IS NOT NULL ORDER BY id LIMIT 1').pluck().get() as string | undefined;
  return v?.split(' ')[0] || null;
}

/** The debug file the index paired with an object (itself when it carries DWARF); null when none. */
export function debugPathOf(db: Db, objectId: number): string | null {
  return (db.prepare('SELECT debug_path FROM objects WHERE id = ?').get(objectId) as { debug_path: string | null }).debug_path;
}

/** The address as the tools print it: 8 hex digits for ELF32 objects, 16 for ELF64. */
export function displayAddress(value: string, elfClass: number | null): string {
  return elfClass === 32 ? value.slice(8) : value;
}

/** The kernel configuration the index was built with (its `meta` rows); null for an index that has none. */
export function indexedConfig(db: Db): KernelConfig | null {
  return configFromMeta(new Map(db.prepare("SELECT key, value FROM meta WHERE key LIKE 'config%'").raw().all() as [string, string][]));
}

/** One row of the errors table, as `ksymtree errors` lists it (path, then offset order). */
export interface ErrorRecord { path: string; object: string | null; offset: number | null; kind: string; message: string }

export function errorRecords(db: Db): ErrorRecord[] {
  return db.prepare(`SELECT e.path, CASE o.kind WHEN 'vmlinux' THEN 'vmlinux' ELSE o.module_name END AS object, e.offset, e.kind, e.message
    FROM errors e LEFT JOIN objects o ON o.id = e.object_id ORDER BY e.path, e.offset`).all() as ErrorRecord[];
}

/** The first error of each file that has one, in `ksymtree errors` order: what `index` prints per failed file. */
export function firstErrorPerFile(db: Db): string[] {
  const seen = new Set<string>();
  return errorRecords(db).filter((e) => !seen.has(e.path) && seen.add(e.path)).map((e) => e.message);
}
