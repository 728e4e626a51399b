/**
 * Module kallsyms letters (what /proc/kallsyms shows for a loaded module after init, 6.1–6.12, with
 * CONFIG_KALLSYMS_ALL=y and =n, and with no CONFIG_KALLSYMS) for every fixture module. The expectation is computed here from `readelf`
 * output by an independent transcription of kernel/module/kallsyms.c (is_core_symbol, elf_type) and
 * kernel/kallsyms.c s_show + is_exported, where exports are read the way the kernel reads them: the
 * `struct kernel_symbol` entries of `__ksymtab` (value and name pointers, through their relocations).
 */
import test from 'ava';
import { scanObject } from '../src/scan/scan-object.js';
import type { KallsymsRules } from '../src/config/kernel-config.js';
import { archTest } from './helpers/arch-test.js';
import { type FixtureObject, buildFixtures } from './helpers/build-fixtures.js';
import {
  type ReadelfSection, type ReadelfSymbol, memo, ndxNumber, plainElf, readelfHexDump, readelfRelocs,
  readelfSections, readelfSymbols, removeScratch, symbolNameOffsets,
} from './helpers/oracle.js';
import { scanRows } from './helpers/scan-rows.js';

const fx = await buildFixtures();
test.after.always(removeScratch);

const SHN_LORESERVE = 0xff00;
const SHN_ABS = 0xfff1;

interface Export {
  readonly name: string;
  readonly ndx: number;
  readonly value: bigint;
}

/**
 * The entries of one export table (`__ksymtab` or `__ksymtab_gpl`): struct kernel_symbol
 * { unsigned long value; const char *name; const char *namespace; } (6.1 without PREL32 relocations).
 */
async function exportTable(file: string, table: string, is64: boolean, little: boolean,
  sections: readonly ReadelfSection[], symbols: readonly ReadelfSymbol[]): Promise<Export[]> {
  const sec = sections.find((s) => s.name === table);
  if (!sec) return [];
  const ptr = is64 ? 8 : 4;
  const relocs = await readelfRelocs(file, is64);
  const rel = relocs.get(`.rela${table}`) ?? relocs.get(`.rel${table}`) ?? [];
  const contents = await readelfHexDump(file, table);
  const dumps = new Map<string, Buffer>();
  const bytesOf = async (name: string) => {
    if (!dumps.has(name)) dumps.set(name, await readelfHexDump(file, name));
    return dumps.get(name)!;
  };
  // Where a pointer field points: symbol + addend (REL keeps the addend in the field itself).
  const target = (at: number) => {
    const r = rel.find((x) => x.offset === at);
    if (!r) throw new Error(`${file}: no relocation for ${table}+0x${at.toString(16)}`);
    const implicit = ptr === 8 ? (little ? contents.readBigUInt64LE(at) : contents.readBigUInt64BE(at))
      : BigInt(little ? contents.readUInt32LE(at) : contents.readUInt32BE(at));
    const sym = symbols[r.symIndex];
    return { ndx: ndxNumber(sym.ndx), value: sym.value + (r.addend ?? implicit) };
  };
  const out: Export[] = [];
  for (let at = 0; at + 3 * ptr <= sec.size; at += 3 * ptr) {
    const value = target(at);
    const name = target(at + ptr);
    const strings = await bytesOf(sections[name.ndx].name);
    const start = Number(name.value);
    out.push({ name: strings.toString('latin1', start, strings.indexOf(0, start)), ndx: value.ndx, value: value.value });
  }
  return out;
}

/**
 * The /proc/kallsyms letter of each .symtab entry, ' ' for entries it does not print; `all` is
 * CONFIG_KALLSYMS_ALL.
 */
