/**
 * The fuzzer's branch counters: an instrumented module computes what the original computes, and each arm of
 * each branch it takes moves a counter of its own (checked on a module with every construct instrument.ts marks).
 */
import test from 'ava';
import { CoverageMap } from './coverage.js';
import { COVERAGE_GLOBAL, instrument } from './instrument.js';

const SOURCE = `
export function classify(n, list) {
  let out = n > 10 ? 'big' : 'small';
  if (n % 2 === 0) out += '-even';
  else if (n % 3 === 0) out += '-three';
  switch (n) {
    case 1: out += '-one'; break;
    default: out += '-other';
  }
  for (const x of list) if (x === n) out += '-listed';
  const named = list.length > 0 && list[0] === 'x' || n === 7;
  try { if (n === 5) throw new Error('five'); } catch { out += '-caught'; }
  const f = (v) => v ?? 'none';
  return out + (named ? '-named' : '') + '-' + f(n === 4 ? null : n) + ' ' + "0x7f454c46 literal";
}
`;

const cases: Array<[number, unknown[]]> = [[1, []], [4, [4]], [5, ['x']], [7, [1, 2, 3]], [9, []], [12, [12, 12]]];

test('an instrumented module returns what the original returns, and its branches move its counters', async (t) => {
  const map = new CoverageMap();
  (globalThis as Record<string, unknown>)[COVERAGE_GLOBAL] = map;
  const plain = (await import(`data:text/javascript,${encodeURIComponent(SOURCE)}`)) as { classify(n: number, l: unknown[]): string };
  const { code, counters } = instrument(SOURCE, 'src/sample.js');
  const marked = (await import(`data:text/javascript,${encodeURIComponent(code)}`)) as typeof plain;
  t.true(counters >= 20, `${counters} counters`);
  t.is(map.total, counters);
  t.true(map.words.has('five') && map.words.has('-listed'), 'string literals go to the dictionary');
  t.true(map.numbers.has(10), 'number literals go to the dictionary');
  let fresh = 0;
  for (const [n, list] of cases) {
    t.is(marked.classify(n, list), plain.classify(n, list), `classify(${n})`);
    fresh += map.novelty();
  }
  t.true(fresh > 0);
  t.is(map.novelty(), 0, 'nothing new without a run');
  marked.classify(1, []);
  t.is(map.novelty(), 0, 'an input seen before brings nothing new');
  t.is(map.covered, counters, 'these inputs take every arm');
});
