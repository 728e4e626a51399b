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
  private prefixes: string[] = [];
  private root: string | null;

  constructor(sourceRoot?: string) {
    this.root = sourceRoot ? withSlash(normalizePath(sourceRoot)) : null;
  }

  /** Learns from one unit: DW_AT_name relative to DW_AT_comp_dir. */
  learn(name: string | null, compDir: string | null): void {
    if (!name || !compDir) return;
    const rel = normalizePath(name);
    if (rel.startsWith('/') || rel.startsWith('../') || rel === '..' || rel === '') return;
    const full = normalizePath(joinPath(compDir, name));
    if (!full.endsWith(rel) || (full.length > rel.length && full[full.length - rel.length - 1] !== '/')) return;
    const prefix = full.slice(0, full.length - rel.length);
    const n = (this.votes.get(prefix) ?? 0) + 1;
    this.votes.set(prefix, n);
    if (n === 1 || this.prefixes[0] !== prefix) {
      this.prefixes = [...this.votes.entries()].sort((a, b) => b[1] - a[1]).map(([p]) => p).filter((p) => p !== '');
    }
  }

  /** A path relative to the source root when it lies inside it, otherwise the normalized path. */
  relative(raw: string, compDir: string | null): string {
    const p = normalizePath(raw);
    if (this.root !== null && this.root !== '' && p.startsWith(this.root)) return p.slice(this.root.length);
    for (const prefix of this.prefixes) if (p.startsWith(prefix)) return p.slice(prefix.length);
    if (compDir) {
      const dir = withSlash(normalizePath(compDir));
      if (dir !== '' && p.startsWith(dir)) return p.slice(dir.length);
    }
    return p;
  }

  /** A unit's DW_AT_name relative to the source root (names are relative to DW_AT_comp_dir). */
  unitName(name: string | null, compDir: string | null): string | null {
    if (name === null) return null;
    if (name.startsWith('/') || !compDir) return this.relative(name, compDir);
    return this.relative(joinPath(compDir, name), compDir);
  }
}
