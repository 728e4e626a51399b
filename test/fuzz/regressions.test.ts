/**
 * Inputs the fuzzer found (test/fuzz/regressions/<target>/), each once an exception no parser check caught:
 * index must now report it as an error row naming the file, the offset and what was expected there.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { scanObject } from '../../src/scan/scan-object.js';
import { repoPath } from '../helpers/repo.js';

const DIR = repoPath('test', 'fuzz', 'regressions');
const scratch = mkdtempSync(join(tmpdir(), 'ksymtree-fuzz-regressions-'));

interface Regression {
  readonly file: string;
  /** The name index sees the object under (a `.ko` is a module). */
  readonly as: string;
  readonly offset: number;
  readonly expected: RegExp;
}

const SCANNED: readonly Regression[] = [
  // An __mcount_loc relocation naming symbol 1667852129 of a 23-entry table.
  { file: 'elf/mcount-reloc-symbol-index.ko', as: 'fuzz.ko', offset: 0xca8, expected: /\.rela__mcount_loc\) relocating __mcount_loc: entry 0: expected a symbol index below 23, found 1667852129/ },
  // A 28-byte zstd frame whose content size (a single-segment frame's window) is 8e18: fzstd took 2 GB and 10 s.
  { file: 'zstd/window-claims-8e18.ko.zst', as: 'fuzz.ko.zst', offset: 7, expected: /zstd frame header: expected a window of at most 134217728 bytes \(zstd's default decoder limit\), found 8389495217488658000/ },
];

for (const r of SCANNED) {
  test(`fuzz regression ${r.file}: scanObject reports it as an error row`, async (t) => {
    const path = join(scratch, r.as);
    copyFileSync(join(DIR, r.file), path);
    const { errors } = await scanObject(path);
    t.deepEqual(errors.filter((e) => e.kind === 'internal'), []);
    const hit = errors.find((e) => r.expected.test(e.message));
    t.truthy(hit, `an error matching ${r.expected}; got ${JSON.stringify(errors.map((e) => e.message))}`);
    t.is(hit?.offset, r.offset);
    t.true(hit!.message.startsWith(`${path}: at offset 0x${r.offset.toString(16)}: `));
  });
}
