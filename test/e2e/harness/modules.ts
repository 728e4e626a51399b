// Which .ko files to insmod, in which order: a module set resolved from .modinfo `depends` (and `softdep pre:`)
// inside one module directory. Independent of ksymtree's own ELF code: the harness is the oracle's plumbing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';

const MODULE_FILE = /\.ko(\.(xz|gz|zst))?$/;

/** A module's name as the kernel knows it: file name without `.ko[.xz|.gz|.zst]`, `-` turned into `_`. */
export function moduleName(file: string): string {
  return basename(file).replace(MODULE_FILE, '').replace(/-/g, '_');
}

/** The module file's ELF bytes (decompressed by content: xz, gzip, zstd). */
export function readModuleElf(file: string): Buffer {
  const raw = readFileSync(file);
  const tool =
    raw[0] === 0xfd && raw.subarray(1, 6).toString('latin1') === '7zXZ\0' ? 'xz'
    : raw[0] === 0x1f && raw[1] === 0x8b ? 'gzip'
    : raw.readUInt32LE(0) === 0xfd2fb528 ? 'zstd'
    : null;
  return tool ? execFileSync(tool, ['-dc', file], { maxBuffer: 1 << 30 }) : raw;
}

interface SectionHeader {
  readonly name: string;
  readonly flags: bigint;
  readonly offset: number;
  readonly size: number;
}

/** Section headers of a 64-bit little-endian ELF file (x86_64 modules), with their names. */
export function sectionHeaders(elf: Buffer): SectionHeader[] {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) throw new Error('not an ELF64 LE file');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  const raw = Array.from({ length: shnum }, (_, i) => {
    const o = shoff + i * shentsize;
    return { name: elf.readUInt32LE(o), flags: elf.readBigUInt64LE(o + 8), offset: Number(elf.readBigUInt64LE(o + 0x18)), size: Number(elf.readBigUInt64LE(o + 0x20)) };
  });
  const strtab = raw[shstrndx].offset;
  return raw.map((h) => ({ ...h, name: elf.toString('latin1', strtab + h.name, elf.indexOf(0, strtab + h.name)) }));
}

/** key=value pairs of the `.modinfo` section of a module (keys may repeat). */
export function modinfo(elf: Buffer): [string, string][] {
  const s = sectionHeaders(elf).find((h) => h.name === '.modinfo');
  if (!s) return [];
  return elf
    .toString('latin1', s.offset, s.offset + s.size)
    .split('\0')
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]);
}

/**
 * Names of a module's allocated sections of size 0: the loader places them but /sys/module/<mod>/sections
 * does not list them (sect_empty()), so the load address of their symbols is known to no one but the kernel.
 */
export function emptyAllocSections(elf: Buffer): Set<string> {
  return new Set(sectionHeaders(elf).filter((h) => (h.flags & 2n) !== 0n && h.size === 0).map((h) => h.name));
}

/** Every module file under `dir`, by module name (symlinks followed; the first path found wins). */
export function moduleFiles(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.name === 'build' || e.name === 'source') continue;
      const st = e.isSymbolicLink() ? statSync(p, { throwIfNoEntry: false }) : null;
      if (e.isDirectory() || st?.isDirectory()) walk(p);
      else if (MODULE_FILE.test(e.name) && !found.has(moduleName(e.name))) found.set(moduleName(e.name), p);
    }
  };
  walk(dir);
  return found;
}

/**
 * Alias -> module names of a module tree, from depmod's modules.alias (run on a scratch copy made of symlinks:
 * the tree itself is never written). Used only to resolve `softdep pre:` names such as `crc32c`.
 */
