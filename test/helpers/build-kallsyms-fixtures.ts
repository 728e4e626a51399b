/**
 * Builds small "vmlinux" images that carry kallsyms tables, the way the kernel's link does it
 * (scripts/link-vmlinux.sh): link with empty tables, list the symbols with `nm -n`, generate the tables
 * (scripts/kallsyms.c's format, written here from that format, in one of several kernel versions' layouts),
 * link again, regenerate (the sizes are now right, so addresses no longer move), and link a last time.
 *
 * The tests' oracle is independent of this generator: it is `nm -n` of the final link, read back as text,
 * and `readelf -S` for where the count lives.
 *
 * Output, cached under test/.fixtures/kallsyms-<hash>/ (./fixture-cache.ts) keyed by the sources, this file and
 * the toolchains:
 *   <arch>/<profile>/vmlinux            linked with tables; vmlinux.stripped: `strip --strip-all` of it
 *   <arch>/<profile>/vmlinux.nm         `nm -n` of vmlinux
 *   <arch>/none/vmlinux                 linked without any kallsyms tables (no CONFIG_KALLSYMS)
 *   x86_64/v6.1/vmlinuz.<compression>   bzImage-style files around the stripped vmlinux; vmlinuz.raw-gzip: a
 *                                       gzip stream after junk, no setup header (found by magic search)
 *   x86_64/v6.1-debug/vmlinux           the same sources built with -g and a GNU build-id: a debug vmlinux,
 *                                       and vmlinuz.gzip around its stripped copy (a debuginfod client's case)
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { type ElfHeader, readElfHeader } from '../../src/elf/header.js';
import { type Section, readSections } from '../../src/elf/sections.js';
import { type SymbolTable, readSymbolTable } from '../../src/elf/symbols.js';
import { type ByteSource, BufferSource, FileSource } from '../../src/io/source.js';
import { exec } from './exec.js';
import { cachedBuild } from './fixture-cache.js';
import { repoPath } from './repo.js';
import { type Arch, TOOLCHAINS, type Toolchain } from './toolchains.js';

export type KArch = 'x86_64' | 'i386' | 's390x' | 's390' | 's390x-dso' | 'aarch64';
export type VmlinuzCompression = 'gzip' | 'xz' | 'zstd' | 'lz4' | 'lzma' | 'bzip2';

/** One kernel version's way of writing the tables. */
export interface KallsymsProfile {
  readonly id: string;
  /** 'old': ≤ 6.3 (address table first); 'new': ≥ 6.4 (count, names, markers, tokens, address table, seqs). */
  readonly order: 'old' | 'new';
  readonly addressing: 'addresses' | 'base-relative' | 'absolute-percpu' | 'place-relative' | 'u32';
  /** Pointer-sized count and markers (before 6.1 / ~5.x), or .long. */
  readonly wideWords: boolean;
  readonly seqs: boolean;
  /** Two-byte lengths for long names (6.1+). */
  readonly uleb: boolean;
  /** .balign of every label: pointer size (ALGN) or 4 (the newest kernels). */
  readonly align: 'ptr' | 4;
}

export const PROFILES: Readonly<Record<string, KallsymsProfile>> = {
  'v6.1': { id: 'v6.1', order: 'old', addressing: 'absolute-percpu', wideWords: false, seqs: true, uleb: true, align: 'ptr' },
  'v6.12': { id: 'v6.12', order: 'new', addressing: 'absolute-percpu', wideWords: false, seqs: true, uleb: true, align: 'ptr' },
  'v6.12-rel': { id: 'v6.12-rel', order: 'new', addressing: 'base-relative', wideWords: false, seqs: true, uleb: true, align: 'ptr' },
  'v6.1-rel': { id: 'v6.1-rel', order: 'old', addressing: 'base-relative', wideWords: false, seqs: true, uleb: true, align: 'ptr' },
  'v6.16-pcrel': { id: 'v6.16-pcrel', order: 'new', addressing: 'place-relative', wideWords: false, seqs: true, uleb: true, align: 4 },
  'v6.16-u32': { id: 'v6.16-u32', order: 'new', addressing: 'u32', wideWords: false, seqs: true, uleb: true, align: 4 },
  'v5.10': { id: 'v5.10', order: 'old', addressing: 'absolute-percpu', wideWords: false, seqs: false, uleb: false, align: 'ptr' },
  'v5.10-rel': { id: 'v5.10-rel', order: 'old', addressing: 'base-relative', wideWords: false, seqs: false, uleb: false, align: 'ptr' },
  'v4.19': { id: 'v4.19', order: 'old', addressing: 'addresses', wideWords: true, seqs: false, uleb: false, align: 'ptr' },
};

