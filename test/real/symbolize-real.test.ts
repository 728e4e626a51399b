// Real-kernel tier for `symbolize` (Debian 6.1 cloud-amd64): file:line:column and the inlined call chain of
// a deterministic sample of addresses inside functions, against llvm-symbolizer-19 (vmlinux) and
// eu-addr2line (modules), and the command on frames of duplicated names.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import test from 'ava';
import { addressFrames, type SourceFrame } from '../../src/dwarf/addr2line.js';
import { Dwarf } from '../../src/dwarf/context.js';
import { DwarfFile } from '../../src/dwarf/sections.js';
import { UnitAddressIndex } from '../../src/dwarf/unit-index.js';
import { ET_REL } from '../../src/elf/constants.js';
import { openObject } from '../../src/sites/object.js';
import { corpus61 } from '../helpers/corpus.js';
import { elfutilsFrames, haveTool, llvmFrames, LLVM_SYMBOLIZER, type OracleFrame, sampleFunctions } from '../helpers/symbolize-oracle.js';

const corpus = corpus61();
const tools = haveTool(LLVM_SYMBOLIZER) && haveTool('eu-addr2line');
const real = corpus && tools ? test.serial : test.skip;

/** Modules the e2e boot loads, and their sample sizes. */
const MODULES = ['net/bridge/bridge.ko', 'net/ceph/libceph.ko', 'fs/btrfs/btrfs.ko', 'fs/smb/client/cifs.ko', 'fs/cifs/cifs.ko',
  'net/sctp/sctp.ko', 'fs/overlayfs/overlay.ko', 'drivers/net/wireguard/wireguard.ko'];

/** Source frames from ksymtree's reader, for `section` offsets of a module or addresses of vmlinux. */
async function ours(path: string, section: string | null, places: readonly bigint[]): Promise<SourceFrame[][]> {
  const obj = await openObject(path);
  const problems: string[] = [];
  const file = new DwarfFile(obj.src, obj.h, obj.sections, obj.symtab, (e) => problems.push(e.message));
  try {
    const dwarf = new Dwarf(file);
    const units = new UnitAddressIndex(dwarf, (e) => problems.push(String(e)));
    const s = obj.h.type === ET_REL ? obj.sections.find((x) => x.name === section)!.index : 0;
    const out = addressFrames(dwarf, units, places.map((value) => ({ section: s, value })));
    if (problems.length) throw new Error(problems.join('\n'));
    return out;
  } finally {
    file.close();
    obj.close();
  }
}

/**
 * Differences between our frames and the oracle's for one address, as text; empty when they agree.
 * `outerNames`: llvm-symbolizer names the outermost frame from the symbol table (any symbol at the
 * function's address: `foo.constprop.0`, `__x64_sys_getgid` for DWARF's `__do_sys_getgid`).
 */
function compare(mine: SourceFrame[], oracle: OracleFrame[], outerNames?: ReadonlySet<string>): string[] {
  // No DWARF for the address (assembler without line info): the oracle prints one `??` frame.
  if (mine.length === 0) return oracle.length === 1 && oracle[0].file === '??' ? [] : [`ours: none; oracle: ${show(oracle)}`];
  const a = mine.map((f) => ({ function: f.function, file: f.file ?? '??', line: f.line, column: f.column }));
  const last = a.length - 1;
  const sameName = (f: { function: string | null }, i: number) => f.function === null
    || (i === last && outerNames ? outerNames.has(oracle[i].function) : f.function === oracle[i].function);
  const same = a.length === oracle.length && a.every((f, i) => sameName(f, i)
    && f.file === oracle[i].file && f.line === oracle[i].line && f.column === oracle[i].column);
  return same ? [] : [`ours: ${show(a)}; oracle: ${show(oracle)}`];
}

function show(frames: readonly { function: string | null; file: string; line: number; column: number }[]): string {
  return frames.map((f) => `${f.function ?? '?'} ${f.file}:${f.line}:${f.column}`).join(' < ');
}

real('vmlinux: a sample of 4,000 addresses inside functions gets llvm-symbolizer-19\'s file:line:column and inline chain', async (t) => {
  const vmlinux = join(corpus!.debug, 'vmlinux');
  const sample = sampleFunctions(vmlinux, 11, 4000);
  const places = sample.map((s) => s.value + s.offset);
  const mine = await ours(vmlinux, null, places);
  const oracle = llvmFrames(vmlinux, places);
  const bad = places.flatMap((p, i) => compare(mine[i], oracle[i], sample[i].names).map((d) => `0x${p.toString(16)} ${sample[i].name}+0x${sample[i].offset.toString(16)}: ${d}`));
  const inlined = mine.filter((f) => f.length > 1).length;
  t.log(`${places.length} addresses, ${inlined} inside inlined code, ${bad.length} disagreements`);
  for (const b of bad) t.log(b);
  t.true(places.length >= 4000);
  t.true(inlined > 500);
  t.deepEqual(bad, []);
});

real('modules: a sample of .text addresses of 7 modules gets eu-addr2line\'s file:line:column and inline chain', async (t) => {
  let total = 0;
  let inlined = 0;
  const bad: string[] = [];
  for (const rel of MODULES) {
    const path = join(corpus!.debug, 'kernel', rel);
    let sample;
    try {
      sample = sampleFunctions(path, 3, 250);
    } catch {
      continue; // cifs moved from fs/cifs to fs/smb/client; only one of them exists
    }
    const text = execFileSync('readelf', ['-SW', path], { encoding: 'utf8' });
    const textSize = BigInt(`0x${/\] \.text\s+PROGBITS\s+\S+\s+\S+\s+(\S+)/.exec(text)![1]}`);
    const inText = sample.filter((s) => s.value + s.offset < textSize);
    const places = inText.map((s) => s.value + s.offset);
    const mine = await ours(path, '.text', places);
    const oracle = elfutilsFrames(path, '.text', places);
    total += places.length;
    inlined += mine.filter((f) => f.length > 1).length;
    places.forEach((p, i) => bad.push(...compare(mine[i], oracle[i]).map((x) => `${rel} .text+0x${p.toString(16)}: ${x}`)));
  }
  t.log(`${total} module addresses, ${inlined} inside inlined code, ${bad.length} disagreements`);
  for (const b of bad) t.log(b);
  t.true(total >= 1000);
  t.deepEqual(bad, []);
});
