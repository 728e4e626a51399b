// The e2e checks of one booted kernel, shared by the per-kernel test files:
//  (a) `ksymtree kallsyms --sections <captured /sys/module>` equals the kernel's /proc/kallsyms, per object;
//  (b) for every name duplicated inside an object, the kernel's n-th line of that name is ksymtree's sympos n.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { ksymtree, parseTsv } from '../../helpers/cli.js';
import { bootCapture, type BootOptions, bootTimeoutMs, type Capture } from './boot.js';
import { byObject, checkSympos, compareObject, type Comparison, differenceCount, type DuplicateCopy, type KsymLine, parseKallsyms, summarize } from './compare.js';
import { type KernelCorpus, kernelCorpus, type KernelSpec } from './kernels.js';
import { emptyAllocSections, readModuleElf } from './modules.js';
import { ARCHES, ensureTools } from './qemu.js';

export const PERCPU_SECTION = '.data..percpu';

/** Why the e2e tier cannot run here, or null when it can (installing qemu + busybox-static if needed). */
export function e2eUnavailable(spec: KernelSpec): string | null {
  if (process.env.KSYMTREE_E2E === '0') return 'disabled by KSYMTREE_E2E=0';
  const corpus = kernelCorpus(spec);
  if (typeof corpus === 'string') return corpus;
  const tools = ensureTools(ARCHES[spec.arch], corpus.busybox);
  return typeof tools === 'string' ? tools : null;
}

/** A serial test on `spec`'s corpus (`timeoutMs` for t.timeout, `why` its reason), or a skip whose title says why not. */
export function corpusTest(spec: KernelSpec, title: string, timeoutMs: number, why: string,
  body: (t: ExecutionContext, corpus: KernelCorpus) => Promise<void>): void {
  const unavailable = e2eUnavailable(spec);
  if (unavailable) test.skip(`${title} — SKIPPED (${unavailable})`, () => {});
  else {
    test.serial(title, async (t) => {
      t.timeout(timeoutMs, why);
      await body(t, kernelCorpus(spec) as KernelCorpus);
    });
  }
}

export interface ObjectResult {
  /** '' = vmlinux. */
  readonly object: string;
  readonly comparison: Comparison;
}

export interface E2eRun {
  readonly corpus: KernelCorpus;
  readonly capture: Capture;
  readonly db: string;
  /** The kernel's lines by object ('' = vmlinux); other owners ([bpf], [__builtin__ftrace], ...) are kept apart. */
  readonly kernel: Map<string, KsymLine[]>;
  readonly ours: Map<string, KsymLine[]>;
  readonly results: Map<string, Comparison>;
  /** Aliased copies by object, with the runtime address ksymtree gives each. */
  readonly copies: Map<string, DuplicateCopy[]>;
  readonly percpuCopies: Set<DuplicateCopy>;
  readonly seconds: { boot: number; index: number; total: number };
}

function sectionAddress(capture: Capture, module: string, section: string): bigint | undefined {
  const file = join(capture.sysModule, module, 'sections', section);
  return existsSync(file) ? BigInt(readFileSync(file, 'latin1').trim()) : undefined;
}

