/**
 * Builds the test fixtures from the C sources in test/fixtures/ with gcc and binutils: a small linked
 * "vmlinux" and ld -r "modules" per architecture, compressed and signed copies, a kernel-like tree with
 * installed (debug-stripped) and debug copies, and deliberately broken inputs.
 *
 * Output is cached in test/.fixtures/kernel-<hash>/ (./fixture-cache.ts), keyed by a hash of the sources,
 * this builder and the toolchains found, so only the first run pays for the build. Test files call
 * `buildFixtures()` at top level (ESM top-level await); concurrent ava workers and processes share one build.
 *
 * Layout of test/.fixtures/kernel-<hash>/ (all paths in the returned `Fixtures` are absolute):
 *   objects/<arch>/<variant>/{vmlinux,foo.ko,bar.ko,baz-qux.ko,...}   one entry of `objects` each
 *     variant `plain`: as linked; x86_64 also foo.ko.gz/.xz/.zst, s390x foo.ko.xz, i386 foo.ko.zst,
 *       aarch64 foo.ko.gz
 *     variant `signed`: foo.ko with a sign-file style signature appended (x86_64 also foo.ko.xz of it)
 *     variant `dwarf4` (x86_64): vmlinux and foo.ko built with -gdwarf-4
 *   tree/vmlinux, tree/kernel/drivers/foo/{foo.ko,bar.ko.xz,baz-qux.ko.zst}, tree/modules.order (x86_64)
 *   installed/kernel/drivers/foo/... the same modules after `strip --strip-debug` (also in `objects`,
 *     variant `installed`), installed/modules.order
 *   debug/vmlinux, debug/kernel/drivers/foo/{foo.ko,bar.ko,baz-qux.ko}: full DWARF, same build-ids
 *   bad/...: broken inputs (see `BadInput`); bad/cycle-tree/: a tree whose symlink points to a parent
 *
 * Builds for an architecture whose compiler is missing are left out and recorded in `archs`; tests
 * decide whether that is a failure (see `archTest` in ./arch-test.ts).
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';
import { type ExecResult, Limiter, exec } from './exec.js';
import { cachedBuild } from './fixture-cache.js';
import { repoPath } from './repo.js';
import { ARCHES, type Arch, TOOLCHAINS, type Toolchain } from './toolchains.js';

export type Compression = 'none' | 'gzip' | 'xz' | 'zstd';
export type ModuleName = 'foo' | 'bar' | 'baz-qux';

export const COMMON_CFLAGS = [
  '-O2', '-g', '-ffreestanding', '-fno-common', '-fno-stack-protector', '-fno-asynchronous-unwind-tables',
  '-fno-unwind-tables', '-Wall', '-Iinclude',
];

/** Sources of each object, relative to test/fixtures (compiled from there, so DWARF names look like a kernel's). */
export const VMLINUX_UNITS = ['init/head.c', 'init/main.c', 'kernel/sched.c', 'kernel/irq.c'];
export const MODULE_UNITS: Readonly<Record<ModuleName, { units: readonly string[]; modc: string }>> = {
  foo: { units: ['drivers/foo/foo_main.c', 'drivers/foo/foo_util.c'], modc: 'drivers/foo/foo.mod.c' },
  bar: { units: ['drivers/bar/bar.c'], modc: 'drivers/bar/bar.mod.c' },
  'baz-qux': { units: ['drivers/baz/baz-qux.c'], modc: 'drivers/baz/baz-qux.mod.c' },
};

/** What the fixture sources put into each module's .modinfo (null: no such key). */
export const MODINFO: Readonly<Record<ModuleName, { name: string | null; vermagic: string; depends: string | null }>> = {
  foo: { name: 'foo', vermagic: '6.1.0-ksymtree SMP preempt mod_unload modversions ', depends: 'bar' },
  bar: { name: 'bar', vermagic: '6.1.0-ksymtree SMP preempt mod_unload modversions ', depends: '' },
  'baz-qux': { name: null, vermagic: '6.1.0-ksymtree SMP preempt mod_unload modversions ', depends: null },
};

