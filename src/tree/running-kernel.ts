/** The running kernel's trees: what `ksymtree index` reads without a TREE, and where every command looks for its index. */
import { existsSync } from 'node:fs';
import { release } from 'node:os';

export interface KernelInputs {
  /** Trees and files to index; the first one is where the index goes by default. */
  readonly trees: string[];
  readonly debugDir: string | null;
}

export const installedTree = (version = release()) => `/lib/modules/${version}`;
export const debugTree = (version = release()) => `/usr/lib/debug/lib/modules/${version}`;

/**
 * `/lib/modules/$(uname -r)` with `/usr/lib/debug/lib/modules/$(uname -r)` as its debug tree, or without one
 * `/boot/vmlinuz-$(uname -r)` (its kallsyms tables); the debug tree alone when nothing is installed. Null
 * when neither tree exists.
 */
export function runningKernelInputs(version = release()): KernelInputs | null {
  const installed = installedTree(version);
  const debug = debugTree(version);
  const vmlinuz = `/boot/vmlinuz-${version}`;
  if (existsSync(installed) && existsSync(debug)) return { trees: [installed], debugDir: debug };
  if (existsSync(installed)) return { trees: existsSync(vmlinuz) ? [installed, vmlinuz] : [installed], debugDir: null };
  if (existsSync(debug)) return { trees: [debug], debugDir: null };
  return null;
}
