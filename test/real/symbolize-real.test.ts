// Real-kernel tier for `symbolize` (Debian 6.1 cloud-amd64): file:line:column and the inlined call chain of
// a deterministic sample of addresses inside functions, against llvm-symbolizer-19 (vmlinux) and
// eu-addr2line (modules), and the command on frames of duplicated names.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { addressFrames, type SourceFrame } from '../../src/dwarf/addr2line.js';
import { Dwarf } from '../../src/dwarf/dwarf.js';
import { DwarfFile } from '../../src/dwarf/dwarf-file.js';
import { UnitAddressIndex } from '../../src/dwarf/unit-index.js';
import { ET_REL } from '../../src/elf/constants.js';
import { openObject } from '../../src/sites/object.js';
import { corpus61 } from '../helpers/corpus.js';
import { CLI, ksymtree } from '../helpers/cli.js';
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

// ---- the command, on the installed tree indexed with --debug-dir ----

const work = mkdtempSync(join(tmpdir(), 'ksymtree-real-symbolize-'));
const db = join(work, 'ksymtree.db');
const BUILD_DIR = 'debian/build/build_amd64_none_cloud-amd64/';

/** A /proc/kallsyms captured from the booted Debian 6.1 cloud kernel with bridge loaded (the e2e tier's cache). */
function bootKallsyms(): string | null {
  const cache = process.env.KSYMTREE_E2E_CACHE ?? join(homedir(), '.cache/ksymtree-e2e');
  if (!existsSync(cache)) return null;
  const dir = readdirSync(cache).find((d) => d.startsWith('6.1.0-50-cloud-amd64-') && existsSync(join(cache, d, 'kallsyms')));
  return dir ? join(cache, dir, 'kallsyms') : null;
}

/** `.symtab` order (readelf) of a module's symbols named `name`: value of each, i.e. sympos order. */
function symtabValues(path: string, name: string): bigint[] {
  return execFileSync('readelf', ['-sW', path], { encoding: 'utf8', maxBuffer: 1 << 26 }).split('\n')
    .map((l) => l.trim().split(/\s+/)).filter((c) => c[7] === name).map((c) => BigInt(`0x${c[1]}`));
}

function symbolizeJson(args: string[], input?: string): Record<string, unknown>[] {
  const out = execFileSync(process.execPath, [CLI, 'symbolize', '--db', db, '--format', 'json', ...args], { input, encoding: 'utf8' });
  return out.trim().split('\n').map((l) => JSON.parse(l));
}

real('symbolize: index the installed tree with --debug-dir', async (t) => {
  const r = await ksymtree(['index', corpus!.installed, '--debug-dir', corpus!.debug, '--db', db, '--quiet']);
  t.is(r.status, 0, r.stderr);
});

real("symbolize: bridge's jhash+0x10/0x165 has four same-size copies; each gives eu-addr2line's line at its own offset", (t) => {
  const bridge = join(corpus!.debug, 'kernel/net/bridge/bridge.ko');
  const [rec] = symbolizeJson(['jhash+0x10/0x165', '[bridge]']);
  const candidates = rec.candidates as { alias: string; sympos: number; file: string; line: number }[];
  const values = symtabValues(bridge, 'jhash');
  t.is(values.length, 4);
  t.is(candidates.length, 4);
  const oracle = elfutilsFrames(bridge, '.text', values.map((v) => v + 0x10n));
  candidates.forEach((c, i) => {
    t.is(c.sympos, i + 1);
    t.regex(c.alias, /^jhash@include_linux_jhash_h_70@net_bridge_\w+_c$/);
    t.is(`${BUILD_DIR}${c.file}:${c.line}`, `${oracle[i][0].file}:${oracle[i][0].line}`);
  });
});

const boot = corpus && tools ? bootKallsyms() : null;
(boot ? test.serial : test.skip)(`symbolize --kallsyms: a runtime bridge address picks the copy the kernel's n-th jhash line names${boot ? '' : ' (skipped: no e2e boot capture of 6.1 cloud)'}`, (t) => {
  const bridge = join(corpus!.debug, 'kernel/net/bridge/bridge.ko');
  const lines = readFileSync(boot!, 'latin1').split('\n').filter((l) => / t jhash\t\[bridge\]$/.test(l));
  t.is(lines.length, 4);
  const values = symtabValues(bridge, 'jhash');
  const oracle = elfutilsFrames(bridge, '.text', values.map((v) => v + 0x21n));
  lines.forEach((l, i) => {
    const address = BigInt(`0x${l.split(' ')[0]}`) + 0x21n;
    const [rec] = symbolizeJson(['--kallsyms', boot!, `0x${address.toString(16)}`]);
    t.is(rec.sympos, i + 1, l);
    t.is(rec.offset, '0x21');
    t.is(`${BUILD_DIR}${rec.file}:${rec.line}`, `${oracle[i][0].file}:${oracle[i][0].line}`);
  });
});

real('symbolize annotates a kernel log in place: lines kept, each frame followed by alias and file:line', (t) => {
  const vmlinux = join(corpus!.debug, 'vmlinux');
  // A name_show copy whose st_size no other copy has: the frame names exactly it.
  const copies = sampleFunctions(vmlinux, 1, 1e9).filter((s) => s.name === 'name_show');
  const unique = copies.find((c) => copies.filter((d) => d.size === c.size).length === 1)!;
  const log = ['[   12.345678] Call Trace:', '[   12.345678]  <TASK>', `[   12.345678]  name_show+0x10/0x${unique.size.toString(16)}`, '[   12.345678]  </TASK>'];
  const out = execFileSync(process.execPath, [CLI, 'symbolize', '--db', db], { input: `${log.join('\n')}\n`, encoding: 'utf8' }).split('\n');
  const [frame] = llvmFrames(vmlinux, [unique.value + 0x10n]);
  const innermost = `${frame[0].file.slice(BUILD_DIR.length)}:${frame[0].line}`;
  t.is(out[0], log[0]);
  t.is(out[1], log[1]);
  t.true(out[2].startsWith(`${log[2]} name_show@`), out[2]);
  t.true(out[2].includes(` ${innermost}`), `${out[2]} / ${innermost}`);
  // One continuation line per inlined caller, then the log goes on.
  t.is(out[3 + frame.length - 1], log[3]);
});