export interface FixtureObject {
  /** Stable id, e.g. `x86_64/plain/foo.ko.xz`, usable in test titles. */
  readonly id: string;
  readonly path: string;
  readonly arch: Arch;
  readonly variant: 'plain' | 'signed' | 'dwarf4' | 'installed';
  readonly kind: 'vmlinux' | 'module';
  readonly module: ModuleName | null;
  readonly compression: Compression;
  readonly signed: boolean;
  /** Whether .debug_* sections were kept (false after strip --strip-debug). */
  readonly debugInfo: boolean;
  readonly dwarfVersion: 4 | 5;
  /** False when the architecture's compiler is missing: the file does not exist. */
  readonly available: boolean;
  readonly toolchain: Toolchain;
}

export type BadKind =
  | 'empty' | 'not-elf' | 'truncated-header' | 'shoff-past-end' | 'symtab-link-not-strtab' | 'symbol-name-past-strtab'
  | 'corrupt-gzip' | 'corrupt-xz' | 'corrupt-zstd' | 'truncated-xz' | 'signature-length' | 'no-symtab';

export interface BadInput {
  readonly id: string;
  readonly kind: BadKind;
  readonly path: string;
  readonly arch: Arch;
  readonly available: boolean;
  /** The good object this one was derived from (same arch), when there is one. */
  readonly source: string | null;
  /** Facts about the damage, computed from the ELF structure while patching it. */
  readonly facts: BadFacts;
}

export interface BadFacts {
  readonly fileSize?: number;
  /** The e_shoff written into the header. */
  readonly shoff?: number;
  /** File offset of the patched section header and of its patched field. */
  readonly sectionHeaderOffset?: number;
  readonly fieldOffset?: number;
  readonly sectionIndex?: number;
  /** Index of the symbol whose st_name now points past the string table, and the table's size. */
  readonly symbolIndex?: number;
  readonly symbolCount?: number;
  readonly strtabOffset?: number;
  readonly strtabSize?: number;
  readonly badNameOffset?: number;
  readonly signatureLength?: number;
}

export interface ArchStatus {
  readonly available: boolean;
  /** Why the architecture could not be built, with how to fix it. */
  readonly reason: string | null;
  readonly version: string | null;
}

export interface Fixtures {
  readonly root: string;
  readonly hash: string;
  readonly archs: Readonly<Record<Arch, ArchStatus>>;
  readonly objects: readonly FixtureObject[];
  /** x86_64 build tree with full DWARF. */
  readonly tree: { readonly root: string; readonly vmlinux: string; readonly modules: readonly string[] };
  /** The tree's modules after strip --strip-debug (same names and compression), no vmlinux. */
  readonly installed: { readonly root: string; readonly modules: readonly string[] };
  /** Uncompressed copies with full DWARF, same build-ids as `installed`. */
  readonly debug: { readonly root: string; readonly vmlinux: string; readonly modules: readonly string[] };
  readonly bad: readonly BadInput[];
  /** A tree with a directory symlink cycle: cycleTree/kernel/drivers/foo/loop -> .. */
  readonly cycleTree: string;
  readonly fixtureSources: string;
}

/* ------------------------------------------------------------------------------------------------ */

export const FIXTURE_SOURCES = repoPath('test', 'fixtures');

/* ---------------------------------------- toolchain probing ---------------------------------------- */

/** A tool on PATH, without spawning anything. */
function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      return dir !== '' && statSync(path.join(dir, tool)).isFile();
    } catch {
      return false;
    }
  });
}

/** Cheap check for the cache key: are the tools there, and which compiler version is it. */
async function quickProbe(tc: Toolchain): Promise<ArchStatus> {
  const absent = [tc.cc, tc.ld, tc.nm, tc.strip].filter((tool) => !onPath(tool));
  if (absent.length > 0) {
    return { available: false, version: null, reason: `${tc.arch} fixtures cannot be built: ${absent.join(', ')} not found on PATH (${tc.install})` };
  }
  try {
    return { available: true, version: (await exec(tc.cc, ['--version'])).stdout.split('\n')[0], reason: null };
  } catch (e) {
    return { available: false, version: null, reason: `${tc.arch} fixtures cannot be built: ${(e as Error).message.split('\n')[0]} (${tc.install})` };
  }
}

