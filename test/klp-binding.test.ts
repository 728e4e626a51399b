// The binding rule of kernel/livepatch/core.c klp_find_object_symbol (6.1) and the site comparison of
// `klp check --reference`, as pure functions over copies (no files).
import test from 'ava';
import { bind, checkTarget, sameSite } from '../src/klp/binding.js';
import type { KallsymsCopy } from '../src/db/kallsyms-copies.js';

const copy = (rank: number, decl_file: string | null, decl_line: number | null, unit: string | null): KallsymsCopy =>
  ({ rank, alias: null, decl_file, decl_line, unit, section: '.text', letter: 't' });
const irq = copy(1, 'kernel/irq/irqdesc.c', 230, 'kernel/irq/irqdesc.c');
const pnp = copy(2, 'drivers/pnp/card.c', 184, 'drivers/pnp/card.c');

test('bind: sympos 0 needs a unique name, N binds the N-th copy, past the copies or no copy fails', (t) => {
  t.deepEqual(bind([irq], 0), { status: 'ok', bound: irq });
  t.deepEqual(bind([irq], 1), { status: 'ok', bound: irq }); // the kernel accepts 1 for a unique name
  t.deepEqual(bind([irq, pnp], 0), { status: 'ambiguous', bound: null });
  t.deepEqual(bind([irq, pnp], 2), { status: 'ok', bound: pnp });
  t.deepEqual(bind([irq, pnp], 3), { status: 'out-of-range', bound: null });
  t.deepEqual(bind([], 0), { status: 'no-symbol', bound: null });
});

test('sameSite: exact site, moved inside its file, unit only when one side has no decl file, else no match or unverifiable', (t) => {
  t.deepEqual(sameSite(irq, [pnp, { ...irq, rank: 2 }]), { copy: { ...irq, rank: 2 }, match: 'site' });
  const moved = copy(1, 'kernel/irq/irqdesc.c', 310, 'kernel/irq/irqdesc.c');
  t.deepEqual(sameSite(irq, [moved, pnp]), { copy: moved, match: 'moved' });
  const unitOnly = copy(2, null, null, 'kernel/irq/irqdesc.c');
  t.deepEqual(sameSite(irq, [copy(1, null, null, 'drivers/pnp/card.c'), unitOnly]), { copy: unitOnly, match: 'unit' });
  t.is(sameSite(irq, [pnp]), null);
  t.is(sameSite(irq, [pnp, copy(2, null, null, null)]), 'unverifiable');
  // Two copies with one file, line and unit (a file included twice) cannot be told apart.
  t.is(sameSite(irq, [{ ...irq, rank: 1 }, { ...irq, rank: 2 }]), 'unverifiable');
  // Header statics: one decl site, told apart by the unit.
  const jhash = (rank: number, unit: string) => copy(rank, 'include/linux/jhash.h', 70, unit);
  t.deepEqual(sameSite(jhash(1, 'net/bridge/br_fdb.c'), [jhash(1, 'net/bridge/br_vlan.c'), jhash(2, 'net/bridge/br_fdb.c')]),
    { copy: jhash(2, 'net/bridge/br_fdb.c'), match: 'site' });
});

test('checkTarget: the sympos that binds the reference copy when another copy is bound or loading would fail', (t) => {
  const swapped = [{ ...pnp, rank: 1 }, { ...irq, rank: 2 }];
  t.like(checkTarget(swapped, 1, [irq, pnp]), { status: 'other-copy', symposToBind: 2, match: 'site' });
  t.like(checkTarget(swapped, 2, [irq, pnp]), { status: 'other-copy', symposToBind: 1, match: 'site' });
  t.like(checkTarget([irq, pnp], 2, [irq, pnp]), { status: 'ok', symposToBind: null, match: 'site' });
  // A name unique in the reference (its site known with index --all-sites) that gained a copy.
  t.like(checkTarget(swapped, 0, [irq]), { status: 'ambiguous', symposToBind: 2 });
  // sympos 0 fails in the reference itself: nothing to compare with.
  t.like(checkTarget(swapped, 0, [irq, pnp]), { status: 'ambiguous', symposToBind: null });
  // The reference's copy is the only one left: sympos 0 binds it.
  t.like(checkTarget([{ ...pnp, rank: 1 }], 2, [irq, pnp]), { status: 'out-of-range', symposToBind: 0 });
  t.like(checkTarget([pnp], 1, [irq]), { status: 'ok', match: 'unique' });
  t.like(checkTarget([{ ...pnp, rank: 1 }, copy(2, 'x.c', 1, 'x.c')], 1, [irq, pnp]), { status: 'no-match', symposToBind: null });
  t.like(checkTarget([irq, pnp], 1, null), { status: 'ok', match: null });
});
