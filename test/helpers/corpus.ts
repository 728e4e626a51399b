// Where the real-kernel tier finds the Debian corpus (~/.cache/ksymtree-corpus, fetched by scripts/test.sh):
// the debug, installed and boot trees of each cloud kernel, its vmlinuz, and the arm64 kernel.
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface CloudCorpus {
  readonly debug: string;
  readonly installed: string;
  readonly boot: string;
}

/**
 * A Debian cloud-amd64 corpus (../shared/corpus/fetch-debian-kernel) of one series ('6.1', '6.12'), as
 * scripts/test.sh found it (KSYMTREE_CORPUS_61, ...) or at the fetch script's default cache. Null when absent:
 * the real-kernel tests are then skipped by name.
 */
export function cloudCorpus(series: string): CloudCorpus | null {
  const base = process.env[`KSYMTREE_CORPUS_${series.replace('.', '')}`]
    ?? join(process.env.KSYMTREE_CORPUS ?? join(homedir(), '.cache/ksymtree-corpus'), `${series}-cloud-amd64`);
  const c = { debug: join(base, 'debug'), installed: join(base, 'installed'), boot: join(base, 'boot') };
  return existsSync(join(c.debug, 'vmlinux')) && existsSync(c.installed) ? c : null;
}

/** The Debian 6.1 cloud-amd64 corpus, or null. */
export function corpus61(): CloudCorpus | null {
  return cloudCorpus('6.1');
}

/** The corpus's boot image (`boot/vmlinuz-<release>`), or null. */
export function vmlinuzOf(c: CloudCorpus): string | null {
  const z = existsSync(c.boot) ? readdirSync(c.boot).find((f) => f.startsWith('vmlinuz-')) : undefined;
  return z ? join(c.boot, z) : null;
}

/** The Debian 6.1 cloud-arm64 corpus (debug tree, boot files), or null when it was not fetched. */
export function corpusArm64(): { debug: string; boot: string } | null {
  const base = join(process.env.KSYMTREE_CORPUS ?? join(homedir(), '.cache/ksymtree-corpus'), '6.1-cloud-arm64');
  const c = { debug: join(base, 'debug'), boot: join(base, 'boot') };
  return existsSync(join(c.debug, 'vmlinux')) ? c : null;
}
