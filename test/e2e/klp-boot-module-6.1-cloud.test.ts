// Issue 11's boot proof for a duplicated function in a module (Debian 6.1 cloud-amd64): virtio_pci has two copies
// of vp_get_status (virtio_pci_modern.c's, copy 1; virtio_pci_legacy.c's, copy 2), each behind the `status` file
// of the virtio devices its transport serves. For each copy, a livepatch (klp_func from `ksymtree klp funcs`, built
// against Debian's linux-headers, `klp check` clean) changes the status of the device of that transport only; the
// other device's reads as in a boot without it. Oracles: readelf's .symtab order with llvm-symbolizer-19, the
// guest's /proc/kallsyms, and the PCI device ids in sysfs (virtio-rng: 0x1005 legacy, 0x1040 + 4 modern).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { ksymtree } from '../helpers/cli.js';
import { cloudCorpus } from '../helpers/corpus.js';
import { vmlinuxSourcePaths } from '../helpers/copy-oracle.js';
import type { KlpCheckRecord } from '../../src/commands/klp.js';
import { bootCapture, bootTimeoutMs, type Capture } from './harness/boot.js';
import { debianHeaders } from './harness/headers.js';
import { KERNELS, type KernelCorpus } from './harness/kernels.js';
import { cachedLivepatch, guestFiles, klpFuncsFor, LIVEPATCH_MODULE, livepatchGuestScript } from './harness/livepatch.js';
import { corpusTest } from './harness/suite.js';

const spec = KERNELS.find((k) => k.id === '6.1-cloud-amd64')!;
const OBJECT = 'virtio_pci';
const NAME = 'vp_get_status';
const MODULE_PATH = 'kernel/drivers/virtio/virtio_pci.ko';
/**
 * The copies by defining file, each with the PCI device id of the device its transport serves; patched in this
 * order: the legacy copy first, the one a sympos of 0 or 1 would not bind.
 */
const TRANSPORTS = [
  { file: 'drivers/virtio/virtio_pci_legacy.c', pciDevice: '0x1005' },
  { file: 'drivers/virtio/virtio_pci_modern.c', pciDevice: '0x1044' },
] as const;
/** Two virtio-rng devices, one per transport (no driver binds them: once registered, only sysfs calls get_status). */
const DEVICES = ['virtio-rng-pci,disable-modern=on', 'virtio-rng-pci,disable-legacy=on'];
/** What the replacement returns, as status_show prints it (drivers/virtio/virtio.c: "0x%08x\n"). */
const PATCHED_STATUS = '0x0000005a';
const TITLE = `e2e ${spec.id}: a livepatch of ${OBJECT}'s ${NAME} built with \`klp funcs\` changes the status of the device its copy serves, and only it`;

interface Copy { alias: string; decl_file: string; sympos: number }

/** Oracle: the defined copies of `name` in `ko`'s .symtab order (the module kallsyms walk), by readelf: value and section. */
function symtabCopies(ko: string, name: string): { value: number; ndx: string }[] {
  return execFileSync('readelf', ['-sW', ko], { encoding: 'utf8' }).split('\n').map((l) => l.trim().split(/\s+/))
    .filter((c) => c[7] === name && c[3] === 'FUNC' && c[6] !== 'UND').map((c) => ({ value: parseInt(c[1], 16), ndx: c[6] }));
}

/** Oracle: the source file of the first instruction at each offset of `ko`'s .text, by llvm-symbolizer-19. */
function sourcePaths(ko: string, offsets: number[]): string[] {
  return execFileSync('llvm-symbolizer-19', [`--obj=${ko}`, ...offsets.map((o) => `0x${o.toString(16)}`)], { encoding: 'utf8' })
    .split('\n').filter((l) => l.includes(':')).map((l) => l.split(':')[0]);
}

/** The guest's runtime addresses of `name` in `module`, in /proc/kallsyms order. */
function kallsymsAddresses(capture: Capture, module: string, name: string): bigint[] {
  return capture.kallsyms.split('\n').map((l) => /^([0-9a-f]+) \w (\S+)\s+\[(\S+)\]/.exec(l))
    .filter((m) => m && m[2] === name && m[3] === module).map((m) => BigInt(`0x${m![1]}`));
}

/** The modules of the corpus and the livepatch module in one directory of links (the boot reads one module tree). */
function moduleTree(installed: string, livepatchDir: string, work: string): string {
  const dir = join(work, 'modules');
  mkdirSync(join(dir, 'extra'), { recursive: true });
  symlinkSync(join(installed, 'kernel'), join(dir, 'kernel'));
  symlinkSync(join(livepatchDir, 'livepatch-ksymtree.ko'), join(dir, 'extra/livepatch-ksymtree.ko'));
  return dir;
}