/** A compiler can exist and still lack the target (gcc -m32 without multilib support): try it. */
async function compileProbe(tc: Toolchain, quick: ArchStatus): Promise<ArchStatus> {
  if (!quick.available) return quick;
  const scratch = await fs.mkdtemp(path.join(tmpdir(), `ksymtree-probe-${tc.arch}-`));
  const src = path.join(scratch, 'probe.c');
  try {
    await fs.writeFile(src, 'int probe(int x) { return x + 1; }\n');
    await exec(tc.cc, [...tc.moduleCflags, '-c', src, '-o', `${src}.o`]);
    await exec(tc.ld, [...tc.ldEmulation, '-r', '-o', `${src}.r.o`, `${src}.o`]);
    return quick;
  } catch (e) {
    return { available: false, version: quick.version, reason: `${tc.arch} fixtures cannot be built: ${(e as Error).message.trim()} (${tc.install})` };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/* ------------------------------------------ the build plan ------------------------------------------ */

interface Plan {
  objects: FixtureObject[];
  bad: BadInput[];
}

const rel = (...parts: string[]) => parts.join('/');

function plan(archs: Record<Arch, ArchStatus>): Plan {
  const objects: FixtureObject[] = [];
  const add = (arch: Arch, variant: FixtureObject['variant'], file: string, extra: Partial<FixtureObject> = {}) => {
    const compression: Compression = file.endsWith('.gz') ? 'gzip' : file.endsWith('.xz') ? 'xz' : file.endsWith('.zst') ? 'zstd' : 'none';
    const base = file.replace(/\.(gz|xz|zst)$/, '');
    const module = base === 'vmlinux' ? null : (base.replace(/\.ko$/, '') as ModuleName);
    const p = variant === 'installed' ? rel('installed', 'kernel', 'drivers', 'foo', file) : rel('objects', arch, variant, file);
    objects.push({
      id: variant === 'installed' ? rel(arch, 'installed', file) : rel(arch, variant, file),
      path: p, arch, variant, kind: module ? 'module' : 'vmlinux', module, compression,
      signed: variant === 'signed', debugInfo: variant !== 'installed', dwarfVersion: variant === 'dwarf4' ? 4 : 5,
      available: archs[arch].available, toolchain: TOOLCHAINS[arch], ...extra,
    });
  };
  for (const arch of ARCHES) {
    for (const f of ['vmlinux', 'foo.ko', 'bar.ko', 'baz-qux.ko']) add(arch, 'plain', f);
    add(arch, 'signed', 'foo.ko');
  }
  for (const f of ['foo.ko.gz', 'foo.ko.xz', 'foo.ko.zst']) add('x86_64', 'plain', f);
  add('x86_64', 'signed', 'foo.ko.xz');
  add('s390x', 'plain', 'foo.ko.xz');
  add('i386', 'plain', 'foo.ko.zst');
  add('aarch64', 'plain', 'foo.ko.gz');
  add('x86_64', 'dwarf4', 'vmlinux');
  add('x86_64', 'dwarf4', 'foo.ko');
  for (const f of TREE_MODULES) add('x86_64', 'installed', f);

  const bad: BadInput[] = [];
  const addBad = (arch: Arch, kind: BadKind, file: string, source: string | null) =>
    bad.push({ id: rel(arch, kind), kind, path: rel('bad', arch, file), arch, available: archs[arch].available, source, facts: {} });
  addBad('x86_64', 'empty', 'empty.ko', null);
  addBad('x86_64', 'not-elf', 'not-elf.ko', null);
  addBad('x86_64', 'corrupt-gzip', 'corrupt.ko.gz', null);
  addBad('x86_64', 'corrupt-xz', 'corrupt.ko.xz', null);
  addBad('x86_64', 'corrupt-zstd', 'corrupt.ko.zst', null);
  addBad('x86_64', 'truncated-xz', 'truncated.ko.xz', rel('objects', 'x86_64', 'plain', 'foo.ko'));
  addBad('x86_64', 'signature-length', 'bad-signature.ko', rel('objects', 'x86_64', 'plain', 'foo.ko'));
  addBad('x86_64', 'no-symtab', 'vmlinux-stripped', rel('objects', 'x86_64', 'plain', 'vmlinux'));
  // ELF damage on every class and byte order.
  for (const arch of ARCHES) {
    const foo = rel('objects', arch, 'plain', 'foo.ko');
    addBad(arch, 'truncated-header', 'truncated-header.ko', foo);
    addBad(arch, 'shoff-past-end', 'shoff-past-end.ko', foo);
    addBad(arch, 'symtab-link-not-strtab', 'symtab-link.ko', foo);
    addBad(arch, 'symbol-name-past-strtab', 'symbol-name.ko', foo);
  }
  return { objects, bad };
}

/** Modules of the x86_64 tree, in modules.order order, with the compression each one gets there. */
const TREE_MODULES = ['foo.ko', 'bar.ko.xz', 'baz-qux.ko.zst'];

/* ------------------------------------------ building ------------------------------------------ */

class Builder {
  private limit = new Limiter(Math.max(1, Math.min(2, availableParallelism())));
  constructor(private readonly out: string) {}

  private abs(...parts: string[]): string {
    return path.join(this.out, ...parts);
  }

  private tool(cmd: string, args: readonly string[], cwd = FIXTURE_SOURCES): Promise<ExecResult> {
    return this.limit.run(() => exec(cmd, args, { cwd }));
  }

  private async compile(tc: Toolchain, flags: readonly string[], src: string, obj: string): Promise<string> {
    await fs.mkdir(path.dirname(obj), { recursive: true });
    await this.tool(tc.cc, [...COMMON_CFLAGS, ...flags, '-c', src, '-o', obj]);
    return obj;
  }

  async vmlinux(tc: Toolchain, dir: string, extra: readonly string[] = []): Promise<string> {
    const objs = await Promise.all(VMLINUX_UNITS.map((u) =>
      this.compile(tc, [...tc.vmlinuxCflags, ...extra], u, this.abs('build', dir, u.replace(/\.c$/, '.o')))));
    const out = this.abs('build', dir, 'vmlinux');
    await this.tool(tc.cc, ['-nostdlib', '-static', ...tc.linkFlags, '-Wl,-e,start', '-Wl,--build-id=sha1', '-o', out, ...objs]);
    return out;
  }

  /** Like kbuild: ld -r the units into NAME.o, then ld -r NAME.o NAME.mod.o with module.lds and a build-id. */
  async module(tc: Toolchain, dir: string, name: ModuleName, extra: readonly string[] = []): Promise<string> {
    const { units, modc } = MODULE_UNITS[name];
    const flags = [...tc.moduleCflags, ...extra];
    const objs = await Promise.all(units.map((u) => this.compile(tc, flags, u, this.abs('build', dir, u.replace(/\.c$/, '.o')))));
    const modObj = await this.compile(tc, flags, modc, this.abs('build', dir, modc.replace(/\.c$/, '.o')));
    // A one-file module's object is its unit's object; several units are combined first (kbuild's NAME-y).
    let combined = objs[0];
    if (objs.length > 1) {
      combined = this.abs('build', dir, path.dirname(units[0]), `${name}.o`);
      await this.tool(tc.ld, [...tc.ldEmulation, '-r', '-o', combined, ...objs]);
    }
    const ko = this.abs('build', dir, path.dirname(units[0]), `${name}.ko`);
    await this.tool(tc.ld, [...tc.ldEmulation, '-r', '--build-id=sha1', '-T', 'scripts/module.lds', '-o', ko, combined, modObj]);
    return ko;
  }

  async compress(file: string, kind: Exclude<Compression, 'none'>): Promise<string> {
    // The kernel's own settings (scripts/Makefile.modinst): xz with CRC32 and a 1 MiB dictionary.
    switch (kind) {
      case 'gzip':
        await this.tool('gzip', ['-n', '-9', '-f', '-k', file]);
        return `${file}.gz`;
      case 'xz':
        await this.tool('xz', ['--check=crc32', '--lzma2=dict=1MiB', '-T1', '-f', '-k', file]);
        return `${file}.xz`;
      case 'zstd':
        await this.tool('zstd', ['-q', '-f', '-k', '-T1', file, '-o', `${file}.zst`]);
        return `${file}.zst`;
    }
  }

  async place(from: string, ...to: string[]): Promise<string> {
    const dest = this.abs(...to);
    await fs.mkdir(path.dirname(dest), { recursive: true });
    await fs.copyFile(from, dest);
    return dest;
  }
}

/** scripts/sign-file: signature, struct module_signature (12 bytes, big-endian sig_len last), marker. */
export const MODULE_SIG_MARKER = '~Module signature appended~\n';
const PKEY_ID_PKCS7 = 2;

export function appendSignature(elf: Buffer, signature: Buffer): Buffer {
  const info = Buffer.alloc(12);
  info[0] = 0; // algo: unspecified for PKCS#7
  info[1] = 0; // hash
  info[2] = PKEY_ID_PKCS7;
  // signer_len, key_id_len and __pad[3] stay 0
  info.writeUInt32BE(signature.length, 8);
  return Buffer.concat([elf, signature, info, Buffer.from(MODULE_SIG_MARKER, 'latin1')]);
}

/** A deterministic stand-in for a PKCS#7 DER blob (starts like one: SEQUENCE, long length). */
function fakeSignature(seed: string, length = 0x2b5): Buffer {
  const out = Buffer.alloc(length);
  let block = Buffer.from(seed);
  for (let at = 0; at < length; at += 32) {
    block = createHash('sha256').update(block).digest();
    block.copy(out, at);
  }
  out[0] = 0x30;
  out[1] = 0x82;
  out.writeUInt16BE(length - 4, 2);
  return out;
}

/* ------------------------------ minimal ELF reading for patching ------------------------------ */

interface MiniSection {
  index: number;
  name: string;
  /** sh_name: offset of the name in the section-name table. */
  nameOff: number;
  type: number;
  offset: number;
  size: number;
  link: number;
  headerOffset: number;
}

interface MiniElf {
  is64: boolean;
  little: boolean;
  shoff: number;
  shentsize: number;
  sections: MiniSection[];
}

function u16(b: Buffer, at: number, little: boolean): number {
  return little ? b.readUInt16LE(at) : b.readUInt16BE(at);
}
function u32(b: Buffer, at: number, little: boolean): number {
  return little ? b.readUInt32LE(at) : b.readUInt32BE(at);
}
function word(b: Buffer, at: number, e: { is64: boolean; little: boolean }): number {
  if (!e.is64) return u32(b, at, e.little);
  return Number(e.little ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at));
}
function putWord(b: Buffer, at: number, value: number, e: { is64: boolean; little: boolean }): void {
  if (e.is64) {
    if (e.little) b.writeBigUInt64LE(BigInt(value), at);
    else b.writeBigUInt64BE(BigInt(value), at);
  } else if (e.little) b.writeUInt32LE(value, at);
  else b.writeUInt32BE(value, at);
}
function putU32(b: Buffer, at: number, value: number, little: boolean): void {
  if (little) b.writeUInt32LE(value, at);
  else b.writeUInt32BE(value, at);
}

/** Reads just enough of a well-formed ELF (our own fixtures) to patch it: header and section headers. */
export function miniElf(b: Buffer): MiniElf {
  if (b.readUInt32BE(0) !== 0x7f454c46) throw new Error('miniElf: not an ELF file');
  const is64 = b[4] === 2;
  const little = b[5] === 1;
  const e = { is64, little };
  const shoff = word(b, is64 ? 40 : 32, e);
  const shentsize = u16(b, is64 ? 58 : 46, little);
  const shnum = u16(b, is64 ? 60 : 48, little);
  const shstrndx = u16(b, is64 ? 62 : 50, little);
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize;
    raw.push({
      index: i, nameOff: u32(b, h, little), type: u32(b, h + 4, little),
      offset: word(b, h + (is64 ? 24 : 16), e), size: word(b, h + (is64 ? 32 : 20), e),
      link: u32(b, h + (is64 ? 40 : 24), little), headerOffset: h,
    });
  }
  const names = raw[shstrndx];
  const sections = raw.map((s) => {
    const start = names.offset + s.nameOff;
    return { ...s, name: b.toString('latin1', start, b.indexOf(0, start)) };
  });
  return { is64, little, shoff, shentsize, sections };
}

