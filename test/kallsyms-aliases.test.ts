// `ksymtree kallsyms-aliases`'s line rule: alias lines go after their originals in mksysmap's list, every input
// line stays byte for byte, and an alias scripts/kallsyms would sort before its original is left out.
import test from 'ava';
import { addAliasLines, type LinkAlias, sortsAfterOriginal } from '../src/commands/kallsyms-aliases.js';

const SYSMAP = [
  '0000000000000000 D __per_cpu_start',
  'ffffffff81000000 T _stext',
  'ffffffff81111970 t name_show',
  'ffffffff81111990 t other',
  'ffffffff8167b400 t name_show',
  'ffffffff8333f560 b __key.3',
  'ffffffff8333f560 b __key.3',
  'ffffffff83400000 d __foo_start',
  'ffffffff83400010 d __foo_start',
  '',
].join('\n');

const alias = (name: string, address: string, sympos: number, suffix: string): LinkAlias => ({ name, address: BigInt(`0x${address}`), sympos, alias: `${name}@${suffix}` });

test('each alias follows its original, with the same address text and letter; the input lines are unchanged', (t) => {
  const r = addAliasLines(SYSMAP, [
    alias('name_show', 'ffffffff8167b400', 2, 'drivers_pnp_card_c_184'),
    alias('name_show', 'ffffffff81111970', 1, 'kernel_irq_irqdesc_c_230'),
  ]);
  const lines = r.text.split('\n');
  t.deepEqual(lines.filter((l) => !l.includes('@')), SYSMAP.split('\n'));
  t.is(lines[lines.indexOf('ffffffff81111970 t name_show') + 1], 'ffffffff81111970 t name_show@kernel_irq_irqdesc_c_230');
  t.is(lines[lines.indexOf('ffffffff8167b400 t name_show') + 1], 'ffffffff8167b400 t name_show@drivers_pnp_card_c_184');
  t.is(r.added, 2);
  t.deepEqual(r.skipped, []);
});

test('copies with the same name and address take their aliases in sympos order', (t) => {
  const r = addAliasLines(SYSMAP, [alias('__key.3', 'ffffffff8333f560', 2, 'kernel_relay_c_288'), alias('__key.3', 'ffffffff8333f560', 1, 'kernel_seccomp_c_670')]);
  t.regex(r.text, /b __key\.3\n\S+ b __key\.3@kernel_seccomp_c_670\n\S+ b __key\.3\n\S+ b __key\.3@kernel_relay_c_288\n/);
});

test('an alias whose copy is not in the list, or that would sort first, is reported and not added', (t) => {
  const r = addAliasLines(SYSMAP, [
    alias('gone', 'ffffffff81000100', 1, 'x_c_1'),
    alias('__foo_start', 'ffffffff83400000', 1, 'a_c_1'),
  ]);
  t.is(r.added, 0);
  t.deepEqual(r.skipped.map((s) => [s.alias.alias, /sort/.test(s.reason) ? 'sort' : 'missing']), [['__foo_start@a_c_1', 'sort'], ['gone@x_c_1', 'missing']]);
  t.is(r.text, SYSMAP);
});

test('scripts/kallsyms order: weak and underscore rules keep an alias after its original; linker-script names do not', (t) => {
  t.true(sortsAfterOriginal('name_show', 'name_show@kernel_irq_irqdesc_c_230'));
  t.true(sortsAfterOriginal('__key.3', '__key.3@kernel_relay_c_288'));
  t.true(sortsAfterOriginal('__start_foo', '__start_foo@a_c_1'), 'both __start_: both last');
  t.false(sortsAfterOriginal('__foo_end', '__foo_end@a_c_1'), '__*_end is a linker-script name, its alias is not');
  t.false(sortsAfterOriginal('__bar_start', '__bar_start@a_c_1'));
});
