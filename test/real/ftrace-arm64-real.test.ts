// Real-kernel tier (Debian 6.1 cloud-arm64): which functions ftrace can attach to, read from arm64's
// patchable function entries (modules: `__patchable_function_entries` relocations; vmlinux: the words between
// __start_mcount_loc and __stop_mcount_loc, 0 in the file, given by .rela.dyn), against readelf's relocations
// and symbols: a function is traceable exactly when an entry lies inside it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { openIndexDb } from '../../src/db/db.js';
import { corpusArm64 } from '../helpers/corpus.js';
import { ksymtree } from '../helpers/cli.js';

const corpus = corpusArm64();
const real = corpus ? test.serial : test.skip;

const MODULES = ['net/bridge/bridge.ko', 'fs/nfsd/nfsd.ko', 'net/ceph/libceph.ko'];

const readelf = (args: string[], path: string) => execFileSync('readelf', [...args, path], { encoding: 'utf8', maxBuffer: 1 << 30 });

/** Section names by index (readelf -SW). */
function sectionNames(path: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const m of readelf(['-SW'], path).matchAll(/^\s*\[\s*(\d+)\] (\S+)/gm)) out.set(Number(m[1]), m[2]);
  return out;
}

/** FUNC symbols with a size (readelf -sW): index, section name, value, size. */
function functions(path: string): { idx: number; section: string; value: bigint; size: bigint }[] {
  const names = sectionNames(path);
  return readelf(['-sW'], path).split('\n').map((l) => l.trim().split(/\s+/))
    .filter((c) => c[3] === 'FUNC' && /^\d+$/.test(c[6]) && Number(c[2]) > 0)
    .map((c) => ({ idx: Number(c[0].replace(':', '')), section: names.get(Number(c[6]))!, value: BigInt(`0x${c[1]}`), size: BigInt(c[2]) }));
}

/** Relocation entries of one relocation section (readelf -rW): offset, type, symbol name, addend. */
function relocations(path: string, section: string): { offset: bigint; type: string; symbol: string; addend: bigint }[] {
  const out: { offset: bigint; type: string; symbol: string; addend: bigint }[] = [];
  let inside = false;
  for (const line of readelf(['-rW'], path).split('\n')) {
    if (line.startsWith('Relocation section')) inside = line.includes(`'${section}'`);
    const m = inside ? /^([0-9a-f]{16})\s+[0-9a-f]+\s+(\S+)\s+(?:[0-9a-f]+\s+(\S+)\s+)?([+-])\s*([0-9a-f]+)$/.exec(line) : null;
    if (m) out.push({ offset: BigInt(`0x${m[1]}`), type: m[2], symbol: m[3] ?? '', addend: (m[4] === '-' ? -1n : 1n) * BigInt(`0x${m[5]}`) });
  }
  return out;
}

/** Which of the functions contain an entry: site keys are `section:address` (vmlinux: one section key, ''). */
function expected(fns: ReturnType<typeof functions>, sites: Map<string, bigint[]>, one: boolean): Map<number, number> {
  const out = new Map<number, number>();
  for (const f of fns) {
    const list = sites.get(one ? '' : f.section) ?? [];
    out.set(f.idx, list.some((s) => f.value <= s && s < f.value + f.size) ? 1 : 0);
  }
  return out;
}

real('arm64: ftrace marks from patchable function entries equal readelf\'s relocations, vmlinux and 3 modules', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'ksymtree-arm64-ftrace-'));
  const tree = join(work, 'tree');
  mkdirSync(tree);
  symlinkSync(join(corpus!.debug, 'vmlinux'), join(tree, 'vmlinux'));
  for (const rel of MODULES) {
    mkdirSync(join(tree, 'kernel', rel, '..'), { recursive: true });
    symlinkSync(join(corpus!.debug, 'kernel', rel), join(tree, 'kernel', rel));
  }
  const db = join(work, 'index.db');
  const idx = await ksymtree(['index', tree, '--db', db, '--quiet', '--no-aliases']);
  t.is(idx.status, 0, idx.stderr);
  const d = openIndexDb(db);
  const bad: string[] = [];
  let traceable = 0;
  let notrace = 0;
  try {
    const marks = (path: string) => new Map((d.prepare(`SELECT s.idx, s.ftrace FROM symbols s JOIN objects o ON o.id = s.object_id
        WHERE o.path = ? AND s.type = 2 AND s.size > 0`).all(path) as { idx: number; ftrace: number | null }[]).map((r) => [r.idx, r.ftrace]));
    const check = (label: string, path: string, want: Map<number, number>) => {
      const got = marks(path);
      for (const [i, w] of want) {
        if (w) traceable++;
        else notrace++;
        if (got.get(i) !== w) bad.push(`${label} symbol ${i}: index ${got.get(i)}, readelf ${w}`);
      }
    };
    // vmlinux: .rela.dyn's R_AARCH64_RELATIVE addends at the places of the table.
    const vmlinux = join(tree, 'vmlinux');
    const bounds = new Map(readelf(['-sW'], vmlinux).split('\n').map((l) => l.trim().split(/\s+/))
      .filter((c) => c[7] === '__start_mcount_loc' || c[7] === '__stop_mcount_loc').map((c) => [c[7], BigInt(`0x${c[1]}`)]));
    const [start, stop] = [bounds.get('__start_mcount_loc')!, bounds.get('__stop_mcount_loc')!];
    const entries = relocations(vmlinux, '.rela.dyn').filter((r) => r.offset >= start && r.offset < stop);
    t.is(entries.length, Number((stop - start) / 8n), 'every table word has a dynamic relocation');
    // readelf prints a RELATIVE addend as signed (-7ffff7439800): the address is its 64-bit two's complement.
    check('vmlinux', vmlinux, expected(functions(vmlinux), new Map([['', entries.map((r) => BigInt.asUintN(64, r.addend))]]), true));
    for (const rel of MODULES) {
      const path = join(tree, 'kernel', rel);
      const sites = new Map<string, bigint[]>();
      for (const r of relocations(path, '.rela__patchable_function_entries')) {
        t.is(r.type, 'R_AARCH64_ABS64');
        t.true(r.symbol.startsWith('.'), `${rel}: entry against a section symbol (${r.symbol})`);
        sites.set(r.symbol, [...(sites.get(r.symbol) ?? []), r.addend]);
      }
      check(rel, path, expected(functions(path), sites, false));
    }
  } finally {
    d.close();
  }
  t.log(`${traceable} traceable and ${notrace} notrace functions, ${bad.length} disagreements`);
  for (const b of bad.slice(0, 40)) t.log(b);
  t.true(traceable > 10000);
  t.true(notrace > 100);
  t.deepEqual(bad, []);
});
