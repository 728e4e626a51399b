// Real-kernel tier for `ksymtree klp` (Debian 6.1 cloud-amd64 debug vmlinux and bridge.ko). A livepatch
// object naming every copy of vmlinux's name_show and bridge.ko's jhash through `.klp.sym` symbols is checked
// against the index; oracles: nm -n (6.1 walks vmlinux's kallsyms in address order) with llvm-symbolizer-19,
// and readelf -s (bridge.ko's .symtab order, the STT_FILE before each copy).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import test from 'ava';
import { corpus61 } from '../helpers/corpus.js';
import { ksymtree } from '../helpers/cli.js';
import { markLivepatch } from '../helpers/build-klp-fixtures.js';
import { moduleFiles, vmlinuxAddresses, vmlinuxFiles } from '../helpers/copy-oracle.js';
import { exec } from '../helpers/exec.js';
import type { KlpCheckRecord, KlpFuncRecord } from '../../src/commands/klp.js';

const corpus = corpus61();
const real = corpus ? test.serial : test.skip;
const work = mkdtempSync(join(tmpdir(), 'ksymtree-real-klp-'));
const db = join(work, 'ksymtree.db');
const vmlinux = () => join(corpus!.debug, 'vmlinux');
const bridge = () => join(corpus!.debug, 'kernel/net/bridge/bridge.ko');

/** One `.klp.rela.<obj>..text` section per object, calling `.klp.sym.<obj>.<name>,<pos>` for each reference. */
async function livepatchObject(refs: readonly { objname: string; name: string; sympos: number }[]): Promise<string> {
  const lines: string[] = [];
  for (const obj of [...new Set(refs.map((r) => r.objname))]) {
    lines.push(`\t.section .text..klp.rela.${obj}..text, "ax", @progbits`, `\t.globl patched_${obj}`, `patched_${obj}:`);
    for (const r of refs.filter((x) => x.objname === obj)) lines.push(`\tcall ".klp.sym.${obj}.${r.name},${r.sympos}"`);
  }
  const src = join(work, 'real-klp.S');
  writeFileSync(src, `${lines.join('\n')}\n`);
  const out = join(work, 'real-klp.o');
  await exec('gcc', ['-c', src, '-o', out]);
  markLivepatch(out);
  return out;
}

real('index the debug vmlinux and bridge.ko', async (t) => {
  const r = await ksymtree(['index', vmlinux(), bridge(), '--db', db, '--quiet', '--jobs', '1']);
  t.is(r.status, 0, r.stderr);
});

real("every copy of name_show (vmlinux) and jhash (bridge.ko) binds the copy nm/readelf put at that position; 0 and n+1 fail", async (t) => {
  const showFiles = await vmlinuxFiles(vmlinux(), 'name_show', /^[tT]$/);
  const jhashFiles = await moduleFiles(bridge(), 'jhash');
  t.is(showFiles.length, 6);
  t.is(jhashFiles.length, 4);
  const refs = [
    ...showFiles.map((_, k) => ({ objname: 'vmlinux', name: 'name_show', sympos: k + 1 })),
    { objname: 'vmlinux', name: 'name_show', sympos: 0 }, { objname: 'vmlinux', name: 'name_show', sympos: 7 },
    ...jhashFiles.map((_, k) => ({ objname: 'bridge', name: 'jhash', sympos: k + 1 })),
  ];
  const module = await livepatchObject(refs);
  const r = await ksymtree(['klp', 'check', module, '--reference', db, '--format', 'json']);
  t.is(r.status, 1, r.stderr);
  const rec = JSON.parse(r.stdout) as KlpCheckRecord;
  t.deepEqual(rec.errors, []);
  t.deepEqual(rec.references.map((x) => [x.objname, x.name, x.sympos]), refs.map((x) => [x.objname, x.name, x.sympos]));
  for (const x of rec.references) {
    const b = x.builds[0];
    const files = x.objname === 'vmlinux' ? showFiles : jhashFiles;
    t.is(b.copies, files.length);
    if (x.sympos === 0) t.is(b.status, 'ambiguous');
    else if (x.sympos > files.length) t.is(b.status, 'out-of-range');
    else {
      t.is(b.status, 'ok');
      // name_show's site is its own .c file; jhash's is jhash.h in every copy, its unit tells them apart.
      t.is(basename(x.objname === 'vmlinux' ? b.bound!.decl_file! : b.bound!.unit!), files[x.sympos - 1], `${x.name},${x.sympos}`);
    }
  }
});

real('klp funcs gives the old_sympos of the alias that nm order puts there', async (t) => {
  const copies = JSON.parse((await ksymtree(['lookup', 'name_show', '--db', db, '--format', 'json'])).stdout) as { alias: string; address: string }[];
  const order = (await vmlinuxAddresses(vmlinux(), 'name_show', /^[tT]$/)).map((a) => a.slice(2));
  for (const c of copies) {
    const r = await ksymtree(['klp', 'funcs', c.alias, '--db', db, '--format', 'json']);
    t.is(r.status, 0, r.stderr);
    const [rec] = JSON.parse(r.stdout) as KlpFuncRecord[];
    t.deepEqual([rec.objname, rec.old_name, rec.old_sympos], ['vmlinux', 'name_show', order.indexOf(c.address) + 1]);
  }
});
