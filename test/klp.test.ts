// `ksymtree klp check` and `klp funcs` on fixture livepatch objects and three fixture kernel builds
// (test/helpers/build-klp-fixtures.ts). Oracles: readelf -s/-r/-p/-S/-x for what the livepatch objects hold,
// test/helpers/copy-oracle.ts (nm, llvm-symbolizer-19, llvm-dwarfdump-19, readelf) for which copy is which.
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import test from 'ava';
import { type KlpFixtures, buildKlpFixtures } from './helpers/build-klp-fixtures.js';
import { COMMON_CFLAGS, FIXTURE_SOURCES } from './helpers/build-fixtures.js';
import { repoPath } from './helpers/repo.js';
import { TOOLCHAINS } from './helpers/toolchains.js';
import { ksymtree } from './helpers/cli.js';
import { moduleFiles, vmlinuxFiles, vmlinuxUnits } from './helpers/copy-oracle.js';
import { exec } from './helpers/exec.js';
import { readelfHexDump, readelfRelocs, readelfSections, readelfSymbols } from './helpers/oracle.js';
import type { KlpCheckRecord, KlpFuncRecord } from '../src/commands/klp.js';

const f: KlpFixtures = await buildKlpFixtures();
const { A, B, C } = f.builds;

const filesOf = (b: typeof A, objname: string, name: string) => (objname === 'vmlinux' ? vmlinuxFiles(b.vmlinux, name) : moduleFiles(b.foo, name));

async function check(module: string, args: string[]): Promise<{ status: number | null; rec: KlpCheckRecord; stderr: string }> {
  const r = await ksymtree(['klp', 'check', module, ...args, '--format', 'json']);
  return { status: r.status, rec: JSON.parse(r.stdout) as KlpCheckRecord, stderr: r.stderr };
}

/** `.klp.sym` symbols as readelf -s shows them (Ndx `OS [0xff20]`), with their .klp.rela uses from readelf -r. */
async function readelfKlpSyms(file: string): Promise<{ index: number; name: string; uses: number }[]> {
  const rela = (await exec('readelf', ['-rW', file])).stdout;
  const uses = (name: string) => {
    let n = 0;
    let inKlp = false;
    for (const l of rela.split('\n')) {
      if (l.startsWith('Relocation section')) inKlp = l.includes("'.klp.rela.");
      else if (inKlp && l.includes(` ${name} `)) n++;
    }
    return n;
  };
  return (await exec('readelf', ['-sW', file])).stdout.split('\n').filter((l) => l.includes('OS [0xff20]')).map((l) => {
    const cols = l.trim().split(/\s+/);
    const name = cols[cols.length - 1];
    return { index: Number(cols[0].replace(':', '')), name, uses: uses(name) };
  });
}