export function symtabOf(elf: MiniElf): { symtab: MiniSection; strtab: MiniSection; entsize: number } {
  const symtab = elf.sections.find((s) => s.type === 2);
  if (!symtab) throw new Error('miniElf: no .symtab');
  return { symtab, strtab: elf.sections[symtab.link], entsize: elf.is64 ? 24 : 16 };
}

export function symbolName(b: Buffer, elf: MiniElf, i: number): string {
  const { symtab, strtab, entsize } = symtabOf(elf);
  const at = strtab.offset + u32(b, symtab.offset + i * entsize, elf.little);
  return b.toString('latin1', at, b.indexOf(0, at));
}

/* ------------------------------------------ bad inputs ------------------------------------------ */

async function makeBad(out: string, bad: BadInput): Promise<BadInput> {
  const dest = path.join(out, bad.path);
  await fs.mkdir(path.dirname(dest), { recursive: true });
  const source = bad.source ? await fs.readFile(path.join(out, bad.source)) : Buffer.alloc(0);
  let bytes: Buffer;
  let facts: BadFacts = {};
  switch (bad.kind) {
    case 'empty':
      bytes = Buffer.alloc(0);
      break;
    case 'not-elf':
      bytes = Buffer.from('#!/bin/sh\n# not a kernel module, although its name ends in .ko\nexit 0\n');
      break;
    case 'corrupt-gzip':
      // A valid gzip member header (deflate, no flags), then bytes that are not a deflate stream.
      bytes = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]), Buffer.alloc(64, 0xff)]);
      break;
    case 'corrupt-xz':
      // xz stream header magic, then garbage where the stream flags and CRC32 belong.
      bytes = Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.from('garbage after the xz magic'.repeat(4))]);
      break;
    case 'corrupt-zstd':
      bytes = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.from('garbage after the zstd magic'.repeat(4))]);
      break;
    case 'truncated-xz': {
      const tmp = `${dest}.src`;
      await fs.writeFile(tmp, source);
      await exec('xz', ['--check=crc32', '--lzma2=dict=1MiB', '-T1', '-f', tmp]);
      const full = await fs.readFile(`${tmp}.xz`);
      await fs.rm(`${tmp}.xz`);
      bytes = full.subarray(0, Math.floor(full.length / 2));
      facts = { fileSize: bytes.length };
      break;
    }
    case 'signature-length': {
      // Marker and module_signature present, but sig_len claims more bytes than the file has.
      const info = Buffer.alloc(12);
      info[2] = PKEY_ID_PKCS7;
      info.writeUInt32BE(0x7fff0000, 8);
      bytes = Buffer.concat([source, info, Buffer.from(MODULE_SIG_MARKER, 'latin1')]);
      facts = { fileSize: bytes.length, signatureLength: 0x7fff0000 };
      break;
    }
    case 'no-symtab': {
      await exec(TOOLCHAINS[bad.arch].strip, ['--strip-all', '-o', dest, path.join(out, bad.source!)]);
      bytes = await fs.readFile(dest);
      break;
    }
    case 'truncated-header': {
      // The identification is intact but the file ends inside the ELF header.
      const elf = miniElf(source);
      const length = elf.is64 ? 40 : 30;
      bytes = Buffer.from(source.subarray(0, length));
      facts = { fileSize: length };
      break;
    }
    case 'shoff-past-end': {
      bytes = Buffer.from(source);
      const elf = miniElf(bytes);
      const shoff = bytes.length + 0x1000;
      putWord(bytes, elf.is64 ? 40 : 32, shoff, elf);
      facts = { fileSize: bytes.length, shoff, fieldOffset: elf.is64 ? 40 : 32 };
      break;
    }
    case 'symtab-link-not-strtab': {
      bytes = Buffer.from(source);
      const elf = miniElf(bytes);
      const { symtab } = symtabOf(elf);
      const text = elf.sections.find((s) => s.name === '.text')!;
      const fieldOffset = symtab.headerOffset + (elf.is64 ? 40 : 24);
      putU32(bytes, fieldOffset, text.index, elf.little);
      facts = { sectionHeaderOffset: symtab.headerOffset, fieldOffset, sectionIndex: text.index };
      break;
    }
    case 'symbol-name-past-strtab': {
      bytes = Buffer.from(source);
      const elf = miniElf(bytes);
      const { symtab, strtab, entsize } = symtabOf(elf);
      const count = symtab.size / entsize;
      let target = -1;
      for (let i = 1; i < count; i++) if (symbolName(bytes, elf, i) === 'foo_internal') target = i;
      if (target < 0) throw new Error('build-fixtures: foo_internal not found in foo.ko');
      const badNameOffset = strtab.size + 0x100;
      const fieldOffset = symtab.offset + target * entsize;
      putU32(bytes, fieldOffset, badNameOffset, elf.little);
      facts = {
        symbolIndex: target, symbolCount: count, fieldOffset, strtabOffset: strtab.offset, strtabSize: strtab.size,
        badNameOffset, sectionIndex: symtab.index,
      };
      break;
    }
  }
  if (bad.kind !== 'no-symtab') await fs.writeFile(dest, bytes);
  return { ...bad, facts };
}

