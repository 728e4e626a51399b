// ELF-level support of the DWARF reader: relocations of debug sections and compressed sections, and
// findSites on broken inputs (errors name file + section + offset; nothing throws).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { ObjectError } from '../src/errors.js';
import { sectionContents } from '../src/elf/compressed.js';
import { EM_386, EM_AARCH64, EM_PPC64, EM_S390, EM_X86_64, ET_EXEC, ET_REL, SHF_COMPRESSED, SHT_PROGBITS, SHT_REL, SHT_RELA, SHT_SYMTAB } from '../src/elf/constants.js';
import type { ElfHeader } from '../src/elf/header.js';
import { applyRelocations, RelocationTable } from '../src/elf/relocations.js';
import { type Section, StringTable, readSections } from '../src/elf/sections.js';
import { SymbolTable } from '../src/elf/symbols.js';
import { BufferSource } from '../src/io/source.js';
import { findSites } from '../src/sites/find-sites.js';
import { openObject } from '../src/sites/object.js';
import { buildDwarfFixtures } from './helpers/build-dwarf-fixtures.js';
import { Bytes } from './helpers/dwarf-bytes.js';
import { haveDwarfdump } from './helpers/dwarf-oracle.js';
import { siteSymbols } from './helpers/dwarf-symbols.js';

// Built before any test is declared: ava takes every declaration in the module's first run.
const fixtures = haveDwarfdump() ? await buildDwarfFixtures() : null;

function header(machine: number, is64: boolean, little: boolean, type = ET_REL): ElfHeader {
  return { is64, little, type, machine, shoff: 0, shentsize: is64 ? 64 : 40, shnum: 0, shstrndx: 0 };
}

function section(index: number, name: string, type: number, size: number, extra: Partial<Section> = {}): Section {
  return { index, name, type, flags: 0, addr: '0'.repeat(16), offset: 0, size, link: 0, info: 0, addralign: 1, entsize: 0, headerOffset: 0, ...extra };
}

/** Symbols: [value, section index] each; index 0 is the null symbol. */
function symtab(h: ElfHeader, symbols: [number, number][]): SymbolTable {
  const b = new Bytes(h.little);
  const all: [number, number][] = [[0, 0], ...symbols];
  for (const [value, shndx] of all) {
    if (h.is64) b.u32(0).u8(3, 0).u16(shndx).u64(value).u64(0); // STT_SECTION
    else b.u32(0).u32(value).u32(0).u8(3, 0).u16(shndx);
  }
  const s = section(1, '.symtab', SHT_SYMTAB, b.length);
  return new SymbolTable('t.o', s, b.buffer(), new StringTable(Buffer.from([0]), 't.o', 0), h, null);
}

/** Relocation entries [offset, type, symbol, addend]. */
function relocs(h: ElfHeader, rela: boolean, entries: [number, number, number, number][]): RelocationTable {
  const b = new Bytes(h.little);
  for (const [off, type, sym, addend] of entries) {
    if (h.is64) b.u64(off).u64((BigInt(sym) << 32n) | BigInt(type));
    else b.u32(off).u32((sym << 8) | type);
    if (rela) h.is64 ? b.u64(BigInt(addend)) : b.u32(addend);
  }
  return new RelocationTable('t.o', section(5, rela ? '.rela.debug_info' : '.rel.debug_info', rela ? SHT_RELA : SHT_REL, b.length, { info: 4 }), b.buffer(), h);
}

const target = (size: number) => section(4, '.debug_info', SHT_PROGBITS, size);

test('x86_64 RELA: R_X86_64_64 (negative addend), _32, _32S; the section of each relocated place is kept', (t) => {
  const h = header(EM_X86_64, true, true);
  const bytes = Buffer.alloc(24, 0xee);
  // symbol 1: .text (section 3) at 0; symbol 2: .text.unlikely (section 9) at 0x10
  const syms = symtab(h, [[0, 3], [0x10, 9]]);
  const r = applyRelocations('t.o', h, target(24), bytes, [relocs(h, true, [[0, 1, 1, -8], [8, 10, 2, 0x20], [12, 11, 1, 0x7fffffff], [16, 1, 2, 0x100]])], syms);
  t.deepEqual(r.errors, []);
  t.is(bytes.readBigInt64LE(0), -8n);
  t.is(bytes.readUInt32LE(8), 0x30);
  t.is(bytes.readUInt32LE(12), 0x7fffffff);
  t.is(bytes.readBigUInt64LE(16), 0x110n);
  t.is(r.targets.sectionAt(0), 3);
  t.is(r.targets.sectionAt(8), 9);
  t.is(r.targets.sectionAt(16), 9);
  t.is(r.targets.sectionAt(4), -1);
});

