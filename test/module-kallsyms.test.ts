/**
 * Module kallsyms letters and sympos (what /proc/kallsyms shows for a loaded module after init, 6.1–6.12,
 * with CONFIG_KALLSYMS_ALL=y and =n, and without CONFIG_KALLSYMS) for every fixture module. The expectation
 * is the independent transcription of the kernel's rules over `readelf` in helpers/module-kallsyms-oracle.ts.
 */
import test from 'ava';
import { scanObject } from '../src/scan/scan-object.js';
import type { KallsymsRules } from '../src/config/kernel-config.js';
import { archTest } from './helpers/arch-test.js';
import { type FixtureObject, buildFixtures } from './helpers/build-fixtures.js';
import { moduleKallsymsOracle } from './helpers/module-kallsyms-oracle.js';
import { memo, plainElf, readelfSymbols, removeScratch } from './helpers/oracle.js';
import { scanRows } from './helpers/scan-rows.js';

const fx = await buildFixtures();
test.after.always(removeScratch);

/** The oracle's letters for a fixture module; `all` is CONFIG_KALLSYMS_ALL. */
async function expectedLetters(o: FixtureObject, all: boolean): Promise<string[]> {
  return moduleKallsymsOracle(await plainElf(o), o.arch !== 'i386', o.arch !== 's390x', all);
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