/* ------------------------------------------ orchestration ------------------------------------------ */

async function buildInto(out: string, archs: Record<Arch, ArchStatus>): Promise<Plan> {
  const b = new Builder(out);
  const p = plan(archs);
  const objPath = (o: FixtureObject) => path.join(out, o.path);

  const perArch = ARCHES.filter((a) => archs[a].available).map(async (arch) => {
    const tc = TOOLCHAINS[arch];
    const [vmlinux, ...modules] = await Promise.all([
      b.vmlinux(tc, arch),
      ...(['foo', 'bar', 'baz-qux'] as const).map((m) => b.module(tc, arch, m)),
    ]);
    const plainDir = ['objects', arch, 'plain'];
    await b.place(vmlinux, ...plainDir, 'vmlinux');
    const [foo] = await Promise.all(modules.map((m) => b.place(m, ...plainDir, path.basename(m))));
    const signed = path.join(out, 'objects', arch, 'signed', 'foo.ko');
    await fs.mkdir(path.dirname(signed), { recursive: true });
    await fs.writeFile(signed, appendSignature(await fs.readFile(foo), fakeSignature(`${arch}/foo.ko`)));
    // Compressed copies listed in the plan for this arch.
    await Promise.all(p.objects.filter((o) => o.arch === arch && o.compression !== 'none' && o.variant !== 'installed').map(async (o) => {
      const plain = objPath(o).replace(/\.(gz|xz|zst)$/, '');
      const made = await b.compress(plain, o.compression as Exclude<Compression, 'none'>);
      if (made !== objPath(o)) throw new Error(`build-fixtures: ${made} is not ${objPath(o)}`);
    }));
    if (arch === 'x86_64') await x86Extras(b, out, tc, vmlinux, modules);
  });
  await Promise.all(perArch);

  const bad = await Promise.all(p.bad.filter((x) => x.available).map((x) => makeBad(out, x)));
  p.bad = p.bad.map((x) => bad.find((y) => y.id === x.id) ?? x);
  // A directory named like a module, and a tree with a symlink cycle.
  await fs.mkdir(path.join(out, 'bad', 'x86_64', 'directory.ko'), { recursive: true });
  const cycle = path.join(out, 'bad', 'cycle-tree', 'kernel', 'drivers', 'foo');
  await fs.mkdir(cycle, { recursive: true });
  if (archs.x86_64.available) await fs.copyFile(path.join(out, 'objects', 'x86_64', 'plain', 'foo.ko'), path.join(cycle, 'foo.ko'));
  await fs.symlink('..', path.join(cycle, 'loop'));
  return p;
}

