// Real-kernel tier (Debian 6.1 cloud-amd64): `resolve` names the callers of every notrace function copy
// with an alias in bridge, nfsd, ceph and drbd, and of a sample of vmlinux's; each copy's direct call sites
// must be exactly the call and jump instructions `objdump -dr` shows reaching it (its resolved target, or its
// R_X86_64_PLT32/PC32 relocation), each in the function objdump puts it in.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { resolve } from '../../src/commands/resolve.js';
import { openIndexDb } from '../../src/db/db.js';
import { corpus61 } from '../helpers/corpus.js';
import { ksymtree } from '../helpers/cli.js';
import { haveTool } from '../helpers/symbolize-oracle.js';

const corpus = corpus61();
const real = corpus && haveTool('objdump') ? test.serial : test.skip;

const MODULES = ['net/bridge/bridge.ko', 'fs/nfsd/nfsd.ko', 'fs/ceph/ceph.ko', 'drivers/block/drbd/drbd.ko'];

/** A place in a module: section name and offset; in vmlinux the address alone (section ''). */
const key = (section: string, offset: bigint) => `${section}+0x${offset.toString(16)}`;

/**
 * objdump -dr's direct calls and jumps, by the place they reach: `CALLER+0xOFF` of each. A relocated
 * displacement (`R_X86_64_PLT32 .text+0x1e7cc`) reaches its section at the addend + 4; an unrelocated one
 * the address objdump prints, in the instruction's own section. Targets named by a symbol rather than a
 * section are left out: they are not copies of a name duplicated in the module (gas names those by section).
 */
function objdumpCalls(path: string, linked = false): Map<string, string[]> {
  const text = execFileSync('objdump', ['-dr', '--no-show-raw-insn', path], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const out = new Map<string, string[]>();
  let section = '';
  let fn = '';
  let fnStart = 0n;
  let pending: { at: bigint; target: string | null } | null = null;
  const add = (target: string | null, at: bigint) => {
    if (target === null) return;
    const list = out.get(target) ?? [];
    list.push(`${fn}+0x${(at - fnStart).toString(16)}`);
    out.set(target, list);
  };
  for (const line of text.split('\n')) {
    const sec = /^Disassembly of section (\S+):$/.exec(line);
    if (sec) section = linked ? '' : sec[1];
    const head = /^([0-9a-f]+) <(.+)>:$/.exec(line);
    if (head) {
      fn = head[2];
      fnStart = BigInt(`0x${head[1]}`);
    }
    // A linked vmlinux keeps its link's relocations (--emit-relocs): its displacements are final already.
    if (linked && /^\s*[0-9a-f]+: R_/.test(line)) continue;
    const rel = /^\s*([0-9a-f]+): R_X86_64_(?:PLT32|PC32)\s+(\.[\w.]+)([+-]0x[0-9a-f]+)?$/.exec(line);
    if (rel && pending && BigInt(`0x${rel[1]}`) === pending.at + 1n) {
      pending.target = key(rel[2], signedHex(rel[3]) + 4n);
      continue;
    }
    if (/^\s*[0-9a-f]+: R_/.test(line)) {
      if (pending && /^\s*([0-9a-f]+):/.exec(line)![1] === (pending.at + 1n).toString(16)) pending.target = null; // a symbol, not a section
      continue;
    }
    const insn = /^\s*([0-9a-f]+):\s+(?:call|jmp)\s+([0-9a-f]+) </.exec(line);
    if (pending) add(pending.target, pending.at);
    pending = insn ? { at: BigInt(`0x${insn[1]}`), target: key(section, BigInt(`0x${insn[2]}`)) } : null;
  }
  if (pending) add(pending.target, pending.at);
  return out;
}

/** `+0x1c`, `-0x4` or nothing, as a number. */
const signedHex = (s: string | undefined) => (!s ? 0n : s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s.slice(1)));

