// Issue 10's proof: Debian's linux-source-6.1, built with contrib/kbuild's patch and `make KSYMTREE=...`
// (scripts/kbuild-kernel, cached), booted under qemu. The running kernel must list every vmlinux alias once, at
// its original's address with its letter, keep the originals' order (sympos), print original names in stack
// traces and available_filter_functions, accept kprobes on aliases (and refuse the duplicated name), and load
// the modules rewritten by contrib/kbuild/ksymtree-modules-install with signatures enforced.
// scripts/test.sh builds the kernel and sets KSYMTREE_KBUILD_61 to scripts/kbuild-kernel's directory.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ksymtree } from '../helpers/cli.js';
import { bootCapture, type Capture } from './harness/boot.js';
import { byObject, type KsymLine, parseKallsyms } from './harness/compare.js';
import { kbuildTest } from './harness/kbuild.js';



/** `ADDRESS LETTER NAME` lines of a mksysmap-style list, and the alias lines with the line before them. */
function aliasLines(file: string): { alias: KsymLine; original: KsymLine }[] {
  const lines = parseKallsyms(readFileSync(file, 'latin1'));
  const out: { alias: KsymLine; original: KsymLine }[] = [];
  lines.forEach((l, i) => {
    if (l.name.includes('@') && i > 0 && l.name.startsWith(`${lines[i - 1].name}@`)) out.push({ alias: l, original: lines[i - 1] });
  });
  return out;
}

/** The last kallsyms pass's list with aliases (.tmp_vmlinux.kallsyms2 or 3): what the final vmlinux embeds. */
function lastPass(aliased: string): string {
  const passes = readdirSync(aliased).filter((f) => /^\.tmp_vmlinux\.kallsyms\d+\.syms\.aliases$/.test(f)).sort();
  if (!passes.length) throw new Error(`${aliased}: no .tmp_vmlinux.kallsyms*.syms.aliases (was the link made with KSYMTREE?)`);
  return join(aliased, passes.at(-1)!);
}

const same = (a: string, b: string) => spawnSync('cmp', ['-s', a, b]).status === 0;

/** The guest's checks: kprobe events on `probes` (event name, target), the kprobe list, ftrace's function list. */
function guestScript(probes: readonly [string, string][]): string {
  return [
    '$B mount -t tracefs nodev /sys/kernel/tracing; $B mount -t debugfs nodev /sys/kernel/debug',
    'T=/sys/kernel/tracing',
    ...probes.map(([ev, target]) =>
      `if echo 'p:ksymtree/${ev} ${target}' >> $T/kprobe_events 2> /tmp/probe.err; then echo "@@PROBE ${ev} ok"; else echo "@@PROBE ${ev} refused $($B tr '\\n' ' ' < /tmp/probe.err)"; fi`),
    'echo @@KPROBES; $B cat /sys/kernel/debug/kprobes/list',
    'echo @@FUNCTIONS; $B cat $T/available_filter_functions',
    'echo @@END',
  ].join('\n');
}

function section(text: string, name: string): string[] {
  const lines = text.split('\n');
  const at = lines.indexOf(`@@${name}`);
  const end = lines.findIndex((l, i) => i > at && /^@@[A-Z]+$/.test(l));
  return at < 0 ? [] : lines.slice(at + 1, end < 0 ? undefined : end);
}

