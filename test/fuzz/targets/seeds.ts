// Where the fuzz targets' seeds come from: the fixtures the tests build (cached) and the smallest objects of
// the real Debian corpus when it is present (~/.cache/ksymtree-corpus, fetched by scripts/test.sh).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildFixtures } from '../../helpers/build-fixtures.js';
import { buildDwarfFixtures } from '../../helpers/build-dwarf-fixtures.js';
import { buildKallsymsFixtures } from '../../helpers/build-kallsyms-fixtures.js';
import { corpus61 } from '../../helpers/corpus.js';

export { buildDwarfFixtures, buildFixtures, buildKallsymsFixtures };

/** The `count` smallest files under `dir` whose names match, of at most `maxBytes` (sorted by size, then path). */
export function smallestFiles(dir: string | null, match: RegExp, count: number, maxBytes: number): string[] {
  if (!dir) return [];
  const found: { path: string; size: number }[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      const st = e.isSymbolicLink() ? statSync(p, { throwIfNoEntry: false }) : e;
      if (st?.isDirectory()) walk(p);
      else if (st?.isFile() && match.test(e.name)) {
        const size = statSync(p).size;
        if (size <= maxBytes) found.push({ path: p, size });
      }
    }
  };
  walk(dir);
  return found.sort((a, b) => a.size - b.size || a.path.localeCompare(b.path)).slice(0, count).map((f) => f.path);
}

/** The Debian 6.1 corpus's trees, or nulls when it is absent. */
export function debian(): { installed: string | null; debug: string | null } {
  const c = corpus61();
  return { installed: c ? c.installed : null, debug: c ? c.debug : null };
}
