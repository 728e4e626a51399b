/**
 * Fixtures for `ksymtree apply`, built with gcc/ld from test/fixtures/apply/ and cached in
 * test/.fixtures/apply-<hash>/ (./fixture-cache.ts; hash of the sources, this builder and the tool versions):
 *
 *   <arch>/dupmod.ko            ld -r module with in-object duplicates (x86_64, i386, s390x, aarch64 when
 *                               the compiler is there): static helper/counter/limit/prefix in two units, a
 *                               static and a global dup_shared, a COMDAT group signed by a global symbol
 *   x86_64/dupmod.ko.{gz,xz,zst} compressed as kbuild does (gzip -n, xz --check=crc32 --lzma2=dict=1MiB, zstd -T0)
 *   signed/dupmod.ko, signed/dupmod.ko.xz   signed with scripts/sign-file and a test key, then (xz) compressed
 *   big/big.ko                  65,300+ sections: extended numbering, SHT_SYMTAB_SHNDX, SHN_XINDEX duplicates
 *   keys/signing_key.pem, keys/signing_key.x509   an RSA test key (PEM) and its certificate (DER), as kbuild
 *
 * Tests copy what they change into their own temporary directory; the cache is never written after it is
 * built. Also: an index builder that adds aliases for in-object duplicates when pass 2 left none.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { openDatabase } from '../../src/db/sqlite.js';
import { type CliResult, ksymtree as runCli } from './cli.js';
import { exec } from './exec.js';
import { cachedBuild } from './fixture-cache.js';
import { REPO_ROOT, repoPath } from './repo.js';
import { ARCHES, type Arch, TOOLCHAINS } from './toolchains.js';

const SOURCES = repoPath('test', 'fixtures', 'apply');

const CFLAGS = ['-O2', '-g0', '-fno-pic', '-ffreestanding', '-fno-common', '-fno-stack-protector', '-fno-asynchronous-unwind-tables', '-Wall'];
const UNITS = ['dup_a.c', 'dup_b.c', 'dupmod.mod.c'];

export interface ApplyFixtures {
  readonly dir: string;
  /** dupmod.ko per architecture that could be built; the reason for each that could not. */
  readonly plain: Partial<Record<Arch, string>>;
  readonly missing: Partial<Record<Arch, string>>;
  readonly compressed: { readonly gzip: string; readonly xz: string; readonly zstd: string };
  /** null when sign-file or openssl is missing (reason in `signingMissing`). */
  readonly signed: { readonly ko: string; readonly xz: string; readonly key: string; readonly cert: string; readonly signFile: string } | null;
  readonly signingMissing: string | null;
  readonly big: string;
}

