/**
 * The expectations of the ELF-level tests come from binutils (readelf, nm) and the compression CLIs run
 * on the fixture objects, never from ksymtree's own code. This module runs them and parses their output.
 */
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type FixtureObject, miniElf } from './build-fixtures.js';
import { type ExecResult, Limiter, exec } from './exec.js';

/** Tests of one file run concurrently; keep the tools they spawn to a few at a time on the shared machine. */
const limiter = new Limiter(3);
const run = (cmd: string, args: readonly string[]): Promise<ExecResult> => limiter.run(() => exec(cmd, args));

/* ------------------------------------------ readelf ------------------------------------------ */

export const READELF = 'readelf';

export interface ReadelfSymbol {
  readonly index: number;
  readonly value: bigint;
  readonly size: number;
  readonly type: string;
  readonly bind: string;
  readonly vis: string;
  /** UND, ABS, COM or a decimal section index, as readelf prints it. */
  readonly ndx: string;
  readonly name: string;
}

/**
 * One `readelf -hSsW` run per file (memoised): header, section table and symbol tables. Spawning is most
 * of the cost of these tests, so the three views share one process.
 */
const readelfCache = new Map<string, Promise<string>>();
function readelfHSs(file: string): Promise<string> {
  let p = readelfCache.get(file);
  if (!p) readelfCache.set(file, (p = run(READELF, ['-hSsW', file]).then((r) => r.stdout)));
  return p;
}

/** `readelf -sW`, the `.symtab` table only (executables may also have `.dynsym`). */
export async function readelfSymbols(file: string): Promise<ReadelfSymbol[]> {
  const stdout = await readelfHSs(file);
  const out: ReadelfSymbol[] = [];
  let inSymtab = false;
  for (const line of stdout.split('\n')) {
    const header = /^Symbol table '([^']*)'/.exec(line);
    if (header) {
      inSymtab = header[1] === '.symtab';
      continue;
    }
    if (!inSymtab) continue;
    const m = /^\s*(\d+):\s+([0-9a-fA-F]+)\s+(0x[0-9a-fA-F]+|\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(?:\[[^\]]*\]\s+)?(\S+)(?: (.*))?$/.exec(line);
    if (!m) continue;
    out.push({
      index: Number(m[1]), value: BigInt(`0x${m[2]}`), size: Number(m[3]), type: m[4], bind: m[5], vis: m[6], ndx: m[7],
      name: m[8] ?? '',
    });
  }
  if (out.length === 0) throw new Error(`readelf -sW ${file}: no .symtab rows parsed`);
  out.forEach((s, i) => {
    if (s.index !== i) throw new Error(`readelf -sW ${file}: row ${i} has index ${s.index}`);
  });
  return out;
}

export interface ReadelfSection {
  readonly index: number;
  readonly name: string;
  readonly type: string;
  readonly addr: bigint;
  readonly offset: number;
  readonly size: number;
  readonly entsize: number;
  /** readelf's flag letters (W A X M S I L O G T C x o E D l p). */
  readonly flags: string;
  readonly link: number;
  readonly info: number;
}

export async function readelfSections(file: string): Promise<ReadelfSection[]> {
  const stdout = await readelfHSs(file);
  const out: ReadelfSection[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s+(.*?)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([A-Za-z]*)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line);
    if (!m) continue;
    out.push({
      index: Number(m[1]), name: m[2], type: m[3], addr: BigInt(`0x${m[4]}`), offset: parseInt(m[5], 16), size: parseInt(m[6], 16),
      entsize: parseInt(m[7], 16), flags: m[8], link: Number(m[9]), info: Number(m[10]),
    });
  }
  if (out.length === 0) throw new Error(`readelf -SW ${file}: no sections parsed`);
  return out;
}

export interface ReadelfHeader {
  readonly cls: string;
  readonly data: string;
  readonly type: string;
  readonly machine: string;
  readonly shnum: number;
}