test('.klp.sym references are the SHN_LIVEPATCH symbols readelf shows, with their .klp.rela uses', async (t) => {
  const { rec } = await check(f.klpSym, ['--db', A.db]);
  const oracle = await readelfKlpSyms(f.klpSym);
  t.is(oracle.length, 3);
  t.deepEqual(rec.references.map((r) => ({ index: Number(/^symbol (\d+) /.exec(r.where)![1]), name: `.klp.sym.${r.objname}.${r.name},${r.sympos}`,
    uses: Number(/\((\d+) \.klp\.rela entr/.exec(r.where)![1]) })), oracle);
  t.true(rec.references.every((r) => r.kind === 'klp_sym'));
  const sections = (await exec('readelf', ['-SW', f.klpSym])).stdout;
  t.regex(sections, /\.klp\.rela\.vmlinux\.\.text\s+RELA/);
  const symtabOffset = parseInt(/\.symtab\s+SYMTAB\s+\S+\s+(\S+)/.exec(sections)![1], 16);
  for (const r of rec.references) t.is(r.offset, symtabOffset + 24 * Number(/^symbol (\d+)/.exec(r.where)![1]));
});

test('klp_func references: each entry relocates old_name to its string (readelf -r, -p) and carries the sympos the source gives', async (t) => {
  const { rec } = await check(f.sample, ['--db', A.db]);
  // From livepatch-sample.c.
  t.deepEqual(rec.references.map((r) => [r.objname, r.name, r.sympos]),
    [['vmlinux', 'show', 1], ['vmlinux', 'sched_tick', 0], ['foo', 'helper', 2], ['foo', 'foo_api', 0]]);
  const relocs = new Map((await exec('readelf', ['-rW', f.sample])).stdout.split('\n').filter((l) => /R_X86_64_64\s+\S+\s+\.rodata\.str1\.1 \+ /.test(l))
    .map((l) => [parseInt(l.slice(0, 16), 16), parseInt(l.trim().split(/\s+/).pop()!, 16)]));
  const strings = new Map((await exec('readelf', ['-p', '.rodata.str1.1', f.sample])).stdout.split('\n').map((l) => /\[\s*([0-9a-f]+)\]\s+(\S+)/.exec(l))
    .filter((m) => m).map((m) => [parseInt(m![1], 16), m![2]]));
  const dataOffset = parseInt(/\] \.data\s+PROGBITS\s+\S+\s+(\S+)/.exec((await exec('readelf', ['-SW', f.sample])).stdout)![1], 16);
  for (const r of rec.references) {
    const at = Number(/\.data\+0x([0-9a-f]+)/.exec(r.where)![1].replace(/^/, '0x'));
    t.is(r.offset, dataOffset + at);
    t.is(strings.get(relocs.get(at)!), r.name, r.where);
  }
});

test('against its own build every reference binds: exit 0; the copies bound are those of the sympos in nm/readelf order', async (t) => {
  for (const module of [f.sample, f.klpSym]) {
    const { status, rec } = await check(module, ['--db', A.db]);
    t.is(status, 0, JSON.stringify(rec.errors));
    t.true(rec.ok);
    for (const r of rec.references) {
      const files = await filesOf(A, r.objname, r.name);
      const b = r.builds[0];
      t.is(b.copies, files.length, `${r.objname} ${r.name}`);
      t.not(b.bound, null);
      // Duplicated names have a recorded site: it must be the file of the copy at that position.
      if (files.length > 1) t.is(basename(b.bound!.decl_file!), files[r.sympos - 1], `${r.objname} ${r.name},${r.sympos}`);
    }
  }
});

test('--reference: a build whose link order moved the copies fails with the sympos that binds the reference copy; a renamed file matches nothing', async (t) => {
  const { status, rec } = await check(f.sample, ['--reference', A.db, '--db', B.db, '--db', C.db]);
  t.is(status, 1);
  t.false(rec.ok);
  t.deepEqual(rec.builds.map((b) => [b.db, b.role]), [[A.db, 'reference'], [B.db, 'target'], [C.db, 'target']]);
  for (const r of rec.references) {
    const refFile = (await filesOf(A, r.objname, r.name))[Math.max(r.sympos, 1) - 1];
    for (const [k, build] of [A, B, C].entries()) {
      const files = await filesOf(build, r.objname, r.name);
      const res = r.builds[k];
      const bound = files[Math.max(r.sympos, 1) - 1];
      const label = `${r.name},${r.sympos} in ${basename(build.dir)}`;
      if (bound === refFile) t.is(res.status, 'ok', label);
      else if (files.includes(refFile)) {
        t.is(res.status, 'other-copy', label);
        t.is(res.sympos_to_bind, files.indexOf(refFile) + 1, label);
      } else t.is(res.status, 'no-match', label);
    }
  }
  // The oracle's cases all occur: B moved show and helper, C renamed foo_util.c.
  const statuses = rec.references.flatMap((r) => r.builds.map((b) => b.status));
  t.true(statuses.includes('other-copy') && statuses.includes('no-match'));
});

test('--reference: a copy whose function moved lines inside the same file and unit still matches (match "moved"): exit 0', async (t) => {
  const { status, rec } = await check(f.klpSym, ['--reference', A.db, '--db', C.db]);
  t.is(status, 0, JSON.stringify(rec, null, 1));
  const helper = rec.references.find((r) => r.name === 'helper')!;
  t.is(helper.builds[1].match, 'moved');
  t.is(helper.builds[1].bound!.decl_line, helper.builds[0].bound!.decl_line! + 2);
});