/** Boot (or take the cached capture), index the loaded files, run ksymtree kallsyms/symbols/aliases and compare. */
export async function runE2e(spec: KernelSpec, log: (l: string) => void, opts: { compressed?: BootOptions['compressed']; modulesDir?: string } = {}): Promise<E2eRun> {
  const t0 = Date.now();
  const corpus = kernelCorpus(spec);
  if (typeof corpus === 'string') throw new Error(corpus);
  const capture = await bootCapture({ kernel: corpus.kernel, busybox: corpus.busybox, modulesDir: opts.modulesDir ?? corpus.installed, modules: spec.modules, compressed: opts.compressed, log });
  const t1 = Date.now();
  const loaded = capture.moduleSet.modules.filter((m) => capture.insmod.find((i) => i.name === m.name)?.status === 0);
  const db = join(mkdtempSync(join(tmpdir(), `ksymtree-e2e-${spec.id}-`)), 'index.db');
  const idx = await ksymtree(['index', join(corpus.debug, 'vmlinux'), ...loaded.map((m) => m.file), '--debug-dir', corpus.debug, '--db', db, '--quiet', '--jobs', '2']);
  if (idx.status !== 0) throw new Error(`ksymtree index failed (${idx.status}): ${idx.stderr}`);
  const t2 = Date.now();
  const [ks, syms, al] = await Promise.all([
    ksymtree(['kallsyms', '--db', db, '--sections', capture.sysModule]),
    ksymtree(['symbols', '--db', db, '--format', 'tsv']),
    ksymtree(['aliases', '--db', db, '--format', 'tsv']),
  ]);
  for (const r of [ks, syms, al]) if (r.status !== 0) throw new Error(`ksymtree failed (${r.status}): ${r.stderr}`);
  const kernel = byObject(parseKallsyms(capture.kallsyms));
  const ours = byObject(parseKallsyms(ks.stdout));

  // per-cpu symbols of modules: ksymtree prints their offset into the module's per-cpu area; symbols in sections
  // /sys/module does not list (empty ones): their load address is not in ksymtree's input (see compareObject)
  const key = (module: string, name: string, value: bigint) => `${module}\0${name}\0${value}`;
  const percpuKeys = new Set<string>();
  const unlistedKeys = new Set<string>();
  // only sections that are empty in the module file may be missing from /sys/module: any other missing one is
  // a difference (its symbols' addresses will not match)
  const empty = new Map(loaded.map((m) => [m.name, emptyAllocSections(readModuleElf(m.file))]));
  for (const r of parseTsv(syms.stdout)) {
    if (!r.module || !r.kallsyms) continue;
    if (r.section === PERCPU_SECTION) percpuKeys.add(key(r.module, r.name, BigInt(`0x${r.value}`)));
    else if (sectionAddress(capture, r.module, r.section) === undefined && empty.get(r.module)?.has(r.section)) unlistedKeys.add(key(r.module, r.name, BigInt(`0x${r.value}`)));
  }
  const results = new Map<string, Comparison>();
  for (const object of new Set([...kernel.keys(), ...ours.keys()])) {
    if (object !== '' && !capture.moduleSet.modules.some((m) => m.name === object)) continue; // [bpf], [__builtin__*]
    const o = ours.get(object) ?? [];
    const percpu = new Set<number>();
    const unlisted = new Set<number>();
    if (object) {
      o.forEach((l, i) => {
        if (percpuKeys.has(key(object, l.name, l.address))) percpu.add(i);
        else if (unlistedKeys.has(key(object, l.name, l.address))) unlisted.add(i);
      });
    }
    results.set(object, compareObject(kernel.get(object) ?? [], o, percpu, unlisted));
  }

  const copies = new Map<string, DuplicateCopy[]>();
  const percpuCopies = new Set<DuplicateCopy>();
  for (const r of parseTsv(al.stdout)) {
    const object = r.module ?? '';
    const percpu = object !== '' && r.section === PERCPU_SECTION;
    // a section missing from /sys/module: unknowable when empty in the file (null), else no base (a mismatch)
    const base = object && !percpu ? sectionAddress(capture, object, r.section) ?? (empty.get(object)?.has(r.section) ? null : 0n) : 0n;
    const c: DuplicateCopy = { name: r.name, sympos: Number(r.sympos), address: base === null ? null : BigInt(`0x${r.value}`) + base, alias: r.alias };
    if (percpu) percpuCopies.add(c);
    let a = copies.get(object);
    if (!a) copies.set(object, (a = []));
    a.push(c);
  }
  return {
    corpus, capture, db, kernel, ours, results, copies, percpuCopies,
    seconds: { boot: capture.cached ? 0 : (t1 - t0) / 1000, index: (t2 - t1) / 1000, total: (Date.now() - t0) / 1000 },
  };
}

const objectName = (o: string) => o || 'vmlinux';

export interface SuiteOptions {
  /**
   * vmlinux's view is still nm-based emulation (src/kallsyms/vmlinux-rules.ts); a decoder of the kernel's own
   * tables replaces it. While it differs, the vmlinux checks are registered with test.failing: when they start
   * passing, ava reports it and these flags must flip to true.
   */
  readonly vmlinuxExact: boolean;
  readonly vmlinuxSymposExact: boolean;
  readonly compressed?: BootOptions['compressed'];
}