export const VARIANTS: ReadonlyArray<readonly [KArch, string]> = [
  ['x86_64', 'v6.1'], ['x86_64', 'v6.12'], ['x86_64', 'v6.16-pcrel'], ['x86_64', 'v5.10'], ['x86_64', 'v4.19'],
  ['i386', 'v6.12-rel'], ['i386', 'v6.16-u32'],
  ['s390x', 'v6.12-rel'], ['s390x', 'v4.19'],
  ['s390', 'v6.12-rel'], ['s390', 'v4.19'],
  ['s390x-dso', 'v6.12-rel'],
  ['aarch64', 'v6.12-rel'], ['aarch64', 'v6.1-rel'], ['aarch64', 'v5.10-rel'],
];

export const VMLINUZ_COMPRESSIONS: readonly VmlinuzCompression[] = ['gzip', 'xz', 'zstd', 'lz4', 'lzma', 'bzip2'];

/** A kallsyms target: an architecture's toolchain (./toolchains.ts) and how that kernel is compiled and linked. */
interface KTarget {
  readonly tc: Toolchain;
  readonly cflags: readonly string[];
  readonly ldflags: readonly string[];
  readonly is64: boolean;
}

/** The toolchain's own vmlinux flags, with `extra` changed. */
function target(arch: Arch, extra: Partial<Omit<KTarget, 'tc'>> = {}): KTarget {
  const tc = TOOLCHAINS[arch];
  return { tc, cflags: tc.vmlinuxCflags, ldflags: tc.linkFlags, is64: tc.is64, ...extra };
}

const TARGETS: Readonly<Record<KArch, KTarget>> = {
  x86_64: target('x86_64'),
  i386: target('i386'),
  s390x: target('s390x'),
  // 31-bit s390: the 32-bit big-endian case.
  s390: target('s390x', { cflags: ['-m31', '-fno-pic'], ldflags: ['-m31', '-no-pie'], is64: false }),
  // Linked -shared, so that `PTR _text + x` is a symbol relocation (R_390_64 _text + addend) in .rela.dyn
  // rather than a RELATIVE one: the other form position-independent kernels use.
  's390x-dso': target('s390x', { cflags: ['-fPIE'], ldflags: ['-shared'] }),
  // arm64 kernels are position independent and, like arch/arm64/Makefile, leave relocated words 0 in the
  // file: kallsyms_relative_base's value is only in its RELATIVE relocation.
  aarch64: target('aarch64', { ldflags: [...TOOLCHAINS.aarch64.linkFlags, '-Wl,--no-apply-dynamic-relocs'] }),
};

const CFLAGS = ['-O2', '-ffreestanding', '-fno-common', '-fno-stack-protector', '-fno-asynchronous-unwind-tables', '-fno-unwind-tables'];
const UNITS = ['core.c', 'util.c', 'many.c'];

export interface KallsymsFixture {
  readonly id: string;
  readonly arch: KArch;
  readonly profile: KallsymsProfile;
  readonly vmlinux: string;
  readonly stripped: string;
  readonly nm: string;
  readonly is64: boolean;
  readonly little: boolean;
}