test('i386 REL: R_386_32 adds the implicit addend stored in place', (t) => {
  const h = header(EM_386, false, true);
  const bytes = Buffer.alloc(8);
  bytes.writeUInt32LE(0x44, 0);
  bytes.writeUInt32LE(0x10, 4);
  applyRelocations('t.o', h, target(8), bytes, [relocs(h, false, [[0, 1, 1, 0], [4, 1, 2, 0]])], symtab(h, [[0x1000, 2], [0x20, 5]]));
  t.is(bytes.readUInt32LE(0), 0x1044);
  t.is(bytes.readUInt32LE(4), 0x30);
});

test('s390x (big endian) R_390_64/_32, aarch64 ABS64/ABS32, ppc64 ADDR64/ADDR32', (t) => {
  for (const [machine, little, t64, t32] of [[EM_S390, false, 22, 4], [EM_AARCH64, true, 257, 258], [EM_PPC64, false, 38, 1]] as const) {
    const h = header(machine, true, little);
    const bytes = Buffer.alloc(12);
    const r = applyRelocations('t.o', h, target(12), bytes, [relocs(h, true, [[0, t64, 1, 0x1234], [8, t32, 1, 0x10]])], symtab(h, [[0x100, 2]]));
    t.deepEqual(r.errors, [], `machine ${machine}`);
    t.is(little ? bytes.readBigUInt64LE(0) : bytes.readBigUInt64BE(0), 0x1334n);
    t.is(little ? bytes.readUInt32LE(8) : bytes.readUInt32BE(8), 0x110);
    t.is(r.targets.sectionAt(8), 2);
  }
});

test('unknown relocation types and places outside the section are reported once each, the rest applied', (t) => {
  const h = header(EM_X86_64, true, true);
  const bytes = Buffer.alloc(16);
  const r = applyRelocations('t.o', h, target(16), bytes, [relocs(h, true, [[0, 2, 1, 0], [4, 2, 1, 0], [12, 1, 1, 0], [8, 1, 1, 5]])], symtab(h, [[0, 3]]));
  t.is(r.errors.length, 2);
  t.regex(r.errors[0].message, /relocating \.debug_info: entry 0: relocation type 2 is not an absolute data relocation/);
  t.is(r.errors[0].kind, 'unsupported');
  t.regex(r.errors[1].message, /r_offset 0xc \+ 8 is outside the 16-byte section/);
  t.is(bytes.readBigUInt64LE(8), 5n);
});

test('relocations are never applied to linked objects (vmlinux carries .rela.debug_* from --emit-relocs)', (t) => {
  const h = header(EM_X86_64, true, true, ET_EXEC);
  const bytes = Buffer.alloc(8, 0x11);
  const r = applyRelocations('vmlinux', h, target(8), bytes, [relocs(h, true, [[0, 1, 1, 0x40]])], symtab(h, [[0x1000, 1]]));
  t.true(bytes.equals(Buffer.alloc(8, 0x11)));
  t.is(r.targets.size, 0);
});

test('unsorted relocations still give a sorted place index', (t) => {
  const h = header(EM_X86_64, true, true);
  const bytes = Buffer.alloc(24);
  const r = applyRelocations('t.o', h, target(24), bytes, [relocs(h, true, [[16, 10, 2, 0], [0, 10, 1, 0], [8, 10, 2, 0]])], symtab(h, [[0, 3], [0, 4]]));
  t.deepEqual([0, 8, 16].map((o) => r.targets.sectionAt(o)), [3, 4, 4]);
});