test('the kernel rules without a reference: sympos 0 for a duplicated name, a position past the copies, absent names and objects', async (t) => {
  // A module written from the wrong assumptions, checked against build A: its klp_funcs are the oracle.
  const src = join(f.work, 'wrong.c');
  writeFileSync(src, `#include "livepatch.h"
static int n(int x) { return x; }
static struct klp_func v[] = { { .old_name = "show", .new_func = n }, { .old_name = "no_such_function", .new_func = n, .old_sympos = 1 }, { } };
static struct klp_func m[] = { { .old_name = "helper", .new_func = n, .old_sympos = 3 }, { } };
static struct klp_func x[] = { { .old_name = "helper", .new_func = n }, { } };
static struct klp_object objs[] = { { .funcs = v }, { .name = "foo", .funcs = m }, { .name = "nosuchmod", .funcs = x }, { } };
static struct klp_patch patch = { .mod = THIS_MODULE, .objs = objs };
int init(void) { return klp_enable_patch(&patch); }
`);
  const obj = join(f.work, 'wrong.o');
  (await exec(TOOLCHAINS.x86_64.cc, [...COMMON_CFLAGS, ...TOOLCHAINS.x86_64.moduleCflags, `-I${join(FIXTURE_SOURCES, 'klp')}`, '-c', src, '-o', obj])).stdout;
  const { status, rec } = await check(obj, ['--db', A.db]);
  t.is(status, 1);
  t.deepEqual(rec.references.map((r) => [r.objname, r.name, r.sympos, r.builds[0].status, r.builds[0].copies]), [
    ['vmlinux', 'show', 0, 'ambiguous', 2],
    ['vmlinux', 'no_such_function', 1, 'no-symbol', 0],
    ['foo', 'helper', 3, 'out-of-range', 2],
    ['nosuchmod', 'helper', 0, 'no-object', 0],
  ]);
  const text = await ksymtree(['klp', 'check', obj, '--db', A.db]);
  t.regex(text.stdout, /FAIL ambiguous.*unresolvable ambiguity/);
  t.regex(text.stdout, /4 references x 1 builds: 0 ok, 4 failed/);
});

test('malformed .klp.sym objects: each problem named with file and offset (readelf -S), the good references still checked', async (t) => {
  const { status, rec } = await check(f.klpSymBad, ['--db', A.db]);
  t.is(status, 1);
  const sections = (await exec('readelf', ['-SW', f.klpSymBad])).stdout;
  const symtab = parseInt(/\.symtab\s+SYMTAB\s+\S+\s+(\S+)/.exec(sections)![1], 16);
  const symbols = (await exec('readelf', ['-sW', f.klpSymBad])).stdout;
  const indexOf = (name: string) => Number(new RegExp(`^\\s*(\\d+):.* ${name.replace(/[.]/g, '\\.')}$`, 'm').exec(symbols)![1]);
  const msgs = rec.errors.map((e) => e.message);
  const at = (offset: number) => `${f.klpSymBad}: at offset 0x${offset.toString(16)}: `;
  t.true(msgs.some((m) => m.startsWith(at(symtab + 24 * indexOf('.klp.sym.vmlinux.show'))) && m.includes('expected a name .klp.sym.<objname>.<name>,<sympos>')), msgs.join('\n'));
  t.true(msgs.some((m) => m.startsWith(at(symtab + 24 * indexOf('.klp.sym.vmlinux.unmarked,1'))) && m.includes('expected st_shndx SHN_LIVEPATCH')), msgs.join('\n'));
  t.true(msgs.some((m) => m.includes('(.klp.rela.foo..text)') && m.includes('may not reference vmlinux symbols')), msgs.join('\n'));
  t.deepEqual(rec.references.map((r) => `${r.objname}.${r.name},${r.sympos}`), ['vmlinux.sched_tick,0', 'vmlinux.irq_tick,0', 'foo.helper,1']);
});