async function expectedLetters(o: FixtureObject, all: boolean): Promise<string[]> {
  const file = await plainElf(o);
  const [symbols, sections, stName] = await Promise.all([readelfSymbols(file), readelfSections(file), symbolNameOffsets(file)]);
  const is64 = o.arch !== 'i386';
  const little = o.arch !== 's390x';
  const shnum = sections.length;
  // The loader clears SHF_ALLOC on .modinfo and __versions before laying the module out.
  const alloc = sections.map((s) => s.flags.includes('A') && s.name !== '.modinfo' && s.name !== '__versions');
  const pcpu = Math.max(0, sections.findIndex((s, i) => i > 0 && alloc[i] && s.name === '.data..percpu'));
  const exported = await exportTable(file, '__ksymtab', is64, little, sections, symbols);

  return symbols.map((sym) => {
    const ndx = ndxNumber(sym.ndx);
    // is_core_symbol()
    if (sym.index === 0 || ndx === 0 || ndx >= shnum || stName[sym.index] === 0) return ' ';
    // The per-cpu exception exists only with CONFIG_KALLSYMS_ALL; without it, executable sections only.
    if (!(all && ndx === pcpu) && (!alloc[ndx] || (!all && !sections[ndx].flags.includes('X')) || sections[ndx].name.startsWith('.init'))) return ' ';
    // elf_type()
    let letter: string;
    const sec = sections[ndx];
    if (sym.bind === 'WEAK') letter = sym.type === 'OBJECT' ? 'v' : 'w';
    else if (ndx === SHN_ABS || ndx === pcpu) letter = 'a';
    else if (ndx >= SHN_LORESERVE) letter = '?';
    else if (sec.flags.includes('X')) letter = 't';
    else if (alloc[ndx] && sec.type !== 'NOBITS') letter = sec.flags.includes('W') ? 'd' : 'r';
    else if (sec.type === 'NOBITS') letter = 'b';
    else if (sec.name.startsWith('.debug')) letter = 'n';
    else letter = '?';
    // s_show(): upper case when is_exported() finds the name in the module's __ksymtab at this address.
    const isExported = exported.some((e) => e.name === sym.name && e.ndx === ndx && e.value === sym.value);
    return isExported ? letter.toUpperCase() : letter.toLowerCase();
  });
}

const expected = memo((path: string) => expectedLetters(fx.objects.find((o) => o.path === path)!, true));
const expectedCodeOnly = memo((path: string) => expectedLetters(fx.objects.find((o) => o.path === path)!, false));

const KALLSYMS_ALL: KallsymsRules = { kallsyms: true, all: true, keepStartStop: true };
const KALLSYMS_CODE: KallsymsRules = { kallsyms: true, all: false, keepStartStop: true };
const NO_KALLSYMS: KallsymsRules = { kallsyms: false, all: false, keepStartStop: true };

for (const o of fx.objects.filter((x) => x.kind === 'module')) {
  for (const [setting, rules, want] of [
    ['', null, expected],
    [' (CONFIG_KALLSYMS_ALL=y given)', KALLSYMS_ALL, expected],
    [' (CONFIG_KALLSYMS_ALL=n)', KALLSYMS_CODE, expectedCodeOnly],
  ] as const) {
    archTest(fx, o.arch, `${o.id}: kallsyms letters follow the module loader's rules${setting}`, async (t) => {
      const r = await scanObject(o.path, rules);
      t.is(r.elf?.kallsymsSource, 'module-loader');
      t.is(r.elf?.config, null, 'a module says nothing of the configuration');
      const rows = scanRows(r.elf!.symbols);
      const letters = await want(o.path);
      t.deepEqual(
        rows.map((row) => `${row.index} ${row.kallsyms} ${row.name}`),
        letters.map((letter, i) => `${i} ${letter} ${rows[i]?.name ?? '?'}`),
      );
    });
  }
  archTest(fx, o.arch, `${o.id}: without CONFIG_KALLSYMS no symbol is listed and none has a sympos`, async (t) => {
    const r = await scanObject(o.path, NO_KALLSYMS);
    const rows = scanRows(r.elf!.symbols);
    t.true(rows.length > 0);
    t.deepEqual(rows.filter((row) => row.kallsyms !== ' ').map((row) => row.name), []);
    t.deepEqual([...r.elf!.symbols.sympos].filter((p) => p > 0), []);
  });
}

