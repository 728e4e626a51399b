/**
 * The fuzz targets' smoke run inside `npm test`: every target for a few seconds (KSYMTREE_FUZZ_SECONDS, default
 * 3) from its seeds; a finding (an untyped exception, an input over 1 s of CPU or 256 MB) fails its test.
 * Long runs: `npm run fuzz -- --minutes N`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fuzz, summary } from './fuzz.js';
import { TARGET_NAMES } from './targets/index.js';

const seconds = Number(process.env.KSYMTREE_FUZZ_SECONDS) || 3;
const findings = mkdtempSync(join(tmpdir(), 'ksymtree-fuzz-smoke-'));

for (const target of TARGET_NAMES) {
  test.serial(`fuzz ${target} for ${seconds} s: no finding`, async (t) => {
    const [r] = await fuzz({ targets: [target], seconds, jobs: 1, seed: 1, corpus: null, findings });
    t.log(summary(r));
    t.true(r.execs > 0, 'inputs were run');
    t.true(r.covered > 0 && r.counters > 0, 'the parsers were instrumented and reached');
    t.deepEqual(r.findings.map((f) => `${f.kind}: ${f.message}\n  input: ${f.input}`), []);
  });
}
