// Collision classes as pure rules over copies (no files): one case per class and the rule order.
import test from 'ava';
import { collisionClass } from '../src/alias/collision.js';

const LOCAL = 0;
const GLOBAL = 1;
const copy = (name: string, bind: number, declFile: string | null, declLine: number | null) => ({ name, bind, declFile, declLine });

test('a header static emitted in several units is static-duplication', (t) => {
  t.is(collisionClass([copy('jhash', LOCAL, 'include/linux/jhash.h', 70), copy('jhash', LOCAL, 'include/linux/jhash.h', 70)]), 'static-duplication');
});

test('statics of one name defined at different sites are distinct', (t) => {
  t.is(collisionClass([copy('name_show', LOCAL, 'kernel/irq/irqdesc.c', 230), copy('name_show', LOCAL, 'drivers/pnp/card.c', 184)]), 'distinct');
  t.is(collisionClass([copy('f', LOCAL, 'a.c', 1), copy('f', LOCAL, 'a.c', 2)]), 'distinct');
});

test('gcc clone names are compiler-clone, whatever their sites', (t) => {
  for (const name of ['f.constprop.0', 'f.isra.0', 'f.part.0', 'f.cold', 'f.constprop.0.isra.0']) {
    t.is(collisionClass([copy(name, LOCAL, 'a.c', 1), copy(name, LOCAL, 'b.c', 9)]), 'compiler-clone', name);
  }
  t.not(collisionClass([copy('__func__.12', LOCAL, null, null), copy('__func__.12', LOCAL, null, null)]), 'compiler-clone');
});

test('a global and a static of one name are static-global', (t) => {
  t.is(collisionClass([copy('f', GLOBAL, 'a.c', 1), copy('f', LOCAL, 'b.c', 2)]), 'static-global');
});

test('a copy without a decl site makes the class unknown', (t) => {
  t.is(collisionClass([copy('__func__.3', LOCAL, null, null), copy('__func__.3', LOCAL, null, null)]), 'unknown');
  t.is(collisionClass([copy('f', LOCAL, 'a.c', 1), copy('f', LOCAL, 'a.c', null)]), 'unknown');
});
