// ftrace call sites (`__mcount_loc`, gcc -pg -mfentry -mrecord-mcount as kbuild compiles): a function copy with a
// recorded call site is traceable, one without (no_instrument_function, the kernel's `notrace`) is not. The
// oracle is readelf's listing of the section's relocations. (The booted-kernel proof is the kbuild tier's.)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { symbolName } from '../src/scan/result.js';
import { scanObject } from '../src/scan/scan-object.js';

const SOURCE = `int traced(int x) { return x * 3 + 1; }
__attribute__((no_instrument_function)) int untraced(int x) { return x * 5 + 2; }
static __attribute__((noinline)) int helper(int x) { return x ^ 7; }
int caller(int x) { return helper(x) + traced(x); }
int data = 3;
`;

test('a module\'s functions: traceable exactly where readelf shows an __mcount_loc relocation inside them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksymtree-ftrace-'));
  try {
    writeFileSync(join(dir, 'f.c'), SOURCE);
    const ko = join(dir, 'f.ko');
    try {
      execFileSync('gcc', ['-c', '-O2', '-pg', '-mfentry', '-mrecord-mcount', '-o', ko, join(dir, 'f.c')], { stdio: 'pipe' });
    } catch (e) {
      t.fail(`gcc -pg -mfentry -mrecord-mcount could not build the fixture: ${(e as Error).message}`);
      return;
    }
    // oracle: the call sites readelf lists (.text + addend) and the functions' ranges nm -S gives
    const sites = [...execFileSync('readelf', ['-rW', ko], { encoding: 'utf8' }).split('Relocation section').find((b) => b.includes("'.rela__mcount_loc'"))!
      .matchAll(/R_X86_64_64\s+\S+\s+\.text \+ ([0-9a-f]+)/g)].map((m) => parseInt(m[1], 16));
    const ranges = execFileSync('nm', ['-S', ko], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')).filter((f) => f.length === 4 && /^[tT]$/.test(f[2]))
      .map(([value, size, , name]) => ({ name, start: parseInt(value, 16), end: parseInt(value, 16) + parseInt(size, 16) }));
    const expected = Object.fromEntries(ranges.map((r) => [r.name, sites.some((s) => s >= r.start && s < r.end) ? 1 : 2]));
    t.deepEqual(expected, { traced: 1, untraced: 2, helper: 1, caller: 1 }, 'the compiler recorded what the kernel build relies on');

    const s = (await scanObject(ko)).elf!.symbols;
    const got: Record<string, number> = {};
    for (let row = 0; row < s.count; row++) {
      const name = symbolName(s, row);
      if (name in expected || name === 'data') got[name] = s.ftrace[row];
    }
    t.deepEqual(got, { ...expected, data: 0 }, 'functions 1 (call site) or 2 (notrace); not a function: 0');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
