/** Failed files on stderr, one line each and capped, as depmod does: a packager reads the build log, not the index. */

/** Lines printed before the rest is only counted. */
export const FAILURE_LINES = 20;

export function reportFailures(lines: readonly string[], more: string): void {
  for (const l of lines.slice(0, FAILURE_LINES)) process.stderr.write(`ksymtree: ${l}\n`);
  if (lines.length > FAILURE_LINES) process.stderr.write(`ksymtree: ... and ${lines.length - FAILURE_LINES} more (${more})\n`);
}