/** A minimal ELF holding one section with the given contents, flags and name. */
function elfWith(name: string, contents: Buffer, flags: number, is64 = true): BufferSource {
  const shstr = Buffer.from(`\0${name}\0.shstrtab\0`, 'latin1');
  const ehsize = is64 ? 64 : 52;
  const shentsize = is64 ? 64 : 40;
  const dataOff = ehsize;
  const strOff = dataOff + contents.length;
  const shoff = strOff + shstr.length;
  const b = new Bytes(true);
  b.u8(0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1, 0).u64(0).u16(ET_REL).u16(EM_X86_64).u32(1);
  if (is64) b.u64(0).u64(0).u64(shoff).u32(0).u16(ehsize).u16(0).u16(0).u16(shentsize).u16(3).u16(2);
  else b.u32(0).u32(0).u32(shoff).u32(0).u16(ehsize).u16(0).u16(0).u16(shentsize).u16(3).u16(2);
  b.raw(contents).raw(shstr);
  const sh = (nameOff: number, type: number, fl: number, off: number, size: number) => {
    if (is64) b.u32(nameOff).u32(type).u64(fl).u64(0).u64(off).u64(size).u32(0).u32(0).u64(1).u64(0);
    else b.u32(nameOff).u32(type).u32(fl).u32(0).u32(off).u32(size).u32(0).u32(0).u32(1).u32(0);
  };
  sh(0, 0, 0, 0, 0);
  sh(1, SHT_PROGBITS, flags, dataOff, contents.length);
  sh(2 + name.length, 3, 0, strOff, shstr.length);
  return new BufferSource('c.o', b.buffer());
}

function openSection(src: BufferSource) {
  const is64 = src.bytes[4] === 2;
  const h: ElfHeader = { is64, little: true, type: ET_REL, machine: EM_X86_64, shoff: Number(is64 ? src.bytes.readBigUInt64LE(40) : src.bytes.readUInt32LE(32)), shentsize: is64 ? 64 : 40, shnum: 3, shstrndx: 2 };
  return { h, s: readSections(src, h)[1] };
}

const payload = Buffer.from('DWARF bytes '.repeat(40), 'latin1');

test('SHF_COMPRESSED zlib, ELF64 and ELF32 compression headers', (t) => {
  for (const is64 of [true, false]) {
    const chdr = is64 ? new Bytes().u32(1).u32(0).u64(payload.length).u64(1) : new Bytes().u32(1).u32(payload.length).u32(1);
    const src = elfWith('.debug_info', Buffer.concat([chdr.buffer(), deflateSync(payload)]), SHF_COMPRESSED, is64);
    const { h, s } = openSection(src);
    t.true(sectionContents(src, h, s).equals(payload));
  }
});

test('SHF_COMPRESSED zstd (stream made by the zstd tool)', (t) => {
  let z: Buffer;
  try {
    z = execFileSync('zstd', ['-c', '-q'], { input: payload });
  } catch {
    t.pass('zstd tool not installed');
    return;
  }
  const src = elfWith('.debug_line', Buffer.concat([new Bytes().u32(2).u32(0).u64(payload.length).u64(1).buffer(), z]), SHF_COMPRESSED);
  const { h, s } = openSection(src);
  t.true(sectionContents(src, h, s).equals(payload));
});

test('legacy .zdebug_* sections (ZLIB + big-endian size)', (t) => {
  const src = elfWith('.zdebug_info', Buffer.concat([Buffer.from('ZLIB'), new Bytes(false).u64(payload.length).buffer(), deflateSync(payload)]), 0);
  const { h, s } = openSection(src);
  t.true(sectionContents(src, h, s).equals(payload));
});

test('bad compressed sections: unknown ch_type, wrong size, corrupt stream', (t) => {
  const cases: [Buffer, RegExp, string][] = [
    [Buffer.concat([new Bytes().u32(7).u32(0).u64(10).u64(1).buffer(), Buffer.alloc(4)]), /ch_type: expected 1 \(zlib\) or 2 \(zstd\), found 7/, 'unsupported'],
    [Buffer.concat([new Bytes().u32(1).u32(0).u64(payload.length + 1).u64(1).buffer(), deflateSync(payload)]), /expected \d+ bytes after decompression, found \d+/, 'compression'],
    [Buffer.concat([new Bytes().u32(1).u32(0).u64(10).u64(1).buffer(), Buffer.from('not zlib')]), /expected a zlib stream of 10 bytes/, 'compression'],
  ];
  for (const [contents, message, kind] of cases) {
    const src = elfWith('.debug_info', contents, SHF_COMPRESSED);
    const { h, s } = openSection(src);
    const e = t.throws(() => sectionContents(src, h, s), { instanceOf: ObjectError });
    t.regex(e!.message, message);
    t.regex(e!.message, /^c\.o: at offset 0x[0-9a-f]+: section 1 \(\.debug_info\)/);
    t.is(e!.kind as string, kind);
  }
});