/** virtioN -> { pci device id of its parent, status } from a guest's @@FILE lines. */
function virtioDevices(files: Map<string, string>): Map<string, { pci: string; status: string }> {
  const devices = new Map<string, { pci: string; status: string }>();
  for (const [path, status] of files) {
    const v = /^\/sys\/bus\/virtio\/devices\/(virtio\d+)\/status$/.exec(path)?.[1];
    if (v) devices.set(v, { pci: files.get(`/sys/bus/virtio/devices/${v}/../device`) ?? '', status });
  }
  return devices;
}

/** The one virtio device whose PCI parent has `pciDevice` as device id. */
function deviceOf(t: ExecutionContext, devices: Map<string, { pci: string; status: string }>, pciDevice: string): { name: string; status: string } {
  const found = [...devices].filter(([, d]) => d.pci === pciDevice);
  t.is(found.length, 1, `one virtio device on a PCI device ${pciDevice}: ${JSON.stringify([...devices])}`);
  return { name: found[0]?.[0] ?? '', status: found[0]?.[1].status ?? '' };
}

type Transport = (typeof TRANSPORTS)[number];

/** klp funcs for the copy, the module built against Debian's headers, klp check against the index: its directory. */
async function livepatchFor(t: ExecutionContext, corpus: KernelCorpus, target: Copy, db: string): Promise<string> {
  const src = { ...(await klpFuncsFor(target.alias, db)), replacement: 'virtio-status' };
  t.regex(src.funcs, new RegExp(`\\.old_name = "${NAME}",[\\s\\S]*\\.old_sympos = ${target.sympos},[\\s\\S]*\\.name = "${OBJECT}",`));
  const dir = cachedLivepatch(await debianHeaders(corpus.kernel), src);
  const check = await ksymtree(['klp', 'check', join(dir, 'livepatch-ksymtree.ko'), '--db', db]);
  t.log(`klp check of the livepatch for ${target.alias} against 6.1 (exit ${check.status}):\n${check.stdout}`);
  t.is(check.status, 0, `${check.stdout}${check.stderr}`);
  t.true(check.stdout.includes(`binds ${target.alias}`), check.stdout);
  return dir;
}

/** One boot with the livepatch of `target`: that transport's device reads the replacement's status, the other as `plain`. */
function checkPatched(t: ExecutionContext, plain: Capture, capture: Capture, target: Copy, copyOffsets: number[]): void {
  const [patched, other] = [TRANSPORTS.find((x) => x.file === target.decl_file)!, TRANSPORTS.find((x) => x.file !== target.decl_file)!];
  for (const i of capture.insmod) t.is(i.status, 0, `insmod ${i.name}: ${i.message}`);
  t.true(capture.insmod.some((i) => i.name === LIVEPATCH_MODULE), 'the livepatch was loaded');
  // the running kernel's walk: its kallsyms lists the copies in the order readelf gave, at .text + offset
  const text = BigInt(readFileSync(join(capture.sysModule, OBJECT, 'sections/.text'), 'latin1').trim());
  t.deepEqual(kallsymsAddresses(capture, OBJECT, NAME), copyOffsets.map((o) => text + BigInt(o)), `/proc/kallsyms ${NAME} [${OBJECT}]`);
  const files = guestFiles(capture.guest);
  t.is(files.get('enabled'), '1', `/sys/kernel/livepatch/${LIVEPATCH_MODULE}/enabled`);
  t.is(files.get('transition'), '0', 'the transition ended');
  t.is(files.get('functions'), `${NAME},${target.sympos}`, `/sys/kernel/livepatch/${LIVEPATCH_MODULE}/${OBJECT}/`);
  const [before, after] = [virtioDevices(guestFiles(plain.guest)), virtioDevices(files)];
  const status = (devices: typeof before, x: Transport) => deviceOf(t, devices, x.pciDevice);
  t.regex(status(before, patched).status, /^0x[0-9a-f]{8}$/, `the ${patched.pciDevice} device has a status without the livepatch`);
  t.not(status(before, patched).status, PATCHED_STATUS);
  t.is(status(after, patched).status, PATCHED_STATUS, `${status(after, patched).name} (${patched.file}'s copy) is served by the patched copy`);
  t.regex(status(before, other).status, /^0x[0-9a-f]{8}$/, `the ${other.pciDevice} device has a status without the livepatch`);
  t.is(status(after, other).status, status(before, other).status, `${status(after, other).name} (${other.file}'s copy) is unchanged`);
  t.regex(readFileSync(join(capture.dir, 'dmesg'), 'latin1'), /livepatch: '?livepatch_ksymtree'?: (starting patching transition|patching complete)/);
}

/**
 * klp check against 6.12 (when its corpus is there): its modules.builtin lists virtio_pci.ko and nm finds the copies
 * in its vmlinux, so the livepatch's object `virtio_pci` is not there to bind: no-object, exit 1.
 */
