// The alias naming rules on hand-made copies: the kas_alias format NAME@file_line, units and sympos when sites
// tie, shortening to KSYM_NAME_LEN, no clash with existing names; and sympos for modules and for vmlinux.
import test from 'ava';
import { aliasesForObject, mangle, maxSymbolLength, shorten, type AliasInput } from '../src/alias/naming.js';
import { symposOf } from '../src/alias/sympos.js';

const copy = (idx: number, name: string, sympos: number, declFile: string | null, declLine: number | null, unit: string | null): AliasInput =>
  ({ idx, name, sympos, declFile, declLine, unit });

test('mangle turns every character outside [A-Za-z0-9_] into _', (t) => {
  t.is(mangle('kernel/irq/irqdesc.c'), 'kernel_irq_irqdesc_c');
  t.is(mangle('drivers/net/wireless/intel/iwlwifi/mvm/fw-api.h'), 'drivers_net_wireless_intel_iwlwifi_mvm_fw_api_h');
});

test('copies with distinct decl sites get NAME@file_line, the kas_alias v7 format', (t) => {
  const a = aliasesForObject([
    copy(10, 'name_show', 1, 'kernel/irq/irqdesc.c', 230, 'kernel/irq/irqdesc.c'),
    copy(20, 'name_show', 2, 'drivers/base/core.c', 99, 'drivers/base/core.c'),
  ], new Set(['name_show']), 511);
  t.deepEqual(a.map((x) => x.alias), ['name_show@kernel_irq_irqdesc_c_230', 'name_show@drivers_base_core_c_99']);
  t.true(a.every((x) => x.stage === 'site' && x.fullAlias === null));
});

test('header statics sharing one decl site are told apart by their compilation unit', (t) => {
  const a = aliasesForObject([
    copy(1, 'jhash', 1, 'include/linux/jhash.h', 70, 'net/bridge/br_fdb.c'),
    copy(2, 'jhash', 2, 'include/linux/jhash.h', 70, 'net/bridge/br_vlan.c'),
  ], new Set(['jhash']), 511);
  t.deepEqual(a.map((x) => x.alias), ['jhash@include_linux_jhash_h_70@net_bridge_br_fdb_c', 'jhash@include_linux_jhash_h_70@net_bridge_br_vlan_c']);
  t.true(a.every((x) => x.stage === 'unit'));
});

test('a file #included into another unit repeats site and unit: sympos settles it', (t) => {
  const a = aliasesForObject([
    copy(5, 'load_elf_binary', 1, 'fs/binfmt_elf.c', 850, 'fs/binfmt_elf.c'),
    copy(9, 'load_elf_binary', 2, 'fs/binfmt_elf.c', 850, 'fs/binfmt_elf.c'),
  ], new Set(), 511);
  t.deepEqual(a.map((x) => x.alias), ['load_elf_binary@fs_binfmt_elf_c_850@fs_binfmt_elf_c@1', 'load_elf_binary@fs_binfmt_elf_c_850@fs_binfmt_elf_c@2']);
});

test('only the unit known: NAME@unit; nothing known: NAME@sympos', (t) => {
  const a = aliasesForObject([
    copy(1, '__func__.3', 1, null, null, 'fs/cifs/file.c'),
    copy(2, '__func__.3', 2, null, null, 'fs/cifs/dir.c'),
    copy(3, 'CSWTCH.7', 1, null, null, null),
    copy(4, 'CSWTCH.7', 2, null, null, null),
  ], new Set(), 511);
  t.deepEqual(a.map((x) => x.alias), ['__func__.3@fs_cifs_file_c', '__func__.3@fs_cifs_dir_c', 'CSWTCH.7@1', 'CSWTCH.7@2']);
});

test('an alias never equals an existing symbol name of the object', (t) => {
  const a = aliasesForObject([
    copy(1, 'f', 1, 'a.c', 1, 'a.c'),
    copy(2, 'f', 2, 'b.c', 1, 'b.c'),
  ], new Set(['f', 'f@a_c_1']), 511);
  t.not(a[0].alias, 'f@a_c_1');
  t.is(new Set(a.map((x) => x.alias)).size, 2);
});

test('aliases over KSYM_NAME_LEN are shortened deterministically, stay distinct and within the limit', (t) => {
  const long = 'd/'.repeat(100);
  const inputs = [copy(1, 'x', 1, `${long}a.c`, 1, 'a.c'), copy(2, 'x', 2, `${long}b.c`, 1, 'b.c')];
  const a = aliasesForObject(inputs, new Set(), 127);
  t.true(a.every((x) => x.alias.length <= 127 && x.fullAlias !== null && x.fullAlias.length > 127));
  t.not(a[0].alias, a[1].alias);
  t.deepEqual(aliasesForObject(inputs, new Set(), 127), a);
  t.true(a[0].alias.endsWith('a_c_1'));
  t.is(shorten('x', a[0].fullAlias!, 127), a[0].alias);
});

test('KSYM_NAME_LEN: 128 before 6.1, 512 from 6.1 on', (t) => {
  t.is(maxSymbolLength('5.15.0-91-generic'), 127);
  t.is(maxSymbolLength('6.1.0-50-cloud-amd64'), 511);
  t.is(maxSymbolLength('6.12.9+deb13-amd64'), 511);
  t.is(maxSymbolLength(null), 511);
});

test('module sympos follows .symtab order even when addresses run the other way', (t) => {
  const s = symposOf([
    { idx: 3, name: 'salt', value: '0000000000000010' },
    { idx: 7, name: 'salt', value: '0000000000000000' },
    { idx: 8, name: 'unique', value: '0000000000000000' },
  ], 'module');
  t.is(s.get(3), 1);
  t.is(s.get(7), 2);
  t.false(s.has(8));
});

test('vmlinux sympos follows address order, then symtab order', (t) => {
  const s = symposOf([
    { idx: 3, name: 'name_show', value: 'ffffffff81000200' },
    { idx: 7, name: 'name_show', value: 'ffffffff81000100' },
    { idx: 9, name: 'name_show', value: 'ffffffff81000100' },
  ], 'vmlinux');
  t.deepEqual([s.get(7), s.get(9), s.get(3)], [1, 2, 3]);
});