test('malformed klp_func: an unterminated old_name is an error at its string (readelf -S), the next entry is still read', async (t) => {
  const { status, rec } = await check(f.structBad, ['--db', A.db]);
  t.is(status, 1);
  const bad = parseInt(/\.rodata\.klpbad\s+PROGBITS\s+\S+\s+(\S+)/.exec((await exec('readelf', ['-SW', f.structBad])).stdout)![1], 16);
  t.is(rec.errors.length, 1);
  t.is(rec.errors[0].offset, bad);
  t.regex(rec.errors[0].message, /old_name.*expected a NUL-terminated string/);
  t.deepEqual(rec.references.map((r) => r.name), ['sched_tick']);
});

test('a truncated module, a file that is not ELF and an object that is no livepatch: exit 1 with file and offset', async (t) => {
  const cut = join(f.work, 'cut.o');
  copyFileSync(f.sample, cut);
  truncateSync(cut, 40);
  const notElf = join(f.work, 'not-elf.ko');
  writeFileSync(notElf, 'hello, not an ELF object\n');
  for (const [file, expected] of [[cut, /at offset 0x0: .*ELF64 file header: expected 64 bytes/], [notElf, /at offset 0x0: expected ELF magic/],
    [A.foo, /at offset 0x0: expected \.klp\.sym.*found none: not a livepatch module/]] as const) {
    const r = await ksymtree(['klp', 'check', file, '--db', A.db]);
    t.is(r.status, 1, file);
    t.regex(r.stdout, expected, file);
    t.true(r.stdout.includes(`error: ${file}:`), file);
  }
  const missing = await ksymtree(['klp', 'check', f.sample, '--db', join(f.work, 'none.db')]);
  t.is(missing.status, 2);
  t.regex(missing.stderr, /cannot open index/);
});

test('klp funcs: initializers for aliases compile against the struct layout and bind those copies in their build', async (t) => {
  const lookup = async (name: string) => JSON.parse((await ksymtree(['lookup', name, '--db', A.db, '--format', 'json'])).stdout) as { alias: string; sympos: number; path: string }[];
  // The copies in kernel/irq.c and drivers/foo/foo_util.c, chosen by file through the oracles.
  const show = (await lookup('show'))[(await vmlinuxFiles(A.vmlinux, 'show')).indexOf('irq.c')];
  const helper = (await lookup('helper'))[(await moduleFiles(A.foo, 'helper')).indexOf('foo_util.c')];
  const json = await ksymtree(['klp', 'funcs', show.alias, helper.alias, '--db', A.db, '--format', 'json']);
  t.is(json.status, 0, json.stderr);
  const records = JSON.parse(json.stdout) as KlpFuncRecord[];
  t.deepEqual(records.map((r) => [r.objname, r.old_name, r.old_sympos]), [
    ['vmlinux', 'show', (await vmlinuxFiles(A.vmlinux, 'show')).indexOf('irq.c') + 1],
    ['foo', 'helper', (await moduleFiles(A.foo, 'helper')).indexOf('foo_util.c') + 1],
  ]);
  const c = await ksymtree(['klp', 'funcs', show.alias, helper.alias, '--db', A.db]);
  const src = join(f.work, 'from-funcs.c');
  writeFileSync(src, `#include "livepatch.h"
static int livepatch_show_${records[0].old_sympos}(int x) { return x; }
static int livepatch_helper_${records[1].old_sympos}(int x) { return x; }
${c.stdout}
static struct klp_patch patch = { .mod = THIS_MODULE, .objs = objs };
int init(void) { return klp_enable_patch(&patch); }
`);
  const obj = join(f.work, 'from-funcs.o');
  (await exec(TOOLCHAINS.x86_64.cc, [...COMMON_CFLAGS, ...TOOLCHAINS.x86_64.moduleCflags, '-Werror', `-I${join(FIXTURE_SOURCES, 'klp')}`, '-c', src, '-o', obj])).stdout;
  const { status, rec } = await check(obj, ['--reference', A.db, '--db', B.db]);
  t.deepEqual(rec.references.map((r) => r.builds[0].bound!.alias), [show.alias, helper.alias]);
  t.deepEqual(rec.references.map((r) => r.builds[1].status), ['other-copy', 'other-copy']);
  t.is(status, 1);
  t.is(readFileSync(src, 'latin1').includes('.old_sympos = 0'), false);
});