export async function readelfHeader(file: string): Promise<ReadelfHeader> {
  const stdout = await readelfHSs(file);
  const field = (name: string) => {
    const m = new RegExp(`^\\s*${name}:\\s*(.*?)\\s*$`, 'm').exec(stdout);
    if (!m) throw new Error(`readelf -h ${file}: no ${name}`);
    return m[1];
  };
  return {
    cls: field('Class'), data: field('Data'), type: field('Type'), machine: field('Machine'),
    shnum: Number(field('Number of section headers')),
  };
}

export interface ReadelfReloc {
  readonly offset: number;
  readonly symIndex: number;
  readonly type: string;
  /** Explicit addend (RELA) or null for REL, whose addend is in the section contents. */
  readonly addend: bigint | null;
}

/** `readelf -rW`: relocation sections by name. */
export async function readelfRelocs(file: string, is64: boolean): Promise<Map<string, ReadelfReloc[]>> {
  const { stdout } = await run(READELF, ['-rW', file]);
  const out = new Map<string, ReadelfReloc[]>();
  let current: ReadelfReloc[] | null = null;
  let rela = false;
  for (const line of stdout.split('\n')) {
    const header = /^Relocation section '([^']*)'/.exec(line);
    if (header) {
      current = [];
      rela = header[1].startsWith('.rela');
      out.set(header[1], current);
      continue;
    }
    const m = /^([0-9a-f]+)\s+([0-9a-f]+)\s+(\S+)(?:\s+([0-9a-f]+)\s+(.*?))?\s*$/.exec(line);
    if (!m || !current) continue;
    const info = BigInt(`0x${m[2]}`);
    let addend: bigint | null = null;
    if (rela) {
      const a = /([+-]) ([0-9a-f]+)$/.exec(m[5] ?? '') ?? /^([+-]?)([0-9a-f]+)$/.exec((m[5] ?? '').trim());
      addend = a ? (a[1] === '-' ? -1n : 1n) * BigInt(`0x${a[2]}`) : 0n;
    }
    current.push({ offset: parseInt(m[1], 16), symIndex: Number(is64 ? info >> 32n : info >> 8n), type: m[3], addend });
  }
  return out;
}

/** `readelf -x SECTION`: the section's bytes. */
export async function readelfHexDump(file: string, section: string): Promise<Buffer> {
  const { stdout } = await run(READELF, ['-x', section, file]);
  const bytes: number[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s+0x[0-9a-f]+ ((?:[0-9a-f]{2,8} ){1,4})/.exec(line);
    if (!m) continue;
    for (const group of m[1].trim().split(' ')) for (let i = 0; i < group.length; i += 2) bytes.push(parseInt(group.slice(i, i + 2), 16));
  }
  return Buffer.from(bytes);
}

/** `readelf -p .modinfo` as key → values. */
export async function readelfModinfo(file: string): Promise<Map<string, string[]>> {
  const { stdout } = await run(READELF, ['-p', '.modinfo', file]);
  const out = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const m = /^\s+\[\s*[0-9a-f]+\]\s\s(.*)$/.exec(line);
    if (!m) continue;
    const eq = m[1].indexOf('=');
    if (eq < 0) continue;
    const key = m[1].slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), m[1].slice(eq + 1)]);
  }
  return out;
}

/** `readelf -n`: the GNU build-id, or null. */
export async function readelfBuildId(file: string): Promise<string | null> {
  const { stdout } = await run(READELF, ['-nW', file]);
  return /Build ID: ([0-9a-f]+)/.exec(stdout)?.[1] ?? null;
}

/* -------------------------------------------- nm -------------------------------------------- */

export interface NmSymbol {
  /** null for undefined symbols (nm prints no value). */
  readonly value: bigint | null;
  readonly letter: string;
  readonly name: string;
}

export async function nmSymbols(nm: string, file: string): Promise<NmSymbol[]> {
  const { stdout } = await run(nm, [file]);
  const out: NmSymbol[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const m = /^([0-9a-f]*)\s+(\S) (.*)$/.exec(line);
    if (!m) throw new Error(`${nm} ${file}: cannot parse line ${JSON.stringify(line)}`);
    out.push({ value: m[1] === '' ? null : BigInt(`0x${m[1]}`), letter: m[2], name: m[3] });
  }
  return out;
}

/* ---------------------------------------- decompression ---------------------------------------- */

