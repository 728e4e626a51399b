// Issue 11's boot proof on Debian's own kernel (6.1 cloud-amd64, the e2e corpus): a livepatch for one copy of
// vmlinux's name_show (drivers/rtc/sysfs.c's, behind /sys/class/rtc/rtc0/name; not copy 1, so a wrong sympos
// would patch another copy), its klp_func from `ksymtree klp funcs ALIAS`, built against Debian's linux-headers
// of that kernel, passes `klp check`, loads, and changes that copy's output only: the files of two other copies
// (kernel/irq/irqdesc.c: /sys/kernel/irq/N/name; drivers/base/power/wakeup_stats.c: /sys/class/wakeup/*/name)
// read as in a boot without it. Oracle for the copies' order: nm -n with llvm-symbolizer-19.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { ksymtree } from '../helpers/cli.js';
import { cloudCorpus } from '../helpers/corpus.js';
import { vmlinuxSourcePaths } from '../helpers/copy-oracle.js';
import type { KlpCheckRecord } from '../../src/commands/klp.js';
import { bootCapture, bootTimeoutMs } from './harness/boot.js';
import { debianHeaders } from './harness/headers.js';
import { KERNELS, type KernelCorpus } from './harness/kernels.js';
import { cachedLivepatch, guestFiles, klpFuncsFor, LIVEPATCH_MODULE, livepatchGuestScript } from './harness/livepatch.js';
import { corpusTest } from './harness/suite.js';

const spec = KERNELS.find((k) => k.id === '6.1-cloud-amd64')!;
const NAME = 'name_show';
/** The copy to patch and the sysfs files it serves; two other copies and theirs. */
const PATCHED = { site: 'drivers/rtc/sysfs.c', glob: '/sys/class/rtc/rtc*/name' };
const OTHERS = [{ site: 'kernel/irq/irqdesc.c', glob: '/sys/kernel/irq/*/name' }, { site: 'drivers/base/power/wakeup_stats.c', glob: '/sys/class/wakeup/*/name' }];
const PATCHED_TEXT = 'ksymtree-livepatched';
const TITLE = `e2e ${spec.id}: a livepatch built against Debian's linux-headers with \`klp funcs\` patches the ${NAME} copy its alias names, and only it`;

interface Copy { alias: string; decl_file: string; sympos: number }

/** Index one vmlinux into `db` (its copies and sites: what klp funcs and klp check read). */
async function indexVmlinux(t: ExecutionContext, vmlinux: string, db: string): Promise<void> {
  const r = await ksymtree(['index', vmlinux, '--db', db, '--quiet', '--jobs', '2']);
  t.is(r.status, 0, r.stderr);
}

/** The files a glob matched in a guest's output. */
const matching = (files: Map<string, string>, glob: string) => {
  const re = new RegExp(`^${glob.replace(/\*/g, '[^/]+')}$`);
  return [...files.keys()].filter((f) => re.test(f));
};

/** klp check against 6.12 (when its corpus is there): bound as nm's order says the rtc copy is placed there. */
async function check612(t: ExecutionContext, ko: string, db61: string, sympos: number, work: string): Promise<void> {
  const c612 = cloudCorpus('6.12');
  if (!c612) {
    t.log('6.12 cloud-amd64 corpus absent: klp check against 6.12 not run');
    return;
  }
  const db = join(work, 'vmlinux-6.12.db');
  await indexVmlinux(t, join(c612.debug, 'vmlinux'), db);
  const text = await ksymtree(['klp', 'check', ko, '--reference', db61, '--db', db]);
  t.log(`klp check against 6.12 (exit ${text.status}):\n${text.stdout}${text.stderr}`);
  const rec = JSON.parse((await ksymtree(['klp', 'check', ko, '--reference', db61, '--db', db, '--format', 'json'])).stdout) as KlpCheckRecord;
  const in612 = rec.references[0].builds.find((b) => b.db === db)!;
  const paths = await vmlinuxSourcePaths(join(c612.debug, 'vmlinux'), NAME, /^[tT]$/);
  const position = paths.findIndex((p) => p.endsWith(PATCHED.site)) + 1;
  t.log(`6.12 (nm -n, llvm-symbolizer-19): ${paths.length} copies of ${NAME}; ${PATCHED.site}'s is copy ${position}`);
  t.true(position > 0, `6.12 still has ${PATCHED.site}'s ${NAME}`);
  if (position === sympos) t.is(in612.status, 'ok');
  else {
    t.is(in612.status, sympos > paths.length ? 'out-of-range' : 'other-copy');
    t.is(in612.sympos_to_bind, position);
    t.is(text.status, 1);
    // the text says how the reference's copy was recognised beside the sympos that binds it, not beside the wrong copy
    const line = text.stdout.split('\n').find((l) => l.includes('FAIL'))!;
    t.true(line.endsWith(`sympos ${position} binds the reference's copy here${in612.match === 'moved' ? ' (same file and unit, other line)' : ''}`), line);
  }
}