kbuildTest('kbuild 6.1: a kernel linked with KSYMTREE lists every vmlinux alias at its original\'s address, stack traces and ftrace print originals, kprobes take aliases, re-signed modules load', async (t, dir) => {
  const aliased = join(dir, 'aliased');

  // the build: the patch alone changes nothing; two links with ksymtree give the same bytes
  t.true(same(join(dir, 'plain/vmlinux'), join(dir, 'stock/vmlinux')), 'patched scripts without KSYMTREE link the same vmlinux as the unpatched ones');
  t.true(same(join(aliased, 'vmlinux'), join(aliased, 'relinked/vmlinux')), 'two links with KSYMTREE give byte-identical vmlinux');
  t.log(readFileSync(join(aliased, 'times'), 'utf8').trim().replace(/\n/g, ', '), '(seconds)');

  const expected = aliasLines(lastPass(aliased));
  t.true(expected.length >= 50, `${expected.length} vmlinux aliases in the last pass`);
  const release = readdirSync(join(aliased, 'modules/lib/modules'))[0];
  const modulesDir = join(aliased, 'modules/lib/modules', release);
  const db = join(modulesDir, 'ksymtree.db');
  const rows = JSON.parse((await ksymtree(['aliases', '--db', db, '--format', 'json'])).stdout) as
    { module: string | null; name: string; alias: string; sympos: number; kallsyms: string; ftrace: boolean | null }[];
  const vmlinuxRows = rows.filter((r) => !r.module);
  const moduleRows = rows.filter((r) => r.module);
  const modules = [...new Set(moduleRows.map((r) => r.module!))].sort();
  t.true(modules.length >= 1, `modules with aliases: ${modules.join(', ')}`);

  const boot = (kernel: string, mods: string[], script: string): Promise<Capture> =>
    bootCapture({ kernel, modulesDir, modules: mods, cmdline: 'module.sig_enforce=1', traces: true, guestScript: script, reboot: true, log: (l) => console.error(`[kbuild 6.1] ${l}`) });
  // The kernel built without KSYMTREE first: which functions ftrace can attach to. kprobe events refuse the
  // others (notrace, e.g. every out-of-line copy of a header `static inline`) whatever their name.
  const stock = await boot(join(dir, 'stock/bzImage'), [], guestScript([]));
  const traceable = new Map<string, number>();
  for (const l of section(stock.guest, 'FUNCTIONS')) traceable.set(l.split(' ')[0], (traceable.get(l.split(' ')[0]) ?? 0) + 1);
  // probes: aliases of copies of names whose every copy ftrace lists, the duplicated name itself, a module alias
  const copiesOf = new Map<string, number>();
  for (const e of expected) copiesOf.set(e.original.name, (copiesOf.get(e.original.name) ?? 0) + 1);
  const candidates = expected.filter((e) => 'tT'.includes(e.alias.letter) && traceable.get(e.original.name) === copiesOf.get(e.original.name)).slice(0, 12);
  t.true(candidates.length >= 5, `${candidates.length} aliases of traceable duplicated functions`);
  const moduleText = moduleRows.find((r) => 'tT'.includes(r.kallsyms) && r.ftrace);
  // and every function alias, vmlinux and modules: the kernel must take exactly those ksymtree marks traceable
  const probed = rows.filter((r) => r.ftrace !== null);
  const target = (r: (typeof rows)[number]) => (r.module ? `${r.module}:${r.alias}` : r.alias);
  const probes: [string, string][] = [
    ...candidates.map((e, i): [string, string] => [`a${i}`, e.alias.name]),
    ['dup', candidates[0].original.name],
    ...(moduleText ? [['mod', target(moduleText)] as [string, string]] : []),
    ...probed.map((r, i): [string, string] => [`f${i}`, target(r)]),
  ];
  const capture = await boot(join(aliased, 'bzImage'), modules, guestScript(probes));
  t.log(`captures ${capture.dir} (${capture.bootSeconds} s), ${stock.dir} (${stock.bootSeconds} s)`);

  // (1) every vmlinux alias once, at its original's address, with its letter
  const kernel = byObject(parseKallsyms(capture.kallsyms)).get('')!;
  const byName = new Map<string, KsymLine[]>();
  for (const l of kernel) byName.set(l.name, [...(byName.get(l.name) ?? []), l]);
  const problems: string[] = [];
  for (const { alias, original } of expected) {
    const listed = byName.get(alias.name) ?? [];
    if (listed.length !== 1) problems.push(`${alias.name} listed ${listed.length} times`);
    else if (listed[0].address !== original.address || listed[0].letter !== alias.letter) {
      problems.push(`${alias.name} at ${listed[0].address.toString(16)} ${listed[0].letter}, its original ${original.name} at ${original.address.toString(16)} ${alias.letter}`);
    }
  }
  // (2) sympos: the n-th copy the kernel lists is the one ksymtree's index calls sympos n
  for (const r of vmlinuxRows) {
    const copy = (byName.get(r.name) ?? [])[Number(r.sympos) - 1];
    const alias = byName.get(r.alias)?.[0];
    if (!copy || !alias || copy.address !== alias.address) problems.push(`${r.alias}: sympos ${r.sympos} of ${r.name} is not the copy at its address`);
  }
  // (3) apart from the aliases, the same kallsyms as the kernel linked without ksymtree, in the same order
  const strip = (ls: readonly KsymLine[]) => ls.filter((l) => !l.name.includes('@')).map((l) => `${l.letter} ${l.name}`);
  const stockLines = strip(byObject(parseKallsyms(stock.kallsyms)).get('')!);
  const aliasedLines = strip(kernel);
  t.deepEqual(aliasedLines, stockLines, 'the originals, their letters and their order are those of the kernel built without KSYMTREE');
  t.is(kernel.length - aliasedLines.length, expected.length, 'the kernel lists exactly the aliases of the last pass');
  t.log(`${expected.length} vmlinux aliases checked, ${vmlinuxRows.length} sympos checked, ${problems.length} problems`);
  for (const p of problems.slice(0, 20)) t.log(p);
  t.is(problems.length, 0);

  // (4) kprobes: aliases accepted at their copy's address, the duplicated name refused
  const guest = capture.guest;
  const result = new Map(guest.split('\n').filter((l) => l.startsWith('@@PROBE ')).map((l) => [l.split(' ')[1], l.split(' ').slice(2).join(' ')]));
  const accepted = candidates.filter((_, i) => result.get(`a${i}`) === 'ok');
  t.true(accepted.length >= 5, `kprobe_events took ${accepted.length} of ${candidates.length} aliases: ${candidates.map((c, i) => `${c.alias.name} ${result.get(`a${i}`)}`).join('; ')}`);
  t.regex(result.get('dup') ?? '', /^refused.*Cannot assign requested address/, `p:ksymtree/dup ${candidates[0].original.name} must be refused as not unique (EADDRNOTAVAIL)`);
  const listed = section(guest, 'KPROBES');
  for (const c of accepted) {
    const ev = `a${candidates.indexOf(c)}`;
    // "ADDRESS  k  SYMBOL+0x0  [FTRACE]": the probe's address, printed by name as address lookups do
    const line = listed.find((l) => l.startsWith(`${c.original.address.toString(16).padStart(16, '0')} `));
    t.truthy(line, `${ev} (${c.alias.name}) is at ${c.original.address.toString(16)} in kprobes/list:\n${listed.join('\n')}`);
  }
  if (moduleText) t.is(result.get('mod'), 'ok', `p:ksymtree/mod ${moduleText.module}:${moduleText.alias}`);

  // (5) address to name prints originals: ftrace's function list and the stack traces of sysrq l/t
  const functions = section(guest, 'FUNCTIONS');
  t.true(functions.length > 1000, `${functions.length} lines in available_filter_functions`);
  t.deepEqual(functions.filter((l) => l.includes('@')), [], 'no alias in available_filter_functions');
  t.true(functions.some((l) => l.split(' ')[0] === candidates[0].original.name), `${candidates[0].original.name} in available_filter_functions`);
  const dmesg = readFileSync(join(capture.dir, 'dmesg'), 'latin1');
  const frames = dmesg.split('\n').filter((l) => /\b[\w.]+\+0x[0-9a-f]+\/0x[0-9a-f]+/.test(l));
  t.true(frames.length > 10, `${frames.length} stack frames in dmesg`);
  t.deepEqual(frames.filter((l) => /\S+@\S+\+0x/.test(l)), [], 'no alias in stack traces');

  // (6) modules rewritten and re-signed by ksymtree-modules-install load with signatures enforced; aliases listed
  for (const m of modules) t.is(capture.insmod.find((i) => i.name === m)?.status, 0, `insmod ${m} with module.sig_enforce=1`);
  const modLines = byObject(parseKallsyms(capture.kallsyms));
  for (const r of moduleRows) t.true((modLines.get(r.module!) ?? []).some((l) => l.name === r.alias), `${r.module}: ${r.alias} in /proc/kallsyms`);

  // (7) ftrace entries (__mcount_loc): kprobe events (CONFIG_KPROBE_EVENTS_ON_NOTRACE unset) refuse exactly the
  // copies ksymtree marks notrace; traceable ones are taken, but for init code the kernel has freed
  const initText = ['_sinittext', '_einittext'].map((n) => parseKallsyms(readFileSync(join(aliased, 'System.map'), 'latin1')).find((l) => l.name === n)!.address);
  const wrong: string[] = [];
  let taken = 0;
  let refused = 0;
  let freedInit = 0;
  probed.forEach((r, i) => {
    const got = result.get(`f${i}`) ?? 'missing';
    const ok = got === 'ok';
    taken += Number(ok);
    refused += Number(!ok);
    const copy = r.module ? null : (byName.get(r.alias) ?? [])[0];
    const inInit = r.module ? false : !!copy && copy.address >= initText[0] && copy.address < initText[1];
    if (!ok && r.ftrace && inInit) freedInit++;
    else if (ok !== r.ftrace) wrong.push(`${target(r)}: ksymtree says ${r.ftrace ? 'traceable' : 'notrace'}, the kernel ${got}`);
  });
  t.log(`${probed.length} function aliases probed: ${taken} taken, ${refused} refused (${freedInit} traceable but freed init code); ${wrong.length} disagreements`);
  for (const w of wrong.slice(0, 20)) t.log(w);
  t.true(probed.some((r) => r.ftrace === false) && probed.some((r) => r.ftrace === true), 'both kinds are probed');
  t.is(wrong.length, 0);
});
