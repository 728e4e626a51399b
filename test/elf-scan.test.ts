/**
 * scanObject against binutils, for every fixture object: each architecture (ELF32/ELF64, little and big
 * endian, ET_REL/ET_EXEC/ET_DYN), each compression, signed, debug-stripped and DWARF 4 builds.
 * Expectations come from `readelf -sW/-SW/-hW` and `nm` run on the object (decompressed with the CLI tools).
 */
import test from 'ava';
import { scanObject } from '../src/scan/scan-object.js';
import { archTest } from './helpers/arch-test.js';
import { type FixtureObject, buildFixtures } from './helpers/build-fixtures.js';
import {
  ELF_CLASS, EM, ENDIAN, STB, STT, STV, memo, ndxNumber, nmSymbols, plainElf, readelfHeader, readelfSections,
  readelfSymbols, removeScratch, symbolNameOffsets,
} from './helpers/oracle.js';
import { columnLengthProblems, scanRows, sectionAddr } from './helpers/scan-rows.js';

const fx = await buildFixtures();
test.after.always(removeScratch);

const scan = memo(scanObject);
const symbolsOf = memo(readelfSymbols);
const sectionsOf = memo(readelfSections);

const SHT: Readonly<Record<string, number>> = {
  NULL: 0, PROGBITS: 1, SYMTAB: 2, STRTAB: 3, RELA: 4, HASH: 5, DYNAMIC: 6, NOTE: 7, NOBITS: 8, REL: 9, DYNSYM: 11,
  INIT_ARRAY: 14, FINI_ARRAY: 15, PREINIT_ARRAY: 16, GROUP: 17, SYMTAB_SHNDX: 18, GNU_HASH: 0x6ffffff6,
};
/** readelf's flag letters for the gABI flags. */
const SHF_LETTERS: Readonly<Record<string, number>> = {
  W: 0x1, A: 0x2, X: 0x4, M: 0x10, S: 0x20, I: 0x40, L: 0x80, O: 0x100, G: 0x200, T: 0x400, C: 0x800,
};

const sectionTypeNumber = (t: string): number => {
  const n = SHT[t];
  if (n === undefined) throw new Error(`readelf section type ${t} is not in the test's table`);
  return n;
};

async function scanned(o: FixtureObject) {
  const r = await scan(o.path);
  if (!r.elf) throw new Error(`${o.id}: scanObject returned no ELF: ${JSON.stringify(r.errors)}`);
  return { result: r, elf: r.elf };
}

for (const o of fx.objects) {
  archTest(fx, o.arch, `${o.id}: scan reports no errors and the right container`, async (t) => {
    const r = await scan(o.path);
    t.deepEqual(r.errors, []);
    t.is(r.compression, o.compression);
    t.is(r.kind, o.kind);
    t.not(r.elf, null);
    t.deepEqual(columnLengthProblems(r.elf!.symbols), []);
  });

  archTest(fx, o.arch, `${o.id}: ELF header and section table match readelf -hW/-SW`, async (t) => {
    const { elf } = await scanned(o);
    const file = await plainElf(o);
    const h = await readelfHeader(file);
    t.is(elf.elfClass, ELF_CLASS[o.arch]);
    t.is(h.cls, `ELF${ELF_CLASS[o.arch]}`);
    t.is(elf.endian, ENDIAN[o.arch]);
    t.regex(h.data, new RegExp(`${ENDIAN[o.arch]} endian`));
    t.is(elf.machine, EM[o.arch]);
    const wantType = o.kind === 'module' ? 1 : o.arch === 'aarch64' ? 3 : 2;
    t.is(elf.elfType, wantType);
    t.regex(h.type, [/^NONE/, /^REL /, /^EXEC /, /^DYN /][wantType]);

    const sections = await sectionsOf(file);
    t.is(sections.length, h.shnum);
    t.deepEqual(elf.sections.names, sections.map((s) => s.name));
    t.deepEqual(Array.from(elf.sections.type), sections.map((s) => sectionTypeNumber(s.type)));
    const knownFlags = Object.values(SHF_LETTERS).reduce((a, b) => a | b, 0);
    t.deepEqual(
      Array.from(elf.sections.flags, (f) => f & knownFlags),
      sections.map((s) => [...s.flags].reduce((acc, c) => acc | (SHF_LETTERS[c] ?? 0), 0)),
    );
    t.deepEqual(Array.from(elf.sections.size), sections.map((s) => s.size));
    t.deepEqual(sections.map((_, i) => sectionAddr(elf, i)), sections.map((s) => s.addr));
  });

  archTest(fx, o.arch, `${o.id}: every .symtab entry matches readelf -sW`, async (t) => {
    const { elf } = await scanned(o);
    const file = await plainElf(o);
    const [want, sections, stName] = await Promise.all([symbolsOf(file), sectionsOf(file), symbolNameOffsets(file)]);
    const rows = scanRows(elf.symbols);
    t.is(rows.length, want.length, 'one row per .symtab entry');
    const ours = rows.map((r) => ({
      index: r.index, name: r.name, value: r.value, size: r.size, type: r.type, bind: r.bind, vis: r.vis, shndx: r.shndx,
    }));
    const expected = want.map((s) => ({
      index: s.index,
      // readelf shows a section symbol without a name (st_name 0) under its section's name.
      name: s.type === 'SECTION' && stName[s.index] === 0 && s.name === sections[ndxNumber(s.ndx)]?.name ? '' : s.name,
      value: s.value, size: s.size, type: STT[s.type], bind: STB[s.bind], vis: STV[s.vis], shndx: ndxNumber(s.ndx),
    }));
    t.deepEqual(ours, expected);
  });

  archTest(fx, o.arch, `${o.id}: nm letters match ${o.toolchain.nm}`, async (t) => {
    const { elf } = await scanned(o);
    const file = await plainElf(o);
    const undefinedLetters = new Set(['U', 'w', 'v']);
    const ours = scanRows(elf.symbols)
      .filter((r) => r.nm !== ' ')
      .map((r) => `${undefinedLetters.has(r.nm) ? '' : r.value.toString(16)} ${r.nm} ${r.name}`)
      .sort();
    const want = (await nmSymbols(o.toolchain.nm, file)).map((s) => `${s.value === null ? '' : s.value.toString(16)} ${s.letter} ${s.name}`).sort();
    t.true(want.length >= 3, 'nm lists the fixture symbols');
    t.deepEqual(multisetDiff(ours, want), { onlyInScan: [], onlyInNm: [] });
  });
}

/** What one list has more of than the other, counting repeats (duplicate names are the point of the fixtures). */
function multisetDiff(ours: string[], want: string[]): { onlyInScan: string[]; onlyInNm: string[] } {
  const count = new Map<string, number>();
  for (const x of want) count.set(x, (count.get(x) ?? 0) + 1);
  const onlyInScan: string[] = [];
  for (const x of ours) {
    const n = count.get(x) ?? 0;
    if (n > 0) count.set(x, n - 1);
    else onlyInScan.push(x);
  }
  const onlyInNm = [...count].flatMap(([x, n]) => Array<string>(n).fill(x));
  return { onlyInScan, onlyInNm };
}