async function check612(t: ExecutionContext, ko: string, db61: string, work: string): Promise<void> {
  const c612 = cloudCorpus('6.12');
  if (!c612) {
    t.log('6.12 cloud-amd64 corpus absent: klp check against 6.12 not run');
    return;
  }
  t.true(readFileSync(join(c612.debug, 'modules.builtin'), 'utf8').split('\n').includes(MODULE_PATH), `6.12 builds ${MODULE_PATH} into vmlinux`);
  const vmlinux = join(c612.debug, 'vmlinux');
  const inVmlinux = await vmlinuxSourcePaths(vmlinux, NAME, /^[tT]$/);
  t.log(`6.12 (nm -n, llvm-symbolizer-19): vmlinux's ${NAME} copies in ${inVmlinux.join(', ')}`);
  for (const x of TRANSPORTS) t.true(inVmlinux.some((p) => p.endsWith(x.file)), `6.12's vmlinux has ${x.file}'s ${NAME}`);
  const db = join(work, 'vmlinux-6.12.db');
  const index = await ksymtree(['index', vmlinux, '--db', db, '--quiet', '--jobs', '1']);
  t.is(index.status, 0, index.stderr);
  const text = await ksymtree(['klp', 'check', ko, '--reference', db61, '--db', db]);
  t.log(`klp check against 6.12 (exit ${text.status}):\n${text.stdout}${text.stderr}`);
  t.is(text.status, 1);
  const rec = JSON.parse((await ksymtree(['klp', 'check', ko, '--reference', db61, '--db', db, '--format', 'json'])).stdout) as KlpCheckRecord;
  t.is(rec.references[0].builds.find((b) => b.db === db)?.status, 'no-object');
}

async function proof(t: ExecutionContext, corpus: KernelCorpus): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'ksymtree-klp-boot-module-'));
  try {
    const debugKo = join(corpus.debug, MODULE_PATH);
    const installedKo = join(corpus.installed, MODULE_PATH);
    const db = join(work, `${OBJECT}.db`);
    const index = await ksymtree(['index', debugKo, '--db', db, '--config', corpus.config, '--quiet', '--jobs', '1']);
    t.is(index.status, 0, index.stderr);
    const copies = (JSON.parse((await ksymtree(['lookup', NAME, '--db', db, '--format', 'json'])).stdout) as Copy[]).sort((a, b) => a.sympos - b.sympos);

    // the kernel counts a module's copies in its .symtab order; the file the loaded module is made from decides
    const oracle = symtabCopies(installedKo, NAME);
    t.deepEqual(symtabCopies(debugKo, NAME), oracle, 'the debug and installed modules list the copies alike');
    t.true(oracle.every((c) => c.ndx === oracle[0].ndx), 'every copy in one section (.text): offsets name them');
    const files = sourcePaths(debugKo, oracle.map((c) => c.value));
    t.deepEqual(copies.map((c) => c.sympos), oracle.map((_, k) => k + 1));
    copies.forEach((c, k) => t.true(files[k]?.endsWith(c.decl_file), `copy ${k + 1}: ${c.decl_file} / ${files[k]}`));
    const targets = TRANSPORTS.map((x) => copies.find((c) => c.decl_file === x.file)!);
    targets.forEach((c, k) => t.truthy(c, `${NAME} has a copy defined in ${TRANSPORTS[k].file}`));
    t.not(targets[0].sympos, 1, 'the legacy copy is not the first: a sympos of 0 or 1 would not bind it');

    const guestScript = livepatchGuestScript(['/sys/bus/virtio/devices/*/status', '/sys/bus/virtio/devices/*/../device'], OBJECT);
    const boot = (modulesDir: string, modules: string[]) => bootCapture({ kernel: corpus.kernel, modulesDir, modules, guestScript,
      devices: DEVICES, log: (l) => console.error(`[klp-module ${spec.id}] ${l}`) });
    const plain = await boot(corpus.installed, [OBJECT]);
    t.log(`without a livepatch (${plain.dir}):\n${plain.guest.trim()}`);
    for (const i of plain.insmod) t.is(i.status, 0, `insmod ${i.name}: ${i.message}`);
    for (const target of targets) {
      const livepatchDir = await livepatchFor(t, corpus, target, db);
      const modulesDir = moduleTree(corpus.installed, livepatchDir, join(work, `sympos-${target.sympos}`));
      const capture = await boot(modulesDir, [OBJECT, LIVEPATCH_MODULE]);
      t.log(`with the livepatch for ${target.alias} (${capture.dir}):\n${capture.guest.trim()}`);
      checkPatched(t, plain, capture, target, oracle.map((c) => c.value));
      if (target === targets[0]) await check612(t, join(livepatchDir, 'livepatch-ksymtree.ko'), db, work);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

corpusTest(spec, TITLE, 6 * bootTimeoutMs() + 20 * 60_000, 'index, headers, two module builds, three boots', proof);
