/**
 * The fuzzer's coverage map: one counter array shared by every instrumented module (instrument.ts), read after
 * each input. An input is kept when a counter moves into a hit-count bucket (1, 2, 3, 4-7, 8-15, 16-31,
 * 32-127, 128+) it never reached before, as AFL does; the literals of the loaded modules feed the dictionary.
 */
import { register } from 'node:module';
import { COVERAGE_GLOBAL } from './instrument.js';

const CAPACITY = 1 << 20;

export class CoverageMap {
  private counts = new Uint32Array(CAPACITY);
  private previous = new Uint32Array(CAPACITY);
  private seen = new Uint8Array(CAPACITY);
  private used = 0;
  /** Counters that have been hit at least once. */
  covered = 0;
  readonly words = new Set<string>();
  readonly numbers = new Set<number>();

  /** Called by each instrumented module as it loads: its slice of the counters. */
  module(_id: string, count: number, words: readonly string[], numbers: readonly number[]): Uint32Array {
    if (this.used + count > CAPACITY) throw new Error(`fuzz coverage: more than ${CAPACITY} counters`);
    const slice = this.counts.subarray(this.used, this.used + count);
    this.used += count;
    for (const w of words) this.words.add(w);
    for (const n of numbers) this.numbers.add(n);
    return slice;
  }

  /** Counters of the modules loaded so far. */
  get total(): number {
    return this.used;
  }

  /** How many (counter, bucket) pairs the run since the last call reached for the first time. */
  novelty(): number {
    const { counts, previous, seen } = this;
    let fresh = 0;
    for (let i = 0; i < this.used; i++) {
      const now = counts[i];
      if (now === previous[i]) continue;
      const bit = bucket(now - previous[i]);
      previous[i] = now;
      if ((seen[i] & bit) === 0) {
        if (seen[i] === 0) this.covered++;
        seen[i] |= bit;
        fresh++;
      }
    }
    return fresh;
  }
}

function bucket(hits: number): number {
  if (hits <= 3) return 1 << (hits - 1);
  if (hits <= 7) return 8;
  if (hits <= 15) return 16;
  if (hits <= 31) return 32;
  if (hits <= 127) return 64;
  return 128;
}

/** Installs the map and the loader hooks; only modules imported afterwards are instrumented. */
export function startCoverage(): CoverageMap {
  const map = new CoverageMap();
  (globalThis as Record<string, unknown>)[COVERAGE_GLOBAL] = map;
  register('./coverage-hooks.js', import.meta.url);
  return map;
}