export interface KallsymsFixtures {
  readonly root: string;
  /** Per architecture: null when it was built, else why not (its compiler is missing). */
  readonly missing: Readonly<Record<KArch, string | null>>;
  readonly variants: readonly KallsymsFixture[];
  /** Per architecture, a vmlinux without kallsyms tables. */
  readonly plain: Readonly<Partial<Record<KArch, string>>>;
  /** x86_64 v6.1, stripped, in bzImage-style wrappers; `raw-gzip` has no setup header. */
  readonly vmlinuz: Readonly<Partial<Record<VmlinuzCompression | 'raw-gzip', string>>>;
  /** Compressions whose command-line compressor was missing. */
  readonly vmlinuzMissing: readonly string[];
  /** x86_64 v6.1 with DWARF and a build-id: the debug vmlinux and a gzip vmlinuz of its stripped copy. */
  readonly debugKernel: { readonly vmlinux: string; readonly vmlinuz: string } | null;
}

/* ------------------------------------------------------------------------------------------------ */

export const KALLSYMS_SOURCES = repoPath('test', 'fixtures', 'kallsyms');

/* ------------------------------------------ the generator ------------------------------------------ */

export interface NmSymbol {
  readonly address: bigint;
  readonly letter: string;
  readonly name: string;
}

/** `nm -n` text: lines without an address (undefined symbols) are left out, as scripts/kallsyms' fscanf does. */
export function parseNm(text: string): NmSymbol[] {
  const out: NmSymbol[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) (\S) (\S+)$/.exec(line);
    if (m) out.push({ address: BigInt(`0x${m[1]}`), letter: m[2], name: m[3] });
  }
  return out;
}

const TABLE_NAMES = new Set(['kallsyms_addresses', 'kallsyms_offsets', 'kallsyms_relative_base', 'kallsyms_num_syms', 'kallsyms_names',
  'kallsyms_markers', 'kallsyms_token_table', 'kallsyms_token_index', 'kallsyms_seqs_of_names']);

/** What this generator keeps (with --all-symbols): no tables, no undefined, debugging or absolute symbols, no local labels. */
function kept(s: NmSymbol): boolean {
  if (TABLE_NAMES.has(s.name) || s.name.startsWith('$') || s.name.startsWith('.L')) return false;
  return !'UuNnwvAa'.includes(s.letter);
}

interface TableSymbol {
  address: bigint;
  letter: string;
  name: string;
  absolute: boolean;
  bytes: number[];
}

