// Failed files as notes on stderr, one line each and capped, as depmod does: a packager reads the build log, not the index.
import type { IndexSummary } from './index.js';
import type { Output } from '../io/output.js';

/** Lines printed before the rest is only counted. */
export const FAILURE_LINES = 20;

export function reportFailures(out: Output, lines: readonly string[], more: string): void {
  for (const l of lines.slice(0, FAILURE_LINES)) out.note(l);
  if (lines.length > FAILURE_LINES) out.note(`... and ${lines.length - FAILURE_LINES} more (${more})`);
}

/** What the debuginfod servers gave: counts and bytes, then each object none of them had a debug file for. */
export function reportDebuginfod(out: Output, d: NonNullable<IndexSummary['debuginfod']>): void {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  out.note(`debuginfod (${d.urls.join(' ')}): ${d.fetched} debug files fetched (${mb(d.fetchedBytes)}), `
    + `${d.cached} from the cache ${d.cacheDir} (${mb(d.cachedBytes)}), ${d.notFound} not found, ${d.failed} failed`);
  reportFailures(out, d.notFoundPaths.map((p) => `${p}: no debug file on any debuginfod server; its aliases use what the object itself says`), 'not listed');
}
