import { type Stats, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';

/** A module file as kbuild installs it: plain, or compressed by modules_install. */
export const MODULE_FILE = /\.ko(\.gz|\.xz|\.zst)?$/;

/** The module name the kernel would give a file without `.modinfo` name= (`-` becomes `_`). */
export function moduleNameFromPath(path: string): string {
  return basename(path).replace(MODULE_FILE, '').replace(/-/g, '_');
}

export interface FoundObject {
  /** The path as found (symlinks not resolved): the object's identity in the index. */
  readonly path: string;
  /** Relative to the tree it was found in, used to pair installed files with debug copies. */
  readonly relPath: string;
}

export interface WalkProblem {
  readonly path: string;
  readonly message: string;
}

export interface WalkResult {
  readonly objects: FoundObject[];
  readonly problems: WalkProblem[];
}

/**
 * Links at the top of an installed tree that point at the kernel's headers and sources, never at objects.
 */
const SKIPPED_TOP_LINKS = new Set(['build', 'source']);

function isObjectName(name: string, atTop: boolean): boolean {
  return MODULE_FILE.test(name) || (atTop && name === 'vmlinux');
}

/**
 * Every vmlinux (at the top of the tree) and module below `root`, in sorted order. Symlinks are followed,
 * to files (the debug tree's vmlinux is one) and to directories, but a directory already visited (same
 * device and inode) is reported as a cycle instead of being entered again.
 */
export function walkTree(root: string): WalkResult {
  const objects: FoundObject[] = [];
  const problems: WalkProblem[] = [];
  const visited = new Map<string, string>();

  const visit = (dir: string, dirStat: Stats): void => {
    const key = `${dirStat.dev}:${dirStat.ino}`;
    const seen = visited.get(key);
    if (seen !== undefined) {
      problems.push({ path: dir, message: `${dir}: directory already walked as ${seen} (a symlink cycle or a second link to it); not entered again` });
      return;
    }
    visited.set(key, dir);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      problems.push({ path: dir, message: `${dir}: cannot list directory: ${(e as Error).message}` });
      return;
    }
    const atTop = dir === root;
    for (const name of names) {
      const path = join(dir, name);
      if (atTop && SKIPPED_TOP_LINKS.has(name)) continue;
      let st: Stats;
      try {
        st = statSync(path);
      } catch (e) {
        if (isObjectName(name, atTop)) problems.push({ path, message: `${path}: cannot read: ${(e as Error).message}` });
        continue;
      }
      if (st.isDirectory()) visit(path, st);
      else if (st.isFile() && isObjectName(name, atTop)) objects.push({ path, relPath: relative(root, path) });
    }
  };

  visit(root, statSync(root));
  return { objects, problems };
}

/** A FILE argument is its own tree: its relative path is its base name. */
export function singleFile(path: string): FoundObject {
  return { path, relPath: basename(path) };
}