async function proof(t: ExecutionContext, corpus: KernelCorpus): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'ksymtree-klp-boot-cloud-'));
  try {
    const vmlinux = join(corpus.debug, 'vmlinux');
    const db = join(work, 'vmlinux.db');
    await indexVmlinux(t, vmlinux, db);
    const copies = (JSON.parse((await ksymtree(['lookup', NAME, '--db', db, '--format', 'json'])).stdout) as Copy[]).sort((a, b) => a.sympos - b.sympos);
    // the copies' order is the kernel's walk (6.1: address order), by nm -n and the line table of each copy's first instruction
    const oracle = await vmlinuxSourcePaths(vmlinux, NAME, /^[tT]$/);
    t.deepEqual(copies.map((c) => c.sympos), oracle.map((_, k) => k + 1));
    copies.forEach((c, k) => t.true(oracle[k].endsWith(c.decl_file), `copy ${k + 1}: ${c.decl_file} / ${oracle[k]}`));
    const target = copies.find((c) => c.decl_file === PATCHED.site)!;
    t.truthy(target, `${NAME} has a copy defined in ${PATCHED.site}`);
    t.not(target.sympos, 1, 'the patched copy is not the first: a sympos off by one, or 0, would not bind it');
    for (const o of OTHERS) t.truthy(copies.find((c) => c.decl_file === o.site), `${NAME} has a copy defined in ${o.site}`);

    // the livepatch, as its author makes it: klp funcs' arrays pasted in, built against Debian's headers
    const src = await klpFuncsFor(target.alias, db);
    t.regex(src.funcs, new RegExp(`\\.old_name = "${NAME}",[\\s\\S]*\\.old_sympos = ${target.sympos},`));
    const moduleDir = cachedLivepatch(await debianHeaders(corpus.kernel), src);
    const ko = join(moduleDir, 'livepatch-ksymtree.ko');
    const check = await ksymtree(['klp', 'check', ko, '--db', db]);
    t.log(`klp check against 6.1 (exit ${check.status}):\n${check.stdout}`);
    t.is(check.status, 0, `${check.stdout}${check.stderr}`);
    t.true(check.stdout.includes(`binds ${target.alias}`), check.stdout);

    const guestScript = livepatchGuestScript([PATCHED.glob, ...OTHERS.map((o) => o.glob)]);
    const boot = (modules: string[]) => bootCapture({ kernel: corpus.kernel, modulesDir: moduleDir, modules, guestScript,
      log: (l) => console.error(`[klp ${spec.id}] ${l}`) });
    const before = guestFiles((await boot([])).guest);
    const capture = await boot([LIVEPATCH_MODULE]);
    const after = guestFiles(capture.guest);
    t.log(`with the livepatch (${capture.dir}):\n${capture.guest.trim()}`);
    const insmod = capture.insmod.find((i) => i.name === LIVEPATCH_MODULE);
    t.is(insmod?.status, 0, `insmod: ${insmod?.message}`);
    t.is(after.get('enabled'), '1', `/sys/kernel/livepatch/${LIVEPATCH_MODULE}/enabled`);
    t.is(after.get('transition'), '0', 'the transition ended');
    t.is(after.get('functions'), `${NAME},${target.sympos}`, `/sys/kernel/livepatch/${LIVEPATCH_MODULE}/vmlinux/`);
    const patched = matching(after, PATCHED.glob);
    t.true(patched.length > 0, `${PATCHED.glob} exists`);
    for (const f of patched) {
      t.not(before.get(f), PATCHED_TEXT);
      t.is(after.get(f), PATCHED_TEXT, `${f} is served by the patched copy`);
    }
    for (const o of OTHERS) {
      const files = matching(before, o.glob);
      t.true(files.length > 0, `${o.glob} exists (${o.site}'s copy)`);
      for (const f of files) t.is(after.get(f), before.get(f), `${f} (${o.site}'s copy of ${NAME}) is unchanged`);
    }
    t.regex(readFileSync(join(capture.dir, 'dmesg'), 'latin1'), /livepatch: '?livepatch_ksymtree'?: (starting patching transition|patching complete)/);

    await check612(t, ko, db, target.sympos, work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

corpusTest(spec, TITLE, 4 * bootTimeoutMs() + 20 * 60_000, 'index, headers, module build, two boots', proof);