test('klp funcs refuses an absent alias and one that names copies in two objects', async (t) => {
  const absent = await ksymtree(['klp', 'funcs', 'show@no_such_site_1', '--db', A.db]);
  t.is(absent.status, 2);
  t.regex(absent.stderr, /show@no_such_site_1: no such alias/);
  // One index holding two foo.ko (builds A and B): helper's aliases name a copy in each.
  const both = join(f.work, 'both.db');
  const idx = await ksymtree(['index', A.vmlinux, A.foo, B.foo, '--db', both, '--quiet', '--jobs', '1']);
  t.is(idx.status, 0, idx.stderr);
  const alias = (JSON.parse((await ksymtree(['lookup', 'helper', '--db', both, '--format', 'json'])).stdout) as { alias: string }[])[0].alias;
  const r = await ksymtree(['klp', 'funcs', alias, '--db', both]);
  t.is(r.status, 2);
  t.regex(r.stderr, /ambiguous, it names copies in 2 objects \(foo, foo\)/);
});

test('klp check and klp funcs have help with examples and their own entries in the man page', async (t) => {
  for (const sub of ['check', 'funcs']) {
    const r = await ksymtree(['klp', sub, '--help']);
    t.is(r.status, 0);
    t.regex(r.stdout, new RegExp(`^Examples:\\n  \\$ ksymtree klp ${sub} `, 'm'));
  }
  const man = (await ksymtree(['man'])).stdout;
  t.true(man.includes('\n\\fBklp check\\fR <livepatch\\-module>\n'));
  t.true(man.includes('\n\\fBklp funcs\\fR <alias...>\n'));
  t.true(man.includes('\\fB\\-\\-reference <file>\\fR'));
});

test('scripts/sympos-drift.mjs counts the function copies whose position moved, as nm with llvm-dwarfdump-19 and readelf order them', async (t) => {
  // Function names with 2+ copies in each object of build A (nm t/T letters), and the file of each copy in A and B.
  const dupFunctions = async (file: string, letters: RegExp) => {
    const counts = new Map<string, number>();
    for (const l of (await exec('nm', [file])).stdout.split('\n')) {
      const m = /^\S+ (\S) (\S+)$/.exec(l);
      if (m && letters.test(m[1])) counts.set(m[2], (counts.get(m[2]) ?? 0) + 1);
    }
    return [...counts].filter(([, n]) => n > 1).map(([name]) => name);
  };
  let total = 0;
  let moved = 0;
  for (const [objname, file] of [['vmlinux', A.vmlinux], ['foo', A.foo]] as const) {
    for (const name of await dupFunctions(file, /^[tT]$/)) {
      const unitsOf = (b: typeof A) => (objname === 'vmlinux' ? vmlinuxUnits(b.vmlinux, name) : moduleFiles(b.foo, name));
      const before = await unitsOf(A);
      const after = await unitsOf(B);
      total += before.length;
      moved += before.filter((f0, k) => after[k] !== f0).length;
    }
  }
  t.true(moved > 0);
  const out = (await exec(process.execPath, [repoPath('scripts', 'sympos-drift.mjs'), A.db, B.db, '--functions'])).stdout;
  t.regex(out, new RegExp(`^${total} function copies of in-object duplicate names in`, 'm'), out);
  t.regex(out, new RegExp(`^  other-copy\\t${moved}$`, 'm'), out);
});

