/**
 * The fuzz targets' smoke run inside `npm test`: every target from its seeds for a fixed number of inputs (its
 * `smokeExecs`, a few seconds' worth; KSYMTREE_FUZZ_SMOKE multiplies them) with a fixed seed, so the run is the
 * same every time; a finding (an untyped exception, an input over 1 s of CPU or 256 MB) fails its test.
 * Long runs: `npm run fuzz -- --minutes N`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fuzz, summary } from './fuzz.js';
import { TARGET_NAMES, loadTarget } from './targets/index.js';

const scale = Number(process.env.KSYMTREE_FUZZ_SMOKE) || 1;
/** A cap that only a machine far busier than CI reaches: then fewer inputs are tried, and the log says how many. */
const seconds = 120;
const findings = mkdtempSync(join(tmpdir(), 'ksymtree-fuzz-smoke-'));

for (const target of TARGET_NAMES) {
  test.serial(`fuzz ${target}: no finding`, async (t) => {
    const execs = Math.round((await loadTarget(target)).smokeExecs * scale);
    const [r] = await fuzz({ targets: [target], seconds, execs, jobs: 1, seed: 1, corpus: null, findings });
    t.log(summary(r));
    t.true(r.execs > 0, 'inputs were run');
    t.true(r.covered > 0 && r.counters > 0, 'the parsers were instrumented and reached');
    t.deepEqual(r.findings.map((f) => `${f.kind}: ${f.message}\n  input: ${f.input}`), []);
  });
}