async function x86Extras(b: Builder, out: string, tc: Toolchain, vmlinux: string, modules: string[]): Promise<void> {
  // DWARF 4 variant.
  const [v4, foo4] = await Promise.all([b.vmlinux(tc, 'x86_64-dwarf4', ['-gdwarf-4']), b.module(tc, 'x86_64-dwarf4', 'foo', ['-gdwarf-4'])]);
  await b.place(v4, 'objects', 'x86_64', 'dwarf4', 'vmlinux');
  await b.place(foo4, 'objects', 'x86_64', 'dwarf4', 'foo.ko');

  // Build tree (full DWARF), debug tree (uncompressed full DWARF), installed tree (strip --strip-debug).
  const drivers = ['kernel', 'drivers', 'foo'];
  await b.place(vmlinux, 'tree', 'vmlinux');
  await b.place(vmlinux, 'debug', 'vmlinux');
  const order: string[] = [];
  await Promise.all(TREE_MODULES.map(async (file) => {
    const base = file.replace(/\.(gz|xz|zst)$/, '');
    const built = modules.find((m) => path.basename(m) === base)!;
    const kind: Compression = file.endsWith('.xz') ? 'xz' : file.endsWith('.zst') ? 'zstd' : file.endsWith('.gz') ? 'gzip' : 'none';
    await b.place(built, 'debug', ...drivers, base);
    const inTree = await b.place(built, 'tree', ...drivers, base);
    const installed = path.join(out, 'installed', ...drivers, base);
    await fs.mkdir(path.dirname(installed), { recursive: true });
    await exec(tc.strip, ['--strip-debug', '-o', installed, built]);
    if (kind !== 'none') {
      await b.compress(inTree, kind);
      await b.compress(installed, kind);
      await fs.rm(inTree);
      await fs.rm(installed);
    }
  }));
  for (const file of TREE_MODULES) order.push(rel(...drivers, file.replace(/\.(gz|xz|zst)$/, '')));
  await fs.writeFile(path.join(out, 'tree', 'modules.order'), `${order.join('\n')}\n`);
  await fs.writeFile(path.join(out, 'installed', 'modules.order'), `${order.join('\n')}\n`);
}