test("klp-build's klp_object_ext/klp_func_ext tables (both section names): each entry's old_name relocation (readelf -r, -p) and the sympos the source gives", async (t) => {
  for (const [module, objects, funcs] of [[f.klpBuild, '__klp_objects', '__klp_funcs'], [f.klpBuildInit, '.init.klp_objects', '.init.klp_funcs']] as const) {
    const { status, rec } = await check(module, ['--reference', A.db, '--db', B.db]);
    t.deepEqual(rec.errors, []);
    // From klp-build-sample.c.
    t.deepEqual(rec.references.map((r) => [r.kind, r.objname, r.name, r.sympos]),
      [['klp_func_ext', 'vmlinux', 'show', 2], ['klp_func_ext', 'vmlinux', 'sched_tick', 0], ['klp_func_ext', 'foo', 'helper', 1]]);
    const rela = (await exec('readelf', ['-rW', module])).stdout;
    const section = rela.slice(rela.indexOf(`'.rela${funcs}'`));
    const strings = new Map((await exec('readelf', ['-p', '.rodata.str1.1', module])).stdout.split('\n').map((l) => /\[\s*([0-9a-f]+)\]\s+(\S+)/.exec(l))
      .filter((m) => m).map((m) => [parseInt(m![1], 16), m![2]]));
    const funcsOffset = parseInt(new RegExp(`\\] ${funcs.replace(/\./g, '\\.')}\\s+PROGBITS\\s+\\S+\\s+(\\S+)`).exec((await exec('readelf', ['-SW', module])).stdout)![1], 16);
    for (const r of rec.references) {
      const at = parseInt(new RegExp(`${funcs.replace(/\./g, '\\.')}\\+0x([0-9a-f]+)`).exec(r.where)![1], 16);
      t.true(r.where.startsWith(`${objects}[`), r.where);
      t.is(r.offset, funcsOffset + at);
      const reloc = new RegExp(`^0*${at.toString(16)}\\s+\\S+\\s+R_X86_64_64\\s+\\S+\\s+\\.rodata\\.str1\\.1 \\+ ([0-9a-f]+)$`, 'm').exec(section);
      t.is(strings.get(parseInt(reloc![1], 16)), r.name, r.where);
    }
    // B reversed the link orders: both duplicated names bind the other copy there.
    t.is(status, 1);
    t.deepEqual(rec.references.map((r) => r.builds[1].status), ['other-copy', 'ok', 'other-copy']);
  }
});

test('a klp_object_ext whose nr_funcs runs past its section is an error at that field; the other object is still read', async (t) => {
  const { status, rec } = await check(f.klpBuildBad, ['--db', A.db]);
  t.is(status, 1);
  const objects = parseInt(/\] __klp_objects\s+PROGBITS\s+\S+\s+(\S+)/.exec((await exec('readelf', ['-SW', f.klpBuildBad])).stdout)![1], 16);
  t.is(rec.errors.length, 1);
  // nr_funcs is the last word of the first 64-byte entry.
  t.is(rec.errors[0].offset, objects + 64 - 8);
  t.regex(rec.errors[0].message, /__klp_objects\[0\]\.nr_funcs: expected at most .* found 9/);
  t.deepEqual(rec.references.map((r) => `${r.objname} ${r.name}`), ['foo helper']);
});

/** kpatch_patch_func entries as readelf shows them: sympos from `-x .kpatch.funcs`, name and objname where their
 * `.rela.kpatch.funcs` entries point (`-r`) in `-x .kpatch.strings`, and whether new_addr is relocated to `.text`. */
async function readelfKpatchFuncs(file: string): Promise<{ offset: number; objname: string | null; name: string; sympos: number; newAddr: string | null }[]> {
  const sections = await readelfSections(file);
  const symbols = await readelfSymbols(file);
  const funcs = sections.find((s) => s.name === '.kpatch.funcs')!;
  const bytes = await readelfHexDump(file, '.kpatch.funcs');
  const strings = await readelfHexDump(file, '.kpatch.strings');
  const relocs = new Map((await readelfRelocs(file, true)).get('.rela.kpatch.funcs')!.map((r) => [r.offset, r]));
  const target = (at: number) => {
    const r = relocs.get(at);
    return r ? { section: sections[Number(symbols[r.symIndex].ndx)].name, addend: Number(r.addend) } : null;
  };
  const string = (at: number) => {
    const p = target(at);
    if (!p) return null;
    if (p.section !== '.kpatch.strings') throw new Error(`${file}: the relocation at .kpatch.funcs+0x${at.toString(16)} points into ${p.section}`);
    return strings.subarray(p.addend, strings.indexOf(0, p.addend)).toString('latin1');
  };
  return Array.from({ length: Math.floor(bytes.length / 56) }, (_, k) => ({
    offset: funcs.offset + k * 56, objname: string(k * 56 + 48), name: string(k * 56 + 40)!,
    sympos: Number(bytes.readBigUInt64LE(k * 56 + 32)), newAddr: target(k * 56)?.section ?? null,
  }));
}

