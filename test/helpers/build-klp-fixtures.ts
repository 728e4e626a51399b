/**
 * Fixtures for `ksymtree klp`: three builds of the fixture kernel (vmlinux + foo.ko from test/fixtures,
 * x86_64), each indexed by `ksymtree index`, and livepatch objects from test/fixtures/klp, built in a
 * temporary directory per test file:
 *   A  the reference: vmlinux units head, main, sched, irq; foo.ko units foo_main, foo_util
 *   B  the link orders reversed (irq before sched, foo_util before foo_main): every duplicate's sympos moves
 *   C  as A, but foo_main.c starts two lines lower (its copy of `helper` moved) and foo_util.c is renamed
 *      foo_helpers.c (its copy of `helper` has another definition site)
 *   sample.o      livepatch-sample.c: samples/livepatch style klp_patch/klp_object/klp_func tables
 *   klp-sym.o     klp-sym.S with its `.klp.sym.*` symbols marked SHN_LIVEPATCH and `.klp.rela.*` sections
 *   klp-sym-bad.o klp-sym-bad.S likewise (one symbol left unmarked): malformed on purpose
 *   struct-bad.o  livepatch-bad.c: a klp_func whose old_name has no NUL
 *   klp-build.o, klp-build-init.o, klp-build-bad.o   klp-build-sample.c: klp-build's klp_object_ext/klp_func_ext
 *                 tables in __klp_objects/__klp_funcs, in .init.klp_objects/.init.klp_funcs, and with a
 *                 nr_funcs past its section
 *   kpatch.o, kpatch-bad.o   kpatch-sample.c: kpatch-build's `.kpatch.funcs` table with its `.kpatch.strings`,
 *                 and with a NULL objname and stray bytes after the array
 *   kpatch-linked.ko  kpatch.o twice, linked by `ld -r -T module.lds` as kpatch-build and kbuild link its
 *                 objects: one `.kpatch.funcs` of 8 entries, their string relocations moved by ld
 */
import { cpSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { COMMON_CFLAGS, FIXTURE_SOURCES, miniElf, symbolName, symtabOf } from './build-fixtures.js';
import { ksymtree } from './cli.js';
import { exec } from './exec.js';
import { TOOLCHAINS } from './toolchains.js';

const SHN_LIVEPATCH = 0xff20;
const SHF_RELA_LIVEPATCH = 0x00100000;
const X86 = TOOLCHAINS.x86_64;

export interface KlpBuild { readonly dir: string; readonly db: string; readonly vmlinux: string; readonly foo: string }
export interface KlpFixtures {
  readonly builds: { readonly A: KlpBuild; readonly B: KlpBuild; readonly C: KlpBuild };
  readonly sample: string;
  readonly klpSym: string;
  readonly klpSymBad: string;
  readonly structBad: string;
  readonly klpBuild: string;
  readonly klpBuildInit: string;
  readonly klpBuildBad: string;
  readonly kpatch: string;
  readonly kpatchBad: string;
  readonly kpatchLinked: string;
  readonly work: string;
}

/**
 * Marks `.klp.sym.*` symbols SHN_LIVEPATCH (all but those named `*unmarked*`) and renames each
 * `.rela.text..klp.rela.<obj>..text` to the tail `.klp.rela.<obj>..text` (sh_name + 11) with SHF_RELA_LIVEPATCH,
 * in place: what kpatch-build and klp-build write directly.
 */
export function markLivepatch(file: string): void {
  const b = readFileSync(file);
  const elf = miniElf(b);
  const { symtab, entsize } = symtabOf(elf);
  for (let i = 1; i < symtab.size / entsize; i++) {
    const name = symbolName(b, elf, i);
    if (name.startsWith('.klp.sym.') && !name.includes('unmarked')) b.writeUInt16LE(SHN_LIVEPATCH, symtab.offset + i * entsize + 6);
  }
  for (const s of elf.sections) {
    if (!/^\.rela\.text\.\.klp\.rela\./.test(s.name)) continue;
    b.writeUInt32LE(s.nameOff + '.rela.text.'.length, s.headerOffset);
    const flags = s.headerOffset + 8;
    b.writeUInt32LE(b.readUInt32LE(flags) | SHF_RELA_LIVEPATCH, flags);
  }
  writeFileSync(file, b);
}

async function cc(src: string, out: string, cwd: string, flags: readonly string[] = []): Promise<string> {
  await mkdir(path.dirname(out), { recursive: true });
  await exec(X86.cc, [...COMMON_CFLAGS, ...X86.moduleCflags, ...flags, '-c', src, '-o', out], { cwd });
  return out;
}

/** vmlinux and foo.ko from the sources under `src` (a copy of test/fixtures), linked in the given orders. */
async function kernelBuild(src: string, dir: string, vmlinuxUnits: readonly string[], fooUnits: readonly string[]): Promise<KlpBuild> {
  const o = (u: string) => path.join(dir, 'obj', u.replace(/\.[cS]$/, '.o'));
  const vobjs = [];
  for (const u of vmlinuxUnits) vobjs.push(await exec(X86.cc, [...COMMON_CFLAGS, ...X86.vmlinuxCflags, '-c', u, '-o', await mkdirFor(o(u))], { cwd: src }).then(() => o(u)));
  const vmlinux = path.join(dir, 'vmlinux');
  await exec(X86.cc, ['-nostdlib', '-static', ...X86.linkFlags, '-Wl,-e,start', '-Wl,--build-id=sha1', '-o', vmlinux, ...vobjs], { cwd: src });
  const fobjs = [];
  for (const u of fooUnits) fobjs.push(await cc(u, o(u), src));
  const modObj = await cc('drivers/foo/foo.mod.c', o('drivers/foo/foo.mod.c'), src);
  const combined = path.join(dir, 'obj', 'foo.o');
  await exec(X86.ld, [...X86.ldEmulation, '-r', '-o', combined, ...fobjs], { cwd: src });
  const foo = path.join(dir, 'kernel', 'drivers', 'foo', 'foo.ko');
  await mkdir(path.dirname(foo), { recursive: true });
  await exec(X86.ld, [...X86.ldEmulation, '-r', '--build-id=sha1', '-T', 'scripts/module.lds', '-o', foo, combined, modObj], { cwd: src });
  const db = `${dir}.db`;
  const r = await ksymtree(['index', vmlinux, foo, '--db', db, '--quiet', '--jobs', '1']);
  if (r.status !== 0) throw new Error(`ksymtree index ${dir} exited ${r.status}: ${r.stderr}`);
  return { dir, db, vmlinux, foo };
}

async function mkdirFor(file: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  return file;
}

export async function buildKlpFixtures(): Promise<KlpFixtures> {
  const work = mkdtempSync(path.join(tmpdir(), 'ksymtree-klp-'));
  const src = (variant: string) => {
    const dir = path.join(work, `src-${variant}`);
    cpSync(FIXTURE_SOURCES, dir, { recursive: true });
    return dir;
  };
  const srcA = src('A');
  const srcC = src('C');
  const main = path.join(srcC, 'drivers/foo/foo_main.c');
  writeFileSync(main, `/* moved */\n/* down */\n${readFileSync(main, 'latin1')}`);
  renameSync(path.join(srcC, 'drivers/foo/foo_util.c'), path.join(srcC, 'drivers/foo/foo_helpers.c'));
  const A = await kernelBuild(srcA, path.join(work, 'A'), ['init/head.c', 'init/main.c', 'kernel/sched.c', 'kernel/irq.c'],
    ['drivers/foo/foo_main.c', 'drivers/foo/foo_util.c']);
  const B = await kernelBuild(srcA, path.join(work, 'B'), ['init/head.c', 'init/main.c', 'kernel/irq.c', 'kernel/sched.c'],
    ['drivers/foo/foo_util.c', 'drivers/foo/foo_main.c']);
  const C = await kernelBuild(srcC, path.join(work, 'C'), ['init/head.c', 'init/main.c', 'kernel/sched.c', 'kernel/irq.c'],
    ['drivers/foo/foo_main.c', 'drivers/foo/foo_helpers.c']);
  const klp = path.join(srcA, 'klp');
  const sample = await cc('livepatch-sample.c', path.join(work, 'sample.o'), klp);
  const structBad = await cc('livepatch-bad.c', path.join(work, 'struct-bad.o'), klp);
  const klpSym = await cc('klp-sym.S', path.join(work, 'klp-sym.o'), klp);
  const klpSymBad = await cc('klp-sym-bad.S', path.join(work, 'klp-sym-bad.o'), klp);
  markLivepatch(klpSym);
  markLivepatch(klpSymBad);
  const klpBuild = await cc('klp-build-sample.c', path.join(work, 'klp-build.o'), klp);
  const klpBuildInit = await cc('klp-build-sample.c', path.join(work, 'klp-build-init.o'), klp, ['-DNEW_SECTIONS']);
  const klpBuildBad = await cc('klp-build-sample.c', path.join(work, 'klp-build-bad.o'), klp, ['-DBAD_NR_FUNCS']);
  const kpatch = await cc('kpatch-sample.c', path.join(work, 'kpatch.o'), klp);
  const kpatchBad = await cc('kpatch-sample.c', path.join(work, 'kpatch-bad.o'), klp, ['-DBAD_ENTRY']);
  const kpatchLinked = path.join(work, 'kpatch-linked.ko');
  await exec(X86.ld, [...X86.ldEmulation, '-r', '-T', 'scripts/module.lds', '-o', kpatchLinked, kpatch, kpatch], { cwd: srcA });
  return { builds: { A, B, C }, sample, klpSym, klpSymBad, structBad, klpBuild, klpBuildInit, klpBuildBad, kpatch, kpatchBad, kpatchLinked, work };
}
