/**
 * Inputs the fuzzer found (test/fuzz/regressions/<target>/), each once an exception no parser check caught or
 * a hang: index (pass 1, or pass 2's site search for the dwarf target) must now report it as an error naming
 * the file, the offset and what was expected there.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as zlib from 'node:zlib';
import { join } from 'node:path';
import test from 'ava';
import { scanObject } from '../../src/scan/scan-object.js';
import { findSites } from '../../src/sites/find-sites.js';
import { openObject } from '../../src/sites/object.js';
import { repoPath } from '../helpers/repo.js';

const DIR = repoPath('test', 'fuzz', 'regressions');
const scratch = mkdtempSync(join(tmpdir(), 'ksymtree-fuzz-regressions-'));

interface Regression {
  readonly file: string;
  /** The name index sees the object under (a `.ko` is a module). */
  readonly as: string;
  readonly offset: number;
  readonly expected: RegExp;
  /** What Node ≥ 22.15 reports instead, where zlib's zstd (whose errors say less) decodes the stream. */
  readonly native?: { readonly offset: number; readonly expected: RegExp };
}

const NATIVE_ZSTD = 'zstdDecompressSync' in zlib;

const SCANNED: readonly Regression[] = [
  // An __mcount_loc relocation naming symbol 1667852129 of a 23-entry table.
  { file: 'elf/mcount-reloc-symbol-index.ko', as: 'fuzz.ko', offset: 0xca8, expected: /\.rela__mcount_loc\) relocating __mcount_loc: entry 0: expected a symbol index below 23, found 1667852129/ },
  // A 28-byte zstd frame whose content size (a single-segment frame's window) is 8e18: fzstd took 2 GB and 10 s.
  { file: 'zstd/window-claims-8e18.ko.zst', as: 'fuzz.ko.zst', offset: 7, expected: /zstd frame header: expected a window of at most 134217728 bytes \(zstd's default decoder limit\), found 8389495217488658000/ },
  // A 1,889-byte frame whose first sequence reaches 195 MB back: fzstd (Node 20) did not bound lengths and
  // offsets and spent 0.4 s of CPU before "invalid zstd data"; our decoder checks the offset first.
  { file: 'zstd/fzstd-unbounded-lengths.ko.zst', as: 'fuzz.ko.zst', offset: 0x6d9, expected: /zstd sequence 0: expected a match offset from 1 to 15 \(the 15 bytes of the frame decoded so far\), found 195362702/,
    // zlib is handed whole frames, found from their headers: the walk meets the bytes after this one first.
    native: { offset: 0x6e5, expected: /zstd stream: expected a frame \(magic number 0xfd2fb528, or 0x184d2a5\? for a skippable one\), found 0xb079d39a/ } },
];

/** Found by the dwarf target, which asks pass 2 for the site of every symbol (the first 400), as the test does. */
const SITES: readonly Regression[] = [
  // .debug_abbrev, SHF_COMPRESSED zstd, declaring 1,677,722,697 bytes: fzstd was handed an output buffer of that
  // size and stringified it per frame (3 s of CPU for a 13 KB module). Its .debug_info stream is corrupt too
  // (`zstd -d`: "Data corruption detected"), which fzstd let through: our decoder stops there, first.
  { file: 'dwarf/abbrev-claims-1.6-gb.ko', as: 'fuzz.ko', offset: 0x4f8, expected: /section 12 \(\.debug_info\): expected a zstd stream of 1979 bytes \(zstd sequence 113: expected a match offset from 1 to 1145 \(the 1145 bytes of the frame decoded so far\), found 1498\)/,
    native: { offset: 0x4f8, expected: /section 12 \(\.debug_info\): expected a zstd stream of 1979 bytes \(Data corruption detected\)/ } },
  // A DW_FORM_block1 attribute whose length byte would be the unit's first byte past its end: the length read as
  // undefined, the next DIE position as NaN, and the DIE walk never ended.
  { file: 'dwarf/block1-length-at-unit-end.ko', as: 'fuzz.ko', offset: 0x292f, expected: /\.debug_info\+0x824: DW_FORM_block1 length runs past the end of the unit/ },
  // A DWARF 5 line table header with an empty directory entry format and directories_count 203,423,740: each
  // entry read no bytes, and the array of them grew until V8 aborted the process.
  { file: 'dwarf/line-table-claims-203m-dirs.ko', as: 'fuzz.ko', offset: 0x715, expected: /\.debug_line\+0x171: directories_count 203423740: expected 0 with an empty directories entry format/ },
];

const siteErrors = async (path: string) => {
  const obj = await openObject(path);
  const count = Math.min(obj.symtab?.count ?? 0, 400);
  obj.close();
  const requests = Array.from({ length: count - 1 }, (_, i) => ({ symtabIndex: i + 1 }));
  return (await findSites(path, path, requests, { all: false })).errors.map((e) => ({ kind: 'format', offset: e.offset, message: e.message }));
};

for (const [entry, how] of [...SCANNED.map((r) => [r, 'scanObject'] as const), ...SITES.map((r) => [r, 'findSites'] as const)]) {
  const r = NATIVE_ZSTD && entry.native ? { ...entry, ...entry.native } : entry;
  test(`fuzz regression ${r.file}: ${how} reports it as an error row`, async (t) => {
    // One directory per input: the tests run concurrently and several keep the name the fuzzer gave them.
    const path = join(mkdtempSync(join(scratch, 'input-')), r.as);
    copyFileSync(join(DIR, r.file), path);
    const errors = how === 'scanObject' ? (await scanObject(path)).errors : await siteErrors(path);
    t.deepEqual(errors.filter((e) => e.kind === 'internal'), []);
    const hit = errors.find((e) => r.expected.test(e.message));
    t.truthy(hit, `an error matching ${r.expected}; got ${JSON.stringify(errors.map((e) => e.message))}`);
    t.is(hit?.offset, r.offset);
    t.true(hit!.message.startsWith(`${path}: at offset 0x${r.offset.toString(16)}: `));
  });
}