export function moduleAliases(dir: string, release: string): Map<string, string[]> {
  const aliases = new Map<string, string[]>();
  const scratch = mkdtempSync(join(tmpdir(), 'ksymtree-e2e-depmod-'));
  try {
    const top = join(scratch, 'lib/modules', release);
    mkdirSync(top, { recursive: true });
    for (const e of readdirSync(dir)) if (!e.startsWith('modules.') && e !== 'build' && e !== 'source') symlinkSync(join(dir, e), join(top, e));
    for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) if (existsSync(join(dir, f))) symlinkSync(join(dir, f), join(top, f));
    execFileSync('depmod', ['-b', scratch, release], { stdio: ['ignore', 'ignore', 'pipe'] });
    for (const line of readFileSync(join(top, 'modules.alias'), 'latin1').split('\n')) {
      const m = /^alias (\S+) (\S+)$/.exec(line);
      if (m) aliases.set(m[1], [...(aliases.get(m[1]) ?? []), m[2]]);
    }
  } catch {
    // no depmod or an unreadable tree: softdeps that are aliases stay unresolved (reported by resolveModuleSet)
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return aliases;
}

export interface ModuleToLoad {
  readonly name: string;
  readonly file: string;
  /** Path relative to the module directory. */
  readonly relPath: string;
  /** Why it is loaded: asked for, a `depends` of another module, or a `softdep pre:` (best effort). */
  readonly reason: 'requested' | 'depends' | 'softdep';
}

export interface ModuleSet {
  readonly dir: string;
  /** Dependencies first, each module once. */
  readonly modules: readonly ModuleToLoad[];
  /** softdep names that matched no module of the tree. */
  readonly unresolvedSoftdeps: readonly string[];
  readonly vermagic: string;
}

/**
 * The insmod order for `requested` module names in `dir`: a depth-first walk of `softdep pre:` then `depends`,
 * each dependency before its user. Throws when a requested module or a hard dependency is missing.
 */
export function resolveModuleSet(dir: string, requested: readonly string[], opts: { release?: string; softdeps?: boolean } = {}): ModuleSet {
  const files = moduleFiles(dir);
  const order: ModuleToLoad[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const unresolved: string[] = [];
  let aliases: Map<string, string[]> | null = null;
  let vermagic = '';
  const visit = (name: string, reason: ModuleToLoad['reason'], chain: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`dependency cycle: ${[...chain, name].join(' -> ')}`);
    const file = files.get(name);
    if (!file) throw new Error(`module ${name} (${[...chain, name].join(' -> ')}) not found under ${dir}`);
    state.set(name, 'visiting');
    const info = modinfo(readModuleElf(file));
    vermagic ||= info.find(([k]) => k === 'vermagic')?.[1] ?? '';
    if (opts.softdeps !== false) {
      for (const [, v] of info.filter(([k]) => k === 'softdep')) {
        const pre = /(?:^|\s)pre:\s*(.*?)(?:\s+post:.*)?$/.exec(v)?.[1]?.split(/\s+/).filter(Boolean) ?? [];
        for (const dep of pre) {
          const n = dep.replace(/-/g, '_');
          let targets = files.has(n) ? [n] : [];
          if (!targets.length) {
            aliases ??= moduleAliases(dir, opts.release ?? basename(dir));
            targets = [...new Set((aliases.get(dep) ?? []).map((t) => t.replace(/-/g, '_')))].filter((t) => files.has(t));
          }
          if (!targets.length) unresolved.push(`${name}: ${dep}`);
          for (const t of targets) if (state.get(t) !== 'visiting') visit(t, 'softdep', [...chain, name]);
        }
      }
    }
    for (const dep of (info.find(([k]) => k === 'depends')?.[1] ?? '').split(',').filter(Boolean)) visit(dep.replace(/-/g, '_'), 'depends', [...chain, name]);
    state.set(name, 'done');
    order.push({ name, file, relPath: relative(dir, file), reason });
  };
  for (const r of requested) visit(r.replace(/-/g, '_'), 'requested', []);
  // a module first reached as a dependency but also requested is "requested"
  const asked = new Set(requested.map((r) => r.replace(/-/g, '_')));
  return {
    dir,
    modules: order.map((m) => (asked.has(m.name) ? { ...m, reason: 'requested' as const } : m)),
    unresolvedSoftdeps: unresolved,
    vermagic,
  };
}