/** Register the e2e tests of one kernel (test.skip with the reason in the title when it cannot run). */
export function kallsymsSuite(spec: KernelSpec, opts: SuiteOptions): void {
  const unavailable = e2eUnavailable(spec);
  const title = (s: string) => `e2e ${spec.id}: ${s}`;
  if (unavailable) {
    test.skip(title(`SKIPPED (${unavailable}): boot, /proc/kallsyms equality and sympos`), () => {});
    return;
  }
  let run: Promise<E2eRun> | undefined;
  const get = (t: ExecutionContext) => {
    t.timeout(4 * bootTimeoutMs() + 15 * 60_000, 'waiting for the boot lock, boot, index');
    run ??= runE2e(spec, (l) => console.error(`[${spec.id}] ${l}`), { compressed: opts.compressed });
    return run;
  };
  // the index (~20 MB) is scratch; the boot capture stays in the cache
  test.after.always(async () => {
    const db = await run?.then((r) => r.db, () => undefined);
    if (db && process.env.KSYMTREE_E2E_KEEP !== '1') rmSync(dirname(db), { recursive: true, force: true });
  });

  test.serial(title(`boots, loads ${spec.modules.join(', ')} with their dependencies; every module is Live`), async (t) => {
    const r = await get(t);
    t.log(`capture ${r.capture.dir}${r.capture.cached ? ' (cached)' : ''}; qemu boot ${r.capture.bootSeconds} s; index ${r.seconds.index.toFixed(1)} s; total ${r.seconds.total.toFixed(1)} s`);
    t.is(r.capture.release, r.capture.moduleSet.vermagic.split(' ')[0]);
    const loaders = new Map<string, number>();
    for (const i of r.capture.insmod) loaders.set(i.loader, (loaders.get(i.loader) ?? 0) + 1);
    t.log(`loaded with: ${[...loaders].map(([l, n]) => `${l === 'finit' ? 'finit_module(MODULE_INIT_COMPRESSED_FILE), the kernel decompressing' : 'busybox insmod'} ${n}`).join(', ')}`);
    const live = new Map(r.capture.procModules.split('\n').filter(Boolean).map((l) => l.split(' ')).map((f) => [f[0], f[4]]));
    for (const m of r.capture.moduleSet.modules) {
      const ins = r.capture.insmod.find((i) => i.name === m.name);
      if (m.reason === 'softdep' && ins?.status !== 0) {
        t.log(`softdep ${m.name} did not load (${ins?.message ?? 'not tried'}): best effort, as modprobe`);
        continue;
      }
      t.is(ins?.status, 0, `insmod ${m.name}: ${ins?.message}`);
      t.is(live.get(m.name), 'Live', `${m.name} in /proc/modules`);
    }
  });

  const checkObjects = (t: ExecutionContext, r: E2eRun, which: 'modules' | 'vmlinux') => {
    const objects = [...r.results.keys()].filter((o) => (which === 'vmlinux' ? o === '' : o !== '')).sort();
    let total = 0;
    for (const o of objects) {
      const c = r.results.get(o)!;
      total += differenceCount(c);
      t.log(`${objectName(o)}: ${summarize(c)}`);
      for (const d of c.differences.slice(0, 8)) t.log(`  ${d.reason} ${d.name}: ${d.detail}`);
      t.true(c.kernelCount > 0, `${objectName(o)}: the kernel lists no line`);
    }
    t.is(total, 0, `${total} differences`);
  };

  test.serial(title('every loaded module: ksymtree kallsyms --sections equals /proc/kallsyms (set, letters, addresses, order)'), async (t) => {
    const r = await get(t);
    t.true(r.results.size > 1);
    checkObjects(t, r, 'modules');
  });

  const vmlinuxTest = opts.vmlinuxExact ? test.serial : test.failing;
  vmlinuxTest(title(`vmlinux: ksymtree kallsyms equals /proc/kallsyms${opts.vmlinuxExact ? '' : ' [failing: nm-based emulation, until the kallsyms-table decoder lands — then flip vmlinuxExact]'}`), async (t) => {
    checkObjects(t, await get(t), 'vmlinux');
  });

  const symposCheck = (t: ExecutionContext, r: E2eRun, which: 'modules' | 'vmlinux') => {
    let problems = 0;
    let names = 0;
    let copies = 0;
    for (const o of [...r.results.keys()].filter((x) => (which === 'vmlinux' ? x === '' : x !== '')).sort()) {
      const base = r.results.get(o)?.percpuBase ?? 0n;
      const res = checkSympos(r.kernel.get(o) ?? [], r.copies.get(o) ?? [], base, (c) => r.percpuCopies.has(c));
      names += res.duplicated;
      copies += res.copies;
      problems += res.problems.length;
      t.log(`${objectName(o)}: ${res.duplicated} duplicated names, ${res.copies} copies checked, ${res.problems.length} problems` +
        (res.unverifiable ? ` (${res.unverifiable} copies in sections /sys/module does not list: position checked, address not)` : ''));
      for (const p of res.problems.slice(0, 8)) t.log(`  ${p}`);
    }
    t.log(`${names} duplicated names, ${copies} copies`);
    if (which === 'modules') t.true(names > 0);
    t.is(problems, 0);
  };

  test.serial(title("every module: the kernel's n-th line of a duplicated name is ksymtree's sympos n (same address)"), async (t) => {
    symposCheck(t, await get(t), 'modules');
  });

  const vmlinuxSympos = opts.vmlinuxSymposExact ? test.serial : test.failing;
  vmlinuxSympos(title(`vmlinux: the kernel's n-th line of a duplicated name is ksymtree's sympos n${opts.vmlinuxSymposExact ? '' : ' [failing: nm-based emulation, until the decoder lands — then flip vmlinuxSymposExact]'}`), async (t) => {
    symposCheck(t, await get(t), 'vmlinux');
  });
}