test("kpatch-build's .kpatch.funcs: each kpatch_patch_func's name, objname and sympos as readelf -r/-x show them, also after ld -r", async (t) => {
  // From kpatch-sample.c: the oracle read what the source wrote; the linked module holds its table twice.
  const source = [['vmlinux', 'show', 2, '.text'], ['vmlinux', 'sched_tick', 0, '.text'], ['foo', 'helper', 1, '.text'], ['foo', 'foo_api', 0, '.text']];
  for (const [module, expected] of [[f.kpatch, source], [f.kpatchLinked, [...source, ...source]]] as const) {
    const { status, rec } = await check(module, ['--db', A.db]);
    const oracle = await readelfKpatchFuncs(module);
    t.deepEqual(oracle.map((e) => [e.objname, e.name, e.sympos, e.newAddr]), expected);
    t.deepEqual(rec.errors, []);
    t.deepEqual(rec.references.map((r) => ({ offset: r.offset, objname: r.objname, name: r.name, sympos: r.sympos, newAddr: '.text' })), oracle);
    t.true(rec.references.every((r, k) => r.kind === 'kpatch_func' && r.where.startsWith(`.kpatch.funcs[${k}] `)));
    // Bound as the kernel binds the klp_func the hook makes of each entry: the sympos-th copy in nm/readelf order.
    t.is(status, 0, JSON.stringify(rec, null, 1));
    for (const r of rec.references) {
      const files = await filesOf(A, r.objname, r.name);
      t.is(r.builds[0].copies, files.length, `${r.objname} ${r.name}`);
      t.not(r.builds[0].bound, null);
      if (files.length > 1) t.is(basename(r.builds[0].bound!.decl_file!), files[r.sympos - 1], `${r.objname} ${r.name},${r.sympos}`);
    }
  }
});

test('.kpatch.funcs with --reference: in the build whose link order moved the copies, the sympos that binds the reference copy', async (t) => {
  const { status, rec } = await check(f.kpatch, ['--reference', A.db, '--db', B.db]);
  t.is(status, 1);
  for (const r of rec.references) {
    const refFile = (await filesOf(A, r.objname, r.name))[Math.max(r.sympos, 1) - 1];
    const files = await filesOf(B, r.objname, r.name);
    const res = r.builds[1];
    if (files[Math.max(r.sympos, 1) - 1] === refFile) t.is(res.status, 'ok', r.name);
    else {
      t.is(res.status, 'other-copy', r.name);
      t.is(res.sympos_to_bind, files.indexOf(refFile) + 1, r.name);
    }
  }
  t.deepEqual(rec.references.map((r) => r.builds[1].status), ['other-copy', 'ok', 'other-copy', 'ok']);
});

test('malformed .kpatch.funcs: a NULL objname and bytes after the last entry are errors at their offsets (readelf -S), the other entries are read', async (t) => {
  const { status, rec } = await check(f.kpatchBad, ['--db', A.db]);
  t.is(status, 1);
  const funcs = (await readelfSections(f.kpatchBad)).find((s) => s.name === '.kpatch.funcs')!;
  t.is(funcs.size, 4 * 56 + 8);
  t.deepEqual(rec.errors.map((e) => e.offset), [funcs.offset + 4 * 56, funcs.offset + 56 + 48]);
  t.regex(rec.errors[0].message, /\.kpatch\.funcs\): expected an array of struct kpatch_patch_func \(56 bytes each\), found 232 bytes/);
  t.regex(rec.errors[1].message, /\.kpatch\.funcs\[1\] .*: objname: expected a relocated pointer to a string in \.kpatch\.strings, found none/);
  const oracle = await readelfKpatchFuncs(f.kpatchBad);
  t.is(oracle[1].objname, null);
  t.deepEqual(rec.references.map((r) => [r.objname, r.name, r.sympos]), oracle.filter((e) => e.objname !== null).map((e) => [e.objname, e.name, e.sympos]));
});
