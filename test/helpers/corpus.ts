import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The Debian 6.1 cloud-amd64 corpus (../shared/corpus/fetch-debian-kernel), as scripts/test.sh found it,
 * or at the fetch script's default cache. Null when absent: the real-kernel tests are then skipped by name.
 */
export function corpus61(): { debug: string; installed: string; boot: string } | null {
  const base = process.env.KSYMTREE_CORPUS_61 ?? join(process.env.KSYMTREE_CORPUS ?? join(homedir(), '.cache/ksymtree-corpus'), '6.1-cloud-amd64');
  const c = { debug: join(base, 'debug'), installed: join(base, 'installed'), boot: join(base, 'boot') };
  return existsSync(join(c.debug, 'vmlinux')) && existsSync(c.installed) ? c : null;
}

/** The Debian 6.1 cloud-arm64 corpus (debug tree, boot files), or null when it was not fetched. */
export function corpusArm64(): { debug: string; boot: string } | null {
  const base = join(process.env.KSYMTREE_CORPUS ?? join(homedir(), '.cache/ksymtree-corpus'), '6.1-cloud-arm64');
  const c = { debug: join(base, 'debug'), boot: join(base, 'boot') };
  return existsSync(join(c.debug, 'vmlinux')) ? c : null;
}
