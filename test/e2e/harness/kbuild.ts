// The kbuild tier's gate: the kernel scripts/kbuild-kernel 6.1 built (scripts/test.sh passes its directory in
// KSYMTREE_KBUILD_61, or why it failed in KSYMTREE_KBUILD_61_ERROR) and qemu. A failed build fails the test.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { bootTimeoutMs } from './boot.js';
import { ARCHES, ensureTools } from './qemu.js';

/** Why the tier cannot run here, or null. A failed kernel build is not a reason: the test fails with it. */
function unavailable(dir: string | undefined): string | null {
  if (process.env.KSYMTREE_KBUILD_61_ERROR) return null;
  if (!dir) return 'KSYMTREE_KBUILD_61 is not set: scripts/test.sh sets it after scripts/kbuild-kernel 6.1 built the kernel (KSYMTREE_KBUILD=0 turns that off)';
  if (!existsSync(join(dir, 'aliased/vmlinux'))) return `${dir}/aliased: no linked kernel`;
  const tools = ensureTools(ARCHES.amd64);
  return typeof tools === 'string' ? tools : null;
}

/** A serial test on the kbuild tier's kernel directory (boots included in its time), or a skip that says why. */
export function kbuildTest(title: string, body: (t: ExecutionContext, dir: string) => Promise<void>): void {
  const dir = process.env.KSYMTREE_KBUILD_61;
  const why = unavailable(dir);
  if (why) {
    test.skip(`${title} — SKIPPED (${why})`, () => {});
    return;
  }
  test.serial(title, async (t) => {
    const failed = process.env.KSYMTREE_KBUILD_61_ERROR;
    if (failed) {
      t.fail(failed);
      return;
    }
    t.timeout(3 * bootTimeoutMs() + 10 * 60_000, 'module builds and boots');
    await body(t, dir!);
  });
}