const base = fixtures?.fixtures.find((f) => f.name === 'x86_64-dwarf5-debian');

(base ? test : test.skip)('findSites never throws: corrupt unit, truncated file, missing file, bad indices; no DWARF is no error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksymtree-dwarf-bad-'));
  const rel = base!.relocatable;
  const symbols = await siteSymbols(rel);
  const requests = symbols.map((s) => ({ symtabIndex: s.index }));
  const o = await openObject(rel);
  const info = o.sections.find((s) => s.name === '.debug_info')!;
  o.close();

  // Second unit's version → 9: its symbols fall back (unit-only/none), the first unit's keep their decls.
  const corrupt = join(dir, 'corrupt.o');
  const bytes = Buffer.from(readFileSync(rel));
  const firstLen = bytes.readUInt32LE(info.offset);
  bytes.writeUInt16LE(9, info.offset + 4 + firstLen + 4);
  writeFileSync(corrupt, bytes);
  let r = await findSites(corrupt, corrupt, requests, { all: true });
  t.true(r.errors.some((e) => e.message.includes(`${corrupt}: at offset 0x${(info.offset + 4 + firstLen + 4).toString(16)}: .debug_info+0x${(4 + firstLen + 4).toString(16)}: unit version: expected 2 to 5, found 9`)), JSON.stringify(r.errors));
  const alpha = symbols.findIndex((s) => s.name === 'alpha_entry');
  const beta = symbols.findIndex((s) => s.name === 'beta_entry');
  t.is(r.sites[alpha].source, 'decl');
  t.not(r.sites[beta].source, 'decl');

  // Garbage abbreviation codes in the first unit.
  const garbled = join(dir, 'garbled.o');
  const g = Buffer.from(readFileSync(rel));
  g.fill(0xfe, info.offset + 40, info.offset + 80);
  writeFileSync(garbled, g);
  r = await findSites(garbled, garbled, requests, { all: true });
  t.true(r.errors.length > 0);
  t.true(r.errors.every((e) => e.message.startsWith(`${garbled}: at offset 0x`)), JSON.stringify(r.errors));

  // Truncated object, missing object, request indices outside the table.
  const truncated = join(dir, 'truncated.o');
  writeFileSync(truncated, readFileSync(rel).subarray(0, 200));
  r = await findSites(truncated, truncated, requests);
  t.is(r.sites.length, requests.length);
  t.true(r.sites.every((s) => s.source === 'none'));
  t.true(r.errors.length >= 1);
  r = await findSites(join(dir, 'missing.o'), join(dir, 'missing.o'), requests);
  t.is(r.errors[0].kind, 'io');
  r = await findSites(rel, rel, [{ symtabIndex: 0 }, { symtabIndex: 1_000_000 }, { symtabIndex: -3 }]);
  t.is(r.errors.length, 3);
  t.deepEqual(r.sites.map((s) => s.source), ['none', 'none', 'none']);

  // A stripped object without a debug copy is a normal input: its local symbols get the source file
  // their STT_FILE group names (a basename), nothing else, and no error.
  // (objcopy --strip-debug also drops STT_FILE symbols, as Debian's installed modules show: keep them here.)
  const stripped = join(dir, 'stripped.o');
  execFileSync('objcopy', ['--strip-debug', '--keep-file-symbols', rel, stripped]);
  const local = (await siteSymbols(stripped)).find((s) => s.name === 'name_show')!;
  r = await findSites(stripped, stripped, [{ symtabIndex: local.index }]);
  t.deepEqual(r.errors, []);
  t.is(r.sites[0].source, 'unit-only');
  t.regex(r.sites[0].unit ?? '', /^(alpha|beta)\.c$/);
});