/* ------------------------------------------ the cache ------------------------------------------ */

/** What the cache keeps: the probed architectures and the plan as built, paths relative to the build. */
interface Manifest {
  archs: Record<Arch, ArchStatus>;
  objects: FixtureObject[];
  bad: BadInput[];
}

function resolveManifest(root: string, hash: string, m: Manifest): Fixtures {
  const abs = (p: string) => path.join(root, p);
  const treeModules = TREE_MODULES.map((f) => abs(rel('tree', 'kernel', 'drivers', 'foo', f)));
  return {
    root,
    hash,
    archs: m.archs,
    objects: m.objects.map((o) => ({ ...o, path: abs(o.path), toolchain: TOOLCHAINS[o.arch] })),
    tree: { root: abs('tree'), vmlinux: abs('tree/vmlinux'), modules: treeModules },
    installed: { root: abs('installed'), modules: TREE_MODULES.map((f) => abs(rel('installed', 'kernel', 'drivers', 'foo', f))) },
    debug: {
      root: abs('debug'), vmlinux: abs('debug/vmlinux'),
      modules: TREE_MODULES.map((f) => abs(rel('debug', 'kernel', 'drivers', 'foo', f.replace(/\.(gz|xz|zst)$/, '')))),
    },
    bad: m.bad.map((x) => ({ ...x, path: abs(x.path), source: x.source ? abs(x.source) : null })),
    cycleTree: abs('bad/cycle-tree'),
    fixtureSources: FIXTURE_SOURCES,
  };
}