/** Greedy pair compression into the byte values no name uses, the idea of scripts/kallsyms.c's token table. */
function compress(symbols: TableSymbol[]): string[] {
  const table: (number[] | null)[] = new Array(256).fill(null);
  for (const s of symbols) for (const c of s.bytes) table[c] = [c];
  for (let code = 255; code >= 0; code--) {
    if (table[code]) continue;
    const counts = new Map<number, number>();
    for (const s of symbols) for (let i = 0; i + 1 < s.bytes.length; i++) {
      const k = s.bytes[i] | (s.bytes[i + 1] << 8);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    let best = -1;
    let bestCount = 0;
    for (const [k, c] of counts) if (c > bestCount || (c === bestCount && k < best)) [best, bestCount] = [k, c];
    if (bestCount < 2) break;
    const a = best & 0xff;
    const b = best >> 8;
    table[code] = [a, b];
    for (const s of symbols) {
      const out: number[] = [];
      for (let i = 0; i < s.bytes.length; i++) {
        if (i + 1 < s.bytes.length && s.bytes[i] === a && s.bytes[i + 1] === b) {
          out.push(code);
          i++;
        } else out.push(s.bytes[i]);
      }
      s.bytes = out;
    }
  }
  const expand = (c: number): string => {
    const t = table[c];
    if (!t) return '';
    return t.length === 1 && t[0] === c ? String.fromCharCode(c) : t.map(expand).join('');
  };
  return Array.from({ length: 256 }, (_, c) => expand(c));
}

function asmString(s: string): string {
  return `"${[...s].map((ch) => (/[A-Za-z0-9_.]/.test(ch) ? ch : `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`)).join('')}"`;
}

/** The assembler source of the tables for the symbols of `nm` (empty tables when `nm` is null: the first link). */
export function generateTables(nm: NmSymbol[] | null, profile: KallsymsProfile, is64: boolean): string {
  const ptr = is64 ? '.quad' : '.long';
  const align = profile.align === 4 ? 4 : is64 ? 8 : 4;
  const wide = profile.wideWords ? ptr : '.long';
  const lines: string[] = ['\t.section .rodata, "a"'];
  const label = (name: string) => lines.push(`.globl ${name}`, `\t.balign ${align}`, `${name}:`);
  const text = nm?.find((s) => s.name === '_text')?.address ?? 0n;
  const pcpuStart = nm?.find((s) => s.name === '__per_cpu_start')?.address;
  const pcpuEnd = nm?.find((s) => s.name === '__per_cpu_end')?.address;
  // Before 6.1 KSYM_NAME_LEN was 128 and scripts/kallsyms skipped longer names (with a warning).
  const maxName = profile.uleb ? 511 : 127;
  const table: TableSymbol[] = (nm ?? []).filter((s) => kept(s) && s.name.length <= maxName).map((s) => {
    // scripts/kallsyms --absolute-percpu: per-cpu symbols keep their (small) value and print as 'A'.
    const percpu = profile.addressing === 'absolute-percpu' && pcpuStart !== undefined && pcpuEnd !== undefined
      && s.address >= pcpuStart && s.address <= pcpuEnd;
    const letter = percpu ? 'A' : s.letter;
    return { address: s.address, letter, name: s.name, absolute: percpu, bytes: [...Buffer.from(letter + s.name, 'latin1')] };
  });
  // nm -n is sorted by address already; a stable sort keeps its order among equal addresses.
  table.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  const relativeBase = table.find((s) => !s.absolute)?.address ?? text;
  const fromText = (a: bigint) => (a >= text ? `_text + 0x${(a - text).toString(16)}` : `_text - 0x${(text - a).toString(16)}`);

  const addressTable = () => {
    const wantsBase = profile.addressing === 'base-relative' || profile.addressing === 'absolute-percpu';
    label(profile.addressing === 'addresses' ? 'kallsyms_addresses' : 'kallsyms_offsets');
    for (const s of table) {
      switch (profile.addressing) {
        case 'addresses': lines.push(`\t${ptr} ${s.absolute ? `0x${s.address.toString(16)}` : fromText(s.address)}`); break;
        case 'base-relative': lines.push(`\t.long 0x${(s.address - relativeBase).toString(16)}`); break;
        case 'absolute-percpu': lines.push(`\t.long ${s.absolute ? `0x${s.address.toString(16)}` : `${relativeBase - s.address - 1n}`}`); break;
        case 'place-relative': lines.push(`\t.long _text - . + (${s.address - text})`); break;
        case 'u32': lines.push(`\t.long 0x${s.address.toString(16)}`); break;
      }
    }
    if (wantsBase) {
      label('kallsyms_relative_base');
      lines.push(`\t${ptr} ${fromText(relativeBase)}`);
    }
  };
  const tokens = compress(table);
  const nameEntries = () => {
    label('kallsyms_num_syms');
    lines.push(`\t${wide} ${table.length}`);
    label('kallsyms_names');
    const markers: number[] = [];
    let off = 0;
    table.forEach((s, i) => {
      if (i % 256 === 0) markers.push(off);
      const len = s.bytes.length;
      if (len > 0x7f && !profile.uleb) throw new Error(`${s.name}: compressed to ${len} bytes, too long for a one-byte length`);
      const head = len > 0x7f ? [(len & 0x7f) | 0x80, len >> 7] : [len];
      lines.push(`\t.byte ${[...head, ...s.bytes].join(', ')}`);
      off += head.length + len;
    });
    label('kallsyms_markers');
    for (const m of markers) lines.push(`\t${wide} ${m}`);
  };
  const seqs = () => {
    if (!profile.seqs) return;
    const order = table.map((_, i) => i).sort((a, b) => {
      const na = Buffer.from(table[a].name, 'latin1');
      const nb = Buffer.from(table[b].name, 'latin1');
      const c = Buffer.compare(na, nb);
      if (c !== 0) return c;
      if (table[a].address !== table[b].address) return table[a].address < table[b].address ? -1 : 1;
      return a - b;
    });
    label('kallsyms_seqs_of_names');
    for (const i of order) lines.push(`\t.byte ${(i >> 16) & 0xff}, ${(i >> 8) & 0xff}, ${i & 0xff}`);
  };
  const tokenTables = () => {
    label('kallsyms_token_table');
    const index: number[] = [];
    let off = 0;
    for (const t of tokens) {
      index.push(off);
      lines.push(`\t.asciz ${asmString(t)}`);
      off += t.length + 1;
    }
    label('kallsyms_token_index');
    for (const i of index) lines.push(`\t.short ${i}`);
  };
  if (profile.order === 'old') {
    addressTable();
    nameEntries();
    seqs();
    tokenTables();
  } else {
    nameEntries();
    tokenTables();
    addressTable();
    seqs();
  }
  return `${lines.join('\n')}\n`;
}

/* ------------------------------------------ building ------------------------------------------ */

class Build {
  constructor(readonly out: string) {}

  async objects(arch: KArch, debug = false): Promise<string[]> {
    const k = TARGETS[arch];
    const dir = path.join(this.out, arch, debug ? 'obj-g' : 'obj');
    await fs.mkdir(dir, { recursive: true });
    const objs: string[] = [];
    for (const unit of ['head.S', ...UNITS, 'tail.S']) {
      const obj = path.join(dir, unit.replace(/\.[cS]$/, '.o'));
      await exec(k.tc.cc, [...CFLAGS, ...(debug ? ['-g'] : []), ...k.cflags, '-c', path.join(KALLSYMS_SOURCES, unit), '-o', obj]);
      objs.push(obj);
    }
    return objs;
  }

  async link(arch: KArch, objs: string[], extra: string[], out: string): Promise<void> {
    const k = TARGETS[arch];
    const kind = k.ldflags.includes('-shared') ? [] : ['-static'];
    await exec(k.tc.cc, ['-nostdlib', ...kind, ...k.ldflags, ...extra, '-Wl,-e,start', '-o', out, ...objs]);
  }

  async nm(arch: KArch, file: string): Promise<string> {
    return (await exec(TARGETS[arch].tc.nm, ['-n', file])).stdout;
  }

  /** scripts/link-vmlinux.sh in small: three links, the tables regenerated from each one's symbols. */
  async variant(arch: KArch, objs: string[], profile: KallsymsProfile, debug = false): Promise<KallsymsFixture> {
    const k = TARGETS[arch];
    const dir = path.join(this.out, arch, debug ? `${profile.id}-debug` : profile.id);
    await fs.mkdir(dir, { recursive: true });
    const extra = [...(profile.addressing === 'absolute-percpu' ? [`-Wl,-T,${path.join(KALLSYMS_SOURCES, 'percpu.lds')}`] : []),
      ...(debug ? ['-Wl,--build-id=sha1'] : [])];
    const vmlinux = path.join(dir, 'vmlinux');
    let nm: NmSymbol[] | null = null;
    let previous = '';
    for (let pass = 0; pass < 4; pass++) {
      const asm = path.join(dir, `tables${pass}.S`);
      await fs.writeFile(asm, generateTables(nm, profile, k.is64));
      const obj = `${asm}.o`;
      await exec(k.tc.cc, [...k.cflags, '-c', asm, '-o', obj]);
      await this.link(arch, [...objs, obj], extra, vmlinux);
      const text = await this.nm(arch, vmlinux);
      const stable = text.split('\n').filter((l) => !/ kallsyms_/.test(l)).join('\n');
      if (pass >= 2 && stable === previous) {
        await fs.writeFile(path.join(dir, 'vmlinux.nm'), text);
        break;
      }
      if (pass === 3) throw new Error(`${arch}/${profile.id}: symbol addresses still move after ${pass + 1} links`);
      previous = stable;
      nm = parseNm(text);
    }
    const stripped = path.join(dir, 'vmlinux.stripped');
    await exec(k.tc.strip, ['--strip-all', '-o', stripped, vmlinux]);
    const little = !arch.startsWith('s390');
    return { id: `${arch}/${profile.id}`, arch, profile, vmlinux, stripped, nm: path.join(dir, 'vmlinux.nm'), is64: k.is64, little };
  }

  /** A bzImage-shaped file: setup header (boot protocol 2.15) with payload_offset/payload_length, then the payload. */
  async vmlinuz(stripped: string, dir: string, kinds = VMLINUZ_COMPRESSIONS): Promise<{ files: Partial<Record<VmlinuzCompression | 'raw-gzip', string>>; missing: string[] }> {
    const elf = readFileSync(stripped);
    const files: Partial<Record<VmlinuzCompression | 'raw-gzip', string>> = {};
    const missing: string[] = [];
    const commands: Record<VmlinuzCompression, [string, string[]]> = {
      gzip: ['gzip', ['-n', '-9', '-c']],
      // The kernel's xz_wrap.sh: CRC32 and the x86 BCJ filter.
      xz: ['xz', ['--check=crc32', '--x86', '--lzma2=preset=6', '-c']],
      zstd: ['zstd', ['-19', '-c', '-q']],
      lz4: ['lz4', ['-l', '-9', '-c', '-q']],
      lzma: ['lzma', ['-9', '-c']],
      bzip2: ['bzip2', ['-9', '-c']],
    };
    for (const kind of kinds) {
      let payload: Buffer;
      try {
        payload = (await exec(commands[kind][0], commands[kind][1], { input: elf, encoding: 'buffer' })).stdout;
      } catch {
        missing.push(kind);
        continue;
      }
      if (kind !== 'gzip') {
        // size_append: the uncompressed size, 4 bytes little-endian.
        const size = Buffer.alloc(4);
        size.writeUInt32LE(elf.length);
        payload = Buffer.concat([payload, size]);
      }
      const setupSects = 3;
      const header = Buffer.alloc((setupSects + 1) * 512);
      header[0x1f1] = setupSects;
      header.writeUInt16LE(0xaa55, 0x1fe);
      header.write('HdrS', 0x202, 'latin1');
      header.writeUInt16LE(0x020f, 0x206);
      const payloadOffset = 0x40;
      header.writeUInt32LE(payloadOffset, 0x248);
      header.writeUInt32LE(payload.length, 0x24c);
      const file = path.join(dir, `vmlinuz.${kind}`);
      await fs.writeFile(file, Buffer.concat([header, Buffer.alloc(payloadOffset, 0xcc), payload, Buffer.alloc(64, 0xcc)]));
      files[kind] = file;
      if (kind === 'gzip') {
        const raw = path.join(dir, 'vmlinuz.raw-gzip');
        // Junk that happens to start like a gzip stream, then the real one: the search must skip the first.
        await fs.writeFile(raw, Buffer.concat([Buffer.from('not a kernel \x1f\x8b\x08 junk', 'latin1'), payload]));
        files['raw-gzip'] = raw;
      }
    }
    return { files, missing };
  }
}

async function buildAll(out: string): Promise<KallsymsFixtures> {
  const b = new Build(out);
  const missing: Record<KArch, string | null> = { x86_64: null, i386: null, s390x: null, s390: null, 's390x-dso': null, aarch64: null };
  const variants: KallsymsFixture[] = [];
  const plain: Partial<Record<KArch, string>> = {};
  let vmlinuz: KallsymsFixtures['vmlinuz'] = {};
  let vmlinuzMissing: string[] = [];
  let debugKernel: KallsymsFixtures['debugKernel'] = null;
  for (const arch of Object.keys(TARGETS) as KArch[]) {
    let objs: string[];
    try {
      objs = await b.objects(arch);
    } catch (e) {
      missing[arch] = `${arch} kallsyms fixtures cannot be built: ${(e as Error).message.split('\n')[0]} (${TARGETS[arch].tc.install})`;
      continue;
    }
    const none = path.join(out, arch, 'none', 'vmlinux');
    await fs.mkdir(path.dirname(none), { recursive: true });
    await b.link(arch, objs, [], none);
    plain[arch] = none;
    for (const [a, id] of VARIANTS) {
      if (a !== arch) continue;
      const v = await b.variant(arch, objs, PROFILES[id]);
      variants.push(v);
      if (arch === 'x86_64' && id === 'v6.1') {
        const z = await b.vmlinuz(v.stripped, path.dirname(v.vmlinux));
        vmlinuz = z.files;
        vmlinuzMissing = z.missing;
        const d = await b.variant(arch, await b.objects(arch, true), PROFILES[id], true);
        const dz = await b.vmlinuz(d.stripped, path.dirname(d.vmlinux), ['gzip']);
        debugKernel = { vmlinux: d.vmlinux, vmlinuz: dz.files.gzip! };
      }
    }
  }
  return { root: out, missing, variants, plain, vmlinuz, vmlinuzMissing, debugKernel };
}

let pending: Promise<KallsymsFixtures> | null = null;

/** Builds once per cache key, shared by concurrent test processes. */
export function buildKallsymsFixtures(): Promise<KallsymsFixtures> {
  pending ??= cachedBuild<KallsymsFixtures>({
    name: 'kallsyms',
    files: [KALLSYMS_SOURCES, repoPath('test', 'helpers', 'build-kallsyms-fixtures.ts'), repoPath('test', 'helpers', 'toolchains.ts')],
    facts: { TARGETS, CFLAGS, PROFILES, VARIANTS },
    build: (tmp) => buildAll(tmp),
  }).then((c) => c.manifest);
  return pending;
}

/* ------------------------------------------ the tests' oracle ------------------------------------------ */
// What the kallsyms tests compare the decoder with, obtained without it: `nm -n` for names, letters and
// addresses, `readelf -S` for where a symbol's bytes are in the file. Shared by the fixture and real tiers.

export interface Opened {
  readonly src: ByteSource;
  readonly h: ElfHeader;
  readonly sections: Section[];
  readonly symtab: SymbolTable | null;
}

export function openElf(path: string, bytes?: Buffer): Opened {
  const src = bytes ? new BufferSource(path, bytes) : FileSource.open(path);
  const h = readElfHeader(src);
  const sections = readSections(src, h);
  return { src, h, sections, symtab: readSymbolTable(src, h, sections) };
}

export async function nmSymbols(nm: string, file: string): Promise<NmSymbol[]> {
  return parseNm((await exec(nm, ['-n', file])).stdout);
}

interface ReadelfSection {
  readonly name: string;
  readonly addr: bigint;
  readonly offset: number;
  readonly size: number;
}

/** `readelf -S -W`, parsed: host readelf reads every architecture. */
export async function readelfSections(file: string): Promise<ReadelfSection[]> {
  const out: ReadelfSection[] = [];
  for (const line of (await exec('readelf', ['-S', '-W', file])).stdout.split('\n')) {
    const m = /^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(line);
    if (m) out.push({ name: m[1], addr: BigInt(`0x${m[2]}`), offset: parseInt(m[3], 16), size: parseInt(m[4], 16) });
  }
  return out;
}

/** The `length` bytes at link address `address`, found through readelf's section table. */
export async function bytesAtAddress(file: string, address: bigint, length: number): Promise<Buffer> {
  const s = (await readelfSections(file)).find((x) => x.size > 0 && x.addr <= address && address < x.addr + BigInt(x.size) && x.name !== 'NULL');
  if (!s) throw new Error(`${file}: no section holds 0x${address.toString(16)}`);
  const out = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, out, 0, length, s.offset + Number(address - s.addr));
  } finally {
    closeSync(fd);
  }
  return out;
}

/** kallsyms_num_syms as the image stores it: a 4-byte count, or a pointer-sized one (older kernels, wide). */
export async function storedSymbolCount(file: string, nm: readonly NmSymbol[], little: boolean, wide8: boolean): Promise<number> {
  const sym = nm.find((s) => s.name === 'kallsyms_num_syms');
  if (!sym) throw new Error(`${file}: nm lists no kallsyms_num_syms`);
  const b = await bytesAtAddress(file, sym.address, wide8 ? 8 : 4);
  if (wide8) return Number(little ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0));
  return little ? b.readUInt32LE(0) : b.readUInt32BE(0);
}

export function hex16(a: bigint): string {
  return a.toString(16).padStart(16, '0');
}
