// DWARF paths made relative to the kernel source root (`kernel/irq/irqdesc.c`), the build directory learned per
// object from its units: the paths aliases and sites are named with.
import { posix } from 'node:path';
import { joinPath } from '../dwarf/line.js';

/** posix.normalize without its '.' for empty paths and with no trailing slash. */
export function normalizePath(p: string): string {
  if (!p) return '';
  let n = posix.normalize(p);
  if (n === '.' || n === './') return '';
  if (n.length > 1 && n.endsWith('/')) n = n.slice(0, -1);
  return n;
}

function withSlash(dir: string): string {
  return dir === '' || dir.endsWith('/') ? dir : `${dir}/`;
}

/**
 * Turns the paths DWARF records (build directory + source path, e.g.
 * `debian/build/build_amd64_none_cloud-amd64/kernel/irq/irqdesc.c`) into paths relative to the kernel source
 * root (`kernel/irq/irqdesc.c`). The build directory is learned per object: a unit's DW_AT_name is the
 * source path as the compiler was given it, so the part of the unit's full path before it is the prefix.
 * Paths outside the tree (compiler headers under /usr/lib/gcc) stay absolute.
 */
export class PathMapper {
  private votes = new Map<string, number>();
  private compDirs = new Set<string>();
  private prefixes: string[] | null = null;
  private root: string | null;
  private cache = new Map<string, string>();

  constructor(sourceRoot?: string) {
    this.root = sourceRoot ? withSlash(normalizePath(sourceRoot)) : null;
  }

  /** Learns from one unit: DW_AT_name relative to DW_AT_comp_dir. */
  learn(name: string | null, compDir: string | null): void {
    if (!compDir) return;
    const dir = normalizePath(compDir);
    if (dir && !this.compDirs.has(dir)) {
      this.compDirs.add(dir);
      this.prefixes = null;
      this.cache.clear();
    }
    if (!name) return;
    const rel = normalizePath(name);
    if (rel.startsWith('/') || rel.startsWith('../') || rel === '..' || rel === '') return;
    const full = normalizePath(joinPath(compDir, name));
    if (!full.endsWith(rel) || (full.length > rel.length && full[full.length - rel.length - 1] !== '/')) return;
    const prefix = full.slice(0, full.length - rel.length);
    if (prefix === '') return;
    if (!this.votes.has(prefix)) {
      this.prefixes = null;
      this.cache.clear();
    }
    this.votes.set(prefix, (this.votes.get(prefix) ?? 0) + 1);
  }

  /**
   * Every known build-directory prefix, longest first: the learned ones, each unit's comp_dir, and source
   * roots derived from them. Assembler units (GNU as) record absolute paths even where gcc's were mapped
   * to a relative build directory: Debian's `head_64.S` has comp_dir
   * `/build/reproducible-path/linux-6.1.176/debian/build/build_amd64_none_cloud-amd64`, which ends with the
   * learned `debian/build/build_amd64_none_cloud-amd64/`; what precedes it is the source root.
   */
  private known(): string[] {
    if (!this.prefixes) {
      const set = new Set<string>();
      const learned = [...this.votes.keys()];
      for (const p of learned) set.add(p);
      for (const dir of this.compDirs) {
        const d = withSlash(dir);
        set.add(d);
        if (!d.startsWith('/')) continue;
        for (const p of learned) if (!p.startsWith('/') && d.endsWith(`/${p}`)) set.add(d.slice(0, d.length - p.length));
      }
      this.prefixes = [...set].filter((p) => p !== '' && p !== '/').sort((a, b) => b.length - a.length);
    }
    return this.prefixes;
  }

  /** True once some unit taught a build-directory prefix. */
  get learned(): boolean {
    return this.votes.size > 0;
  }

  /** A path relative to the source root when it lies inside it, otherwise the normalized path. */
  relative(raw: string, compDir: string | null): string {
    // Thousands of sites share a few hundred paths; normalization is the costly part.
    const key = `${compDir ?? ''}\0${raw}`;
    let out = this.cache.get(key);
    if (out === undefined) {
      out = this.relativeUncached(raw, compDir);
      this.cache.set(key, out);
    }
    return out;
  }

  private relativeUncached(raw: string, compDir: string | null): string {
    const p = normalizePath(raw);
    if (this.root !== null && this.root !== '' && p.startsWith(this.root)) return p.slice(this.root.length);
    const dir = compDir ? withSlash(normalizePath(compDir)) : '';
    let best = dir !== '' && p.startsWith(dir) ? dir : '';
    for (const prefix of this.known()) {
      if (prefix.length <= best.length) break;
      if (p.startsWith(prefix)) best = prefix;
    }
    return best ? p.slice(best.length) : p;
  }

  /** A unit's DW_AT_name relative to the source root (names are relative to DW_AT_comp_dir). */
  unitName(name: string | null, compDir: string | null): string | null {
    if (name === null) return null;
    if (name.startsWith('/') || !compDir) return this.relative(name, compDir);
    return this.relative(joinPath(compDir, name), compDir);
  }
}