const DECOMPRESSORS = { gzip: 'gzip', xz: 'xz', zstd: 'zstd' } as const;


let scratch: Promise<string> | null = null;
const scratchDirs: string[] = [];

/** A temporary directory for this test file; `removeScratch` deletes it. */
export function scratchDir(): Promise<string> {
  scratch ??= fs.mkdtemp(path.join(tmpdir(), 'ksymtree-test-')).then((d) => {
    scratchDirs.push(d);
    return d;
  });
  return scratch;
}

export async function removeScratch(): Promise<void> {
  for (const d of scratchDirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
  scratch = null;
}

const plainCache = new Map<string, Promise<string>>();

/**
 * A path to the object's ELF bytes for the CLI tools: the file itself when uncompressed (readelf and nm
 * ignore a signature appended after the ELF image), else a copy decompressed with gzip/xz/zstd -dc.
 */
export function plainElf(o: Pick<FixtureObject, 'path' | 'compression' | 'id'>): Promise<string> {
  if (o.compression === 'none') return Promise.resolve(o.path);
  let p = plainCache.get(o.path);
  if (!p) {
    p = (async () => {
      const bytes = (await limiter.run(() => exec(DECOMPRESSORS[o.compression as keyof typeof DECOMPRESSORS], ['-dc', o.path], { encoding: 'buffer' }))).stdout;
      // One file per compressed object: foo.ko.gz and foo.ko.xz must not share a name.
      const out = path.join(await scratchDir(), `${o.id.replace(/[^A-Za-z0-9_.-]/g, '_')}.elf`);
      await fs.writeFile(out, bytes);
      return out;
    })();
    plainCache.set(o.path, p);
  }
  return p;
}

/* -------------------------------- raw fields readelf does not print -------------------------------- */

/** st_name of every .symtab entry, read with the test-side minimal ELF reader. */
export async function symbolNameOffsets(file: string): Promise<number[]> {
  const b = await fs.readFile(file);
  const elf = miniElf(b);
  const symtab = elf.sections.find((s) => s.type === 2);
  if (!symtab) return [];
  const entsize = elf.is64 ? 24 : 16;
  const out: number[] = [];
  for (let at = symtab.offset; at + entsize <= symtab.offset + symtab.size; at += entsize) {
    out.push(elf.little ? b.readUInt32LE(at) : b.readUInt32BE(at));
  }
  return out;
}

/* ------------------------------------ symbolic readelf values ------------------------------------ */

export const STT: Readonly<Record<string, number>> = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, COMMON: 5, TLS: 6, IFUNC: 10 };
export const STB: Readonly<Record<string, number>> = { LOCAL: 0, GLOBAL: 1, WEAK: 2, UNIQUE: 10 };
export const STV: Readonly<Record<string, number>> = { DEFAULT: 0, INTERNAL: 1, HIDDEN: 2, PROTECTED: 3 };

/** readelf's Ndx column as the st_shndx number (after SHN_XINDEX resolution, as readelf prints it). */
export function ndxNumber(ndx: string): number {
  if (ndx === 'UND') return 0;
  if (ndx === 'ABS') return 0xfff1;
  if (ndx === 'COM') return 0xfff2;
  if (/^\d+$/.test(ndx)) return Number(ndx);
  throw new Error(`unexpected readelf Ndx ${ndx}`);
}

/** e_machine per architecture (ELF gABI). */
export const EM: Readonly<Record<string, number>> = { x86_64: 62, i386: 3, s390x: 22, aarch64: 183 };
export const ELF_CLASS: Readonly<Record<string, 32 | 64>> = { x86_64: 64, i386: 32, s390x: 64, aarch64: 64 };
export const ENDIAN: Readonly<Record<string, 'little' | 'big'>> = { x86_64: 'little', i386: 'little', s390x: 'big', aarch64: 'little' };

/** Memoises oracle runs per file within one test file. */
export function memo<T>(fn: (file: string) => Promise<T>): (file: string) => Promise<T> {
  const cache = new Map<string, Promise<T>>();
  return (file) => {
    let p = cache.get(file);
    if (!p) cache.set(file, (p = fn(file)));
    return p;
  };
}
