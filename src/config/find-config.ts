/**
 * Where a tree's `.config` is, by the conventions of kernel builds and distributions: `.config` at the top of
 * a build tree, `build/.config` through an installed tree's headers link, `boot/config-<release>` under the
 * root the tree was installed into, or `config-<release>` beside the tree or its vmlinuz.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FatalError } from '../errors.js';
import { type KernelConfig, looksLikeKconfig, parseKconfig } from './kernel-config.js';

const RELEASE = /^\d+\.\d+/;
/** `<root>/lib/modules/<release>` and `<root>/usr/lib/debug/lib/modules/<release>`. */
const INSTALLED = /^(.*?)(?:\/usr\/lib\/debug)?\/lib\/modules\/([^/]+)$/;

/** The places a configuration may be for one input (a tree or a single object), most specific first. */
export function configCandidates(input: string): string[] {
  let path: string;
  try {
    path = realpathSync(input);
  } catch {
    return [];
  }
  const out: string[] = [];
  if (statSync(path).isDirectory()) {
    out.push(join(path, '.config'), join(path, 'build', '.config'));
    const installed = INSTALLED.exec(path);
    if (installed) out.push(join(installed[1] || '/', 'boot', `config-${installed[2]}`));
    const release = basename(path);
    if (RELEASE.test(release)) out.push(join(path, `config-${release}`), join(dirname(path), `config-${release}`));
  } else {
    const vmlinuz = /^vmlinuz-(.+)$/.exec(basename(path));
    if (vmlinuz) out.push(join(dirname(path), `config-${vmlinuz[1]}`));
    out.push(join(dirname(path), '.config'));
  }
  return out;
}

/** The first configuration found for the inputs, in input order; null when there is none. */
export function findConfig(inputs: readonly string[]): KernelConfig | null {
  for (const input of inputs) {
    for (const file of configCandidates(input)) {
      let text: string;
      try {
        text = readFileSync(file, 'latin1');
      } catch {
        continue; // absent, unreadable or not a file: not this candidate
      }
      if (looksLikeKconfig(text)) return parseKconfig(text, 'file', file);
    }
  }
  return null;
}

/** `--config FILE`: must be a kernel configuration. */
export function readConfigFile(file: string): KernelConfig {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (e) {
    throw new FatalError(`--config ${file}: ${(e as Error).message}`);
  }
  if (!looksLikeKconfig(text)) throw new FatalError(`--config ${file}: not a kernel configuration (no CONFIG_* lines)`);
  return parseKconfig(text, 'file', file);
}
