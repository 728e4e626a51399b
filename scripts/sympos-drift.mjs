#!/usr/bin/env node
// How many in-object duplicate copies of build OLD a livepatch would lose by keeping its old_sympos on build NEW:
// every copy of every name with 2+ copies in OLD is taken as a reference (sympos = its rank) and checked in NEW
// by `klp check`'s own rules (src/klp/binding.ts). Prints one count per outcome; --functions counts only copies
// that are functions (kallsyms letter t/T), what livepatches replace. Needs `npm run build`.
//   node scripts/sympos-drift.mjs OLD.db NEW.db [--functions] [--list]
import { openIndexDb } from '../dist/src/db/db.js';
import { CopyIndex } from '../dist/src/db/kallsyms-copies.js';
import { checkTarget } from '../dist/src/klp/binding.js';
import { objectName } from '../dist/src/db/alias-rows.js';

const [oldPath, newPath, ...flags] = process.argv.slice(2);
const functions = flags.includes('--functions');
const list = flags.includes('--list');
if (!oldPath || !newPath) {
  console.error('usage: sympos-drift.mjs OLD.db NEW.db [--list]');
  process.exit(2);
}
const oldIdx = new CopyIndex(openIndexDb(oldPath));
const newIdx = new CopyIndex(openIndexDb(newPath));
const counts = new Map();
let copies = 0;
for (const o of oldIdx.objects()) {
  const objname = objectName(o);
  for (const [name, group] of oldIdx.allCopies(o)) {
    if (group.length < 2 || (functions && !group.some((c) => /^[tT]$/.test(c.letter)))) continue;
    const target = newIdx.copies(objname, name);
    for (const c of group) {
      if (functions && !/^[tT]$/.test(c.letter)) continue;
      copies++;
      const r = target ? checkTarget(target, c.rank, group) : { status: 'no-object', match: null };
      const key = r.status === 'ok' ? `ok (${r.match})` : r.status;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (list && r.status !== 'ok') console.log(`${objname}\t${name},${c.rank}\t${r.status}${r.symposToBind != null ? `\tnow ${r.symposToBind}` : ''}`);
    }
  }
}
console.log(`${copies} ${functions ? 'function ' : ''}copies of in-object duplicate names in ${oldPath}, checked in ${newPath}:`);
for (const [k, n] of [...counts].sort()) console.log(`  ${k}\t${n}`);