real('resolve: the callers of each notrace copy in 4 modules are the calls and jumps objdump -dr shows reaching it', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'ksymtree-callers-'));
  const tree = join(work, 'tree');
  for (const rel of MODULES) {
    mkdirSync(join(tree, rel, '..'), { recursive: true });
    symlinkSync(join(corpus!.debug, 'kernel', rel), join(tree, rel));
  }
  const db = join(work, 'index.db');
  const idx = await ksymtree(['index', tree, '--db', db, '--quiet']);
  t.is(idx.status, 0, idx.stderr);
  const d = openIndexDb(db);
  let copies = 0;
  let sites = 0;
  const bad: string[] = [];
  try {
    for (const rel of MODULES) {
      const oracle = objdumpCalls(join(corpus!.debug, 'kernel', rel));
      const rows = d.prepare(`SELECT a.alias, sec.name AS section, s.value FROM aliases a JOIN objects o ON o.id = a.object_id
          JOIN symbols s ON s.object_id = a.object_id AND s.idx = a.idx JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx
          WHERE o.path LIKE ? AND s.type = 2 AND s.ftrace = 0 ORDER BY a.idx`).all(`%/${rel}`) as { alias: string; section: string; value: string }[];
      for (const r of rows) {
        const [rec] = (await resolve(d, r.alias, {})).filter((x) => x.path.endsWith(rel));
        t.truthy(rec.probe_refused, r.alias);
        t.is(rec.callers_error, null, r.alias);
        const ours = (rec.callers ?? []).map((c) => c.at).sort();
        const theirs = (oracle.get(key(r.section, BigInt(`0x${r.value}`))) ?? []).sort();
        copies++;
        sites += theirs.length;
        if (JSON.stringify(ours) !== JSON.stringify(theirs)) bad.push(`${rel} ${r.alias}: ours ${ours.join(' ')}; objdump ${theirs.join(' ')}`);
      }
    }
  } finally {
    d.close();
  }
  t.log(`${copies} notrace copies, ${sites} call sites in objdump, ${bad.length} disagreements`);
  for (const b of bad) t.log(b);
  t.true(copies >= 20);
  t.true(sites >= 1);
  t.deepEqual(bad, []);
});

real('resolve: the callers of every 20th notrace vmlinux copy are the calls and jumps objdump -d shows reaching it', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'ksymtree-callers-vmlinux-'));
  const tree = join(work, 'tree');
  mkdirSync(tree);
  symlinkSync(join(corpus!.debug, 'vmlinux'), join(tree, 'vmlinux'));
  const db = join(work, 'index.db');
  const idx = await ksymtree(['index', tree, '--db', db, '--quiet']);
  t.is(idx.status, 0, idx.stderr);
  const oracle = objdumpCalls(join(tree, 'vmlinux'), true);
  const d = openIndexDb(db);
  const bad: string[] = [];
  let copies = 0;
  let sites = 0;
  try {
    const rows = d.prepare(`SELECT a.alias, s.value FROM aliases a JOIN symbols s ON s.object_id = a.object_id AND s.idx = a.idx
        WHERE s.type = 2 AND s.ftrace = 0 ORDER BY a.idx`).all() as { alias: string; value: string }[];
    for (const r of rows.filter((_, i) => i % 20 === 0)) {
      const [rec] = await resolve(d, r.alias, {});
      t.is(rec.callers_error, null, r.alias);
      const ours = (rec.callers ?? []).map((c) => c.at).sort();
      const theirs = (oracle.get(key('', BigInt(`0x${r.value}`))) ?? []).sort();
      copies++;
      sites += theirs.length;
      if (JSON.stringify(ours) !== JSON.stringify(theirs)) bad.push(`${r.alias}: ours ${ours.join(' ')}; objdump ${theirs.join(' ')}`);
    }
  } finally {
    d.close();
  }
  t.log(`${copies} notrace vmlinux copies, ${sites} call sites in objdump, ${bad.length} disagreements`);
  for (const b of bad) t.log(b);
  t.true(copies >= 20);
  t.true(sites >= 10);
  t.deepEqual(bad, []);
});