function onPath(tool: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, tool);
    try {
      if (dir && statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** scripts/sign-file: on PATH or from Debian's linux-kbuild-<ver>. */
export function findSignFileForTests(): string | null {
  const onp = onPath('sign-file');
  if (onp) return onp;
  if (!existsSync('/usr/lib')) return null;
  for (const d of readdirSync('/usr/lib').filter((x) => x.startsWith('linux-kbuild-')).sort().reverse()) {
    const p = path.join('/usr/lib', d, 'scripts', 'sign-file');
    if (existsSync(p)) return p;
  }
  return null;
}

async function toolVersion(cmd: string): Promise<string> {
  try {
    return (await exec(cmd, ['--version'])).stdout.split('\n')[0];
  } catch {
    return 'absent';
  }
}

let building: Promise<ApplyFixtures> | null = null;

/** Builds (once per cache key, shared by concurrent test processes) and returns the fixtures. */
export function buildApplyFixtures(): Promise<ApplyFixtures> {
  building ??= build();
  return building;
}

async function build(): Promise<ApplyFixtures> {
  const signFile = findSignFileForTests();
  const tools = ['gcc', 's390x-linux-gnu-gcc', 'aarch64-linux-gnu-gcc', 'ld', 'xz', 'zstd', 'gzip', 'openssl'];
  const versions = await Promise.all(tools.map(toolVersion));
  const { manifest } = await cachedBuild<ApplyFixtures>({
    name: 'apply',
    files: [SOURCES, repoPath('test', 'helpers', 'build-apply-fixtures.ts'), repoPath('test', 'helpers', 'toolchains.ts')],
    facts: { CFLAGS, UNITS, versions, signFile },
    build: (tmp) => buildInto(tmp, signFile),
  });
  return manifest;
}

async function buildModule(arch: Arch, out: string): Promise<string> {
  const tc = TOOLCHAINS[arch];
  const objDir = path.join(out, arch, 'obj');
  await fs.mkdir(objDir, { recursive: true });
  const objects: string[] = [];
  for (const unit of UNITS) {
    const o = path.join(objDir, unit.replace(/\.c$/, '.o'));
    await exec(tc.cc, [...tc.moduleCflags, ...CFLAGS, '-c', unit, '-o', o], { cwd: SOURCES });
    objects.push(o);
  }
  const ko = path.join(out, arch, 'dupmod.ko');
  await exec(tc.ld, [...tc.ldEmulation, '-r', ...objects, '-o', ko]);
  await fs.rm(objDir, { recursive: true });
  return ko;
}

async function buildInto(out: string, signFile: string | null): Promise<ApplyFixtures> {
  const plain: Partial<Record<Arch, string>> = {};
  const missing: Partial<Record<Arch, string>> = {};
  for (const arch of ARCHES) {
    try {
      plain[arch] = await buildModule(arch, out);
    } catch (e) {
      missing[arch] = `${arch}: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  const x86 = plain.x86_64;
  if (!x86) throw new Error(`build-apply-fixtures: the x86_64 fixture is required: ${missing.x86_64}`);
  const elf = await fs.readFile(x86);
  const compressed = {
    gzip: path.join(out, 'x86_64', 'dupmod.ko.gz'),
    xz: path.join(out, 'x86_64', 'dupmod.ko.xz'),
    zstd: path.join(out, 'x86_64', 'dupmod.ko.zst'),
  };
  await fs.writeFile(compressed.gzip, (await exec('gzip', ['-n', '-c'], { input: elf, encoding: 'buffer' })).stdout);
  await fs.writeFile(compressed.xz, (await exec('xz', ['--check=crc32', '--lzma2=dict=1MiB', '-c'], { input: elf, encoding: 'buffer' })).stdout);
  await fs.writeFile(compressed.zstd, (await exec('zstd', ['-T0', '-q', '-c', `--stream-size=${elf.length}`], { input: elf, encoding: 'buffer' })).stdout);

  let signed: ApplyFixtures['signed'] = null;
  let signingMissing: string | null = null;
  if (!signFile) signingMissing = 'scripts/sign-file not found (apt-get install linux-kbuild-6.1)';
  else if (!onPath('openssl')) signingMissing = 'openssl not found (apt-get install openssl)';
  else {
    const keys = path.join(out, 'keys');
    await fs.mkdir(keys);
    const key = path.join(keys, 'signing_key.pem');
    const cert = path.join(keys, 'signing_key.x509');
    const conf = path.join(keys, 'x509.genkey');
    await fs.writeFile(conf, ['[ req ]', 'default_bits = 2048', 'distinguished_name = dn', 'prompt = no', 'x509_extensions = ext',
      '[ dn ]', 'CN = ksymtree apply test key', '[ ext ]', 'basicConstraints=critical,CA:FALSE', 'keyUsage=digitalSignature',
      'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid', ''].join('\n'));
    await exec('openssl', ['req', '-new', '-nodes', '-utf8', '-sha256', '-days', '36500', '-batch', '-x509', '-config', conf,
      '-outform', 'PEM', '-out', key, '-keyout', key]);
    await exec('openssl', ['x509', '-in', key, '-outform', 'DER', '-out', cert]);
    const sdir = path.join(out, 'signed');
    await fs.mkdir(sdir);
    const ko = path.join(sdir, 'dupmod.ko');
    await exec(signFile, ['sha256', key, cert, x86, ko]);
    const xz = path.join(sdir, 'dupmod.ko.xz');
    await fs.writeFile(xz, (await exec('xz', ['--check=crc32', '--lzma2=dict=1MiB', '-c'], { input: await fs.readFile(ko), encoding: 'buffer' })).stdout);
    signed = { ko, xz, key, cert, signFile };
  }

  const big = await buildBig(out);
  return { dir: out, plain, missing, compressed, signed, signingMissing, big };
}

/** 65,300 sections in one unit, then a second unit whose local `dupx` duplicates the first's past SHN_LORESERVE. */
async function buildBig(out: string): Promise<string> {
  const dir = path.join(out, 'big');
  await fs.mkdir(dir);
  const parts: string[] = [];
  for (let i = 0; i < 65300; i++) parts.push(`.section .text.s${i},"ax",@progbits\n.globl g${i}\n.type g${i},@function\ng${i}: ret\n`);
  parts.push('.section .text.dupx_a,"ax",@progbits\n.type dupx,@function\ndupx: call ext_fn\n call g7\n ret\n.size dupx, .-dupx\n');
  await fs.writeFile(path.join(dir, 'a.S'), parts.join(''));
  await fs.writeFile(path.join(dir, 'b.S'), '.section .text.dupx_b,"ax",@progbits\n.type dupx,@function\ndupx: call ext_fn\n call g5\n ret\n.size dupx, .-dupx\n'
    + '.section .data.ptrs,"aw",@progbits\n.quad g65299\n.quad dupx\n');
  await exec('gcc', ['-c', 'a.S', '-o', 'a.o'], { cwd: dir });
  await exec('gcc', ['-c', 'b.S', '-o', 'b.o'], { cwd: dir });
  const ko = path.join(dir, 'big.ko');
  await exec('ld', ['-m', 'elf_x86_64', '-r', 'a.o', 'b.o', '-o', ko], { cwd: dir });
  for (const f of ['a.S', 'b.S', 'a.o', 'b.o']) await fs.rm(path.join(dir, f));
  return ko;
}

/* ------------------------------------------ indexes with aliases ------------------------------------------ */

/**
 * Gives every kallsyms-visible symbol whose name occurs 2+ times in its object an alias `NAME@fixture_<sympos>`
 * (sympos in .symtab order), for objects to which pass 2 gave none; ARM mapping symbols (`$x`, `$d`) get none.
 * Returns how many aliases were added.
 */
export function addFixtureAliases(dbPath: string): number {
  const db = openDatabase(dbPath);
  try {
    const rows = db.prepare(`SELECT s.object_id AS id, s.idx AS idx, s.name AS name FROM symbols s
      WHERE s.ks_letter IS NOT NULL AND s.name != '' AND substr(s.name, 1, 1) != '$'
        AND s.object_id NOT IN (SELECT object_id FROM aliases)
        AND (SELECT count(*) FROM symbols t WHERE t.object_id = s.object_id AND t.name = s.name AND t.ks_letter IS NOT NULL) > 1
      ORDER BY s.object_id, s.idx`).all() as { id: number; idx: number; name: string }[];
    const insert = db.prepare("INSERT INTO aliases (object_id, idx, alias, sympos, stage) VALUES (?, ?, ?, ?, 'sympos')");
    const seen = new Map<string, number>();
    db.transaction(() => {
      for (const r of rows) {
        const key = `${r.id}\0${r.name}`;
        const sympos = (seen.get(key) ?? 0) + 1;
        seen.set(key, sympos);
        insert.run(r.id, r.idx, `${r.name}@fixture_${sympos}`, sympos);
      }
    })();
    return rows.length;
  } finally {
    db.close();
  }
}

/** `ksymtree ...` through bin/ksymtree.js, run from the repository. */
export function ksymtree(args: readonly string[]): Promise<CliResult> {
  return runCli(args, { cwd: REPO_ROOT });
}

/** Indexes `dir` (pass 2 when it works, else --no-aliases) into `db` and adds fixture aliases where needed. */
export async function indexWithAliases(dir: string, db: string): Promise<void> {
  let r = await ksymtree(['index', dir, '--db', db, '-q', '-j', '1']);
  if (r.status !== 0) r = await ksymtree(['index', dir, '--db', db, '-q', '-j', '1', '--no-aliases']);
  if (r.status !== 0) throw new Error(`ksymtree index ${dir} failed (${r.status}): ${r.stderr}`);
  addFixtureAliases(db);
}

export function sha256File(p: string): string {
  return createHash('sha256').update(readFileSync(p)).digest('hex');
}