// The rules above only prove something if the fixtures exercise each of them. These checks run the
// same expectation on foo.ko and look at named symbols, so a fixture change cannot make them vacuous.
for (const o of fx.objects.filter((x) => x.module === 'foo' && x.variant === 'plain' && x.compression === 'none')) {
  archTest(fx, o.arch, `${o.id}: the fixture exercises every kallsyms rule`, async (t) => {
    const file = await plainElf(o);
    const symbols = await readelfSymbols(file);
    const letters = await expected(o.path);
    const letterOf = (name: string) => [...new Set(symbols.filter((s) => s.name === name).map((s) => letters[s.index]))].join('');
    t.is(letters[0], ' ', 'index 0 is never printed');
    t.is(letterOf('foo_main.c'), ' ', 'STT_FILE (SHN_ABS) is hidden');
    t.is(letterOf('foo_init'), ' ', '.init.text symbols are gone after init');
    t.is(letterOf('foo_util_setup'), ' ', 'global .init.text symbols too');
    t.is(letterOf('foo_boot_arg'), ' ', '.init.data');
    t.is(letterOf('__UNIQUE_ID_name0'), ' ', '.modinfo loses SHF_ALLOC');
    t.is(letterOf('____versions'), ' ', '__versions loses SHF_ALLOC');
    t.is(letterOf('foo_abs_global'), ' ', 'SHN_ABS is not below e_shnum');
    t.is(letterOf('bar_api'), ' ', 'undefined');
    t.is(letterOf('foo_optional'), ' ', 'undefined weak');
    t.is(letterOf('foo_pcpu_hits'), 'a', 'per-cpu');
    t.is(letterOf('pcpu_scratch'), 'a', 'static per-cpu, both copies');
    t.is(letterOf('foo_api'), 'T', 'EXPORT_SYMBOL');
    t.is(letterOf('foo_gpl_api'), 't', 'EXPORT_SYMBOL_GPL stays lower case');
    t.is(letterOf('foo_util_step'), 't', 'EXPORT_SYMBOL_GPL in the other unit');
    t.is(letterOf('foo_internal'), 't', 'global but not exported');
    t.is(letterOf('foo_exit'), 't', '.exit.text stays (module unloading)');
    t.is(letterOf('foo_weak_hook'), 'w');
    t.is(letterOf('foo_weak_tunable'), 'v');
    t.is(letterOf('helper'), 't', 'both static copies');
    t.is(letterOf('counter'), 'b');
    t.is(letterOf('limit'), 'd');
    t.is(letterOf('prefix'), 'r');
    t.is(letterOf('__ksymtab_foo_api'), 'r');
    t.is(letterOf('__this_module'), 'd');
  });
}

// CONFIG_KALLSYMS_ALL=n (Debian's arm64 cloud kernel): the same module keeps its code only.
for (const o of fx.objects.filter((x) => x.module === 'foo' && x.variant === 'plain' && x.compression === 'none')) {
  archTest(fx, o.arch, `${o.id}: the fixture exercises the code-only rules of CONFIG_KALLSYMS_ALL=n`, async (t) => {
    const symbols = await readelfSymbols(await plainElf(o));
    const letters = await expectedCodeOnly(o.path);
    const letterOf = (name: string) => [...new Set(symbols.filter((s) => s.name === name).map((s) => letters[s.index]))].join('');
    t.is(letterOf('foo_pcpu_hits'), ' ', 'no per-cpu exception');
    t.is(letterOf('pcpu_scratch'), ' ');
    t.is(letterOf('counter'), ' ', '.bss');
    t.is(letterOf('limit'), ' ', '.data');
    t.is(letterOf('prefix'), ' ', '.rodata');
    t.is(letterOf('__ksymtab_foo_api'), ' ');
    t.is(letterOf('__this_module'), ' ');
    t.is(letterOf('foo_weak_tunable'), ' ', 'a weak object is data');
    t.is(letterOf('foo_init'), ' ', '.init.text is still gone');
    t.is(letterOf('foo_api'), 'T', 'exports still print upper case');
    t.is(letterOf('foo_weak_hook'), 'w');
    t.is(letterOf('helper'), 't', 'both static copies');
    t.is(letterOf('foo_exit'), 't');
  });
}

// Livepatch positions count only what kallsyms lists: the N-th copy in .symtab order among the listed ones.
for (const o of fx.objects.filter((x) => x.kind === 'module')) {
  for (const [setting, rules, want] of [['CONFIG_KALLSYMS_ALL=y', KALLSYMS_ALL, expected], ['CONFIG_KALLSYMS_ALL=n', KALLSYMS_CODE, expectedCodeOnly]] as const) {
    archTest(fx, o.arch, `${o.id}: sympos counts the copies kallsyms lists (${setting})`, async (t) => {
      const r = await scanObject(o.path, rules);
      const rows = scanRows(r.elf!.symbols);
      const letters = await want(o.path);
      const symbols = await readelfSymbols(await plainElf(o));
      const listed = symbols.filter((s) => letters[s.index] !== ' ');
      const copies = new Map<string, number[]>();
      for (const s of listed) copies.set(s.name, [...(copies.get(s.name) ?? []), s.index]);
      const wantSympos = new Map<number, number>();
      for (const idx of copies.values()) if (idx.length > 1) idx.forEach((i, n) => wantSympos.set(i, n + 1));
      const got = rows.map((row, k) => `${row.index} ${row.name} ${r.elf!.symbols.sympos[k]}`);
      t.deepEqual(got, rows.map((row) => `${row.index} ${row.name} ${wantSympos.get(row.index) ?? 0}`));
    });
  }
}