let memo: Promise<Fixtures> | null = null;

/** Builds (or reuses) the fixtures. Rejects only when the host x86_64 toolchain itself is missing or broken. */
export function buildFixtures(): Promise<Fixtures> {
  memo ??= buildOnce();
  return memo;
}

async function buildOnce(): Promise<Fixtures> {
  const quick = await Promise.all(ARCHES.map((a) => quickProbe(TOOLCHAINS[a])));
  const quickArchs = Object.fromEntries(ARCHES.map((a, i) => [a, quick[i]])) as Record<Arch, ArchStatus>;
  const { dir, key, manifest } = await cachedBuild<Manifest>({
    name: 'kernel',
    files: [FIXTURE_SOURCES, repoPath('test', 'helpers', 'build-fixtures.ts'), repoPath('test', 'helpers', 'toolchains.ts')],
    facts: { COMMON_CFLAGS, archs: quickArchs },
    // A cached build that had to leave an architecture out is redone once that architecture works.
    outdated: async (m) => {
      for (const a of ARCHES) {
        if (!m.archs[a].available && quickArchs[a].available && (await compileProbe(TOOLCHAINS[a], quickArchs[a])).available) return true;
      }
      return false;
    },
    build: async (tmp) => {
      const full = await Promise.all(ARCHES.map((a) => compileProbe(TOOLCHAINS[a], quickArchs[a])));
      const archs = Object.fromEntries(ARCHES.map((a, i) => [a, full[i]])) as Record<Arch, ArchStatus>;
      if (!archs.x86_64.available) throw new Error(`build-fixtures: ${archs.x86_64.reason}`);
      const p = await buildInto(tmp, archs);
      return { archs, objects: p.objects, bad: p.bad };
    },
  });
  return resolveManifest(dir, key, manifest);
}
