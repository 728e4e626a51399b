/**
 * Registers a test that needs an architecture's toolchain. When the compiler is missing the test fails
 * with the reason (CI installs every compiler), unless KSYMTREE_ALLOW_MISSING_CROSS=1, in which case it
 * is registered with test.skip and the reason is in its title.
 */
import test, { type ExecutionContext } from 'ava';
import type { Fixtures } from './build-fixtures.js';
import type { Arch } from './toolchains.js';

export const ALLOW_MISSING_CROSS = process.env.KSYMTREE_ALLOW_MISSING_CROSS === '1';

export function archTest(fx: Fixtures, arch: Arch, title: string, fn: (t: ExecutionContext) => Promise<void> | void): void {
  const status = fx.archs[arch];
  if (status.available) {
    test(title, fn);
  } else if (ALLOW_MISSING_CROSS) {
    test.skip(`${title} [skipped: ${status.reason}]`, fn);
  } else {
    test(title, (t) => {
      t.fail(`${status.reason}. Install it, or set KSYMTREE_ALLOW_MISSING_CROSS=1 to skip the ${arch} tests.`);
    });
  }
}
