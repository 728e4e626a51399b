// The e2e harness's own parts, without qemu: initramfs archive, capture transfer, comparison, timeout, lock,
// kernel images and the qemu command line of each architecture.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import test from 'ava';
import { buildInitramfs, encodeCapture, extractCapture } from './harness/boot.js';
import { cpioNewc } from './harness/cpio.js';
import { checkSympos, compareObject, differenceCount, type KsymLine, parseKallsyms } from './harness/compare.js';
import { kernelCorpus, KERNELS } from './harness/kernels.js';
import { emptyAllocSections, modinfo, readModuleElf, resolveModuleSet } from './harness/modules.js';
import { kernelImage } from './harness/image.js';
import { ARCHES, isStaticExecutable, qemuArgv, runQemu, withBootLock } from './harness/qemu.js';

/** Entries of a newc archive, read back field by field. */
function readNewc(b: Buffer): { name: string; mode: number; data: Buffer; rdev: [number, number] }[] {
  const out = [];
  let off = 0;
  for (;;) {
    if (b.toString('latin1', off, off + 6) !== '070701') throw new Error(`bad magic at ${off}`);
    const f = (i: number) => parseInt(b.toString('latin1', off + 6 + i * 8, off + 14 + i * 8), 16);
    const [mode, size, rmaj, rmin, namesize] = [f(1), f(6), f(9), f(10), f(11)];
    const name = b.toString('latin1', off + 110, off + 110 + namesize - 1);
    off = (off + 110 + namesize + 3) & ~3;
    const data = b.subarray(off, off + size);
    off = (off + size + 3) & ~3;
    if (name === 'TRAILER!!!') return out;
    out.push({ name, mode, data, rdev: [rmaj, rmin] as [number, number] });
  }
}

test('cpio newc: directories, files, symlinks and /dev/console read back with modes, sizes and padding', (t) => {
  const archive = cpioNewc([
    { kind: 'dir', path: 'bin' },
    { kind: 'file', path: '/init', data: '#!/bin/sh\n', mode: 0o755 },
    { kind: 'file', path: 'bin/x', data: Buffer.from([1, 2, 3]) },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
  ]);
  t.is(archive.length % 4, 0);
  const e = readNewc(archive);
  t.deepEqual(e.map((x) => x.name), ['bin', 'init', 'bin/x', 'bin/sh', 'dev/console']);
  t.is(e[0].mode, 0o040755);
  t.is(e[1].mode, 0o100755);
  t.is(e[1].data.toString(), '#!/bin/sh\n');
  t.deepEqual([...e[2].data], [1, 2, 3]);
  t.is(e[3].mode, 0o120777);
  t.is(e[3].data.toString(), 'busybox');
  t.is(e[4].mode, 0o020600);
  t.deepEqual(e[4].rdev, [5, 1]);
});

test('capture transfer: gzip + base64 checked by size and sha256, CRs added by a tty ignored, damage reported', (t) => {
  const body = Buffer.from(`@@@FILE kallsyms\n${'ffffffff81000000 T _text\n'.repeat(1000)}`);
  const sent = encodeCapture(body);
  t.deepEqual(extractCapture(Buffer.concat([Buffer.from('boot noise\n'), sent])), body);
  t.deepEqual(extractCapture(Buffer.from(sent.toString('latin1').replace(/\n/g, '\r\n'), 'latin1')), body);
  t.throws(() => extractCapture(sent.subarray(0, sent.length - 40)), { message: /truncated/ });
  const damaged = Buffer.from(sent);
  damaged[120] = damaged[120] === 0x41 ? 0x42 : 0x41;
  t.throws(() => extractCapture(damaged), { message: /damaged/ });
  t.throws(() => extractCapture(Buffer.from('boot log only\n')), { message: /no capture/ });
  // on a one-port machine the capture shares the console with /init's lines before and after it
  const console = Buffer.concat([Buffer.from('ksymtree-e2e: insmod m/llc.ko\r\nksymtree-e2e: sending 1 bytes\r\n'), sent, Buffer.from('ksymtree-e2e: sent at 9.1 s, powering off\r\n')]);
  t.deepEqual(extractCapture(console), body);
});

const L = (address: number, letter: string, name: string): KsymLine => ({ address: BigInt(address), letter, name, object: 'm' });

test('compareObject: identical lists have no difference; missing, extra, letter, address and order are counted', (t) => {
  const kernel = [L(0x10, 't', 'a'), L(0x20, 't', 'b'), L(0x30, 'd', 'c'), L(0x40, 't', 'a')];
  t.is(differenceCount(compareObject(kernel, kernel)), 0);
  const ours = [L(0x20, 't', 'b'), L(0x10, 't', 'a'), L(0x30, 'r', 'c'), L(0x44, 't', 'a'), L(0x50, 't', 'z')];
  const c = compareObject(kernel, ours);
  t.deepEqual(c.byReason, { letter: 1, address: 1, extra: 1, order: 1 });
  t.deepEqual(compareObject(kernel, kernel.filter((l) => l.name !== 'b')).byReason, { missing: 1 });
});

test('compareObject: per-cpu symbols are compared up to one per-module base; unlisted sections skip the address', (t) => {
  const kernel = [L(0x34000, 'a', 'p1'), L(0x34010, 'a', 'p2'), L(0x99, 'b', '__key.1')];
  const ours = [L(0x0, 'a', 'p1'), L(0x10, 'a', 'p2'), L(0x0, 'b', '__key.1')];
  const c = compareObject(kernel, ours, new Set([0, 1]), new Set([2]));
  t.is(differenceCount(c), 0);
  t.is(c.percpuBase, 0x34000n);
  t.is(c.unlistedCount, 1);
  t.deepEqual(compareObject(kernel, [L(0x0, 'a', 'p1'), L(0x18, 'a', 'p2'), L(0x0, 'b', '__key.1')], new Set([0, 1]), new Set([2])).byReason, { 'percpu-base': 1 });
});

test("checkSympos: the kernel's n-th same-named line must be sympos n at the same address", (t) => {
  const kernel = [L(0x10, 't', 'f'), L(0x30, 't', 'g'), L(0x20, 't', 'f')];
  const good = [{ name: 'f', sympos: 1, address: 0x10n, alias: 'f@a' }, { name: 'f', sympos: 2, address: 0x20n, alias: 'f@b' }];
  t.deepEqual(checkSympos(kernel, good).problems, []);
  const swapped = [{ ...good[0], sympos: 2 }, { ...good[1], sympos: 1 }];
  t.is(checkSympos(kernel, swapped).problems.length, 2);
  t.is(checkSympos(kernel, good.slice(0, 1)).problems.length, 1);
  t.is(checkSympos(kernel, [...good, { name: 'g', sympos: 1, address: 0x30n, alias: 'g@x' }]).problems.length, 1);
  t.deepEqual(parseKallsyms('ffffffffc0000000 t jhash\t[bridge]\nffffffff81000000 T _text\n').map((l) => l.object), ['bridge', '']);
});

/** A file holding `bytes`, removed by the test's end. */
function scratchFile(t: { teardown: (f: () => void) => void }, name: string, bytes: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'ksymtree-e2e-image-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, name), bytes);
  return join(dir, name);
}

test('kernelImage: a bzImage by its setup header, an arm64 Image (plain or gzip) by its magic and banner', (t) => {
  const bz = Buffer.alloc(0x400);
  bz.write('HdrS', 0x202, 'latin1');
  bz.writeUInt16LE(0x100, 0x20e);
  bz.write('6.1.0-9-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP\0', 0x300, 'latin1');
  t.deepEqual(kernelImage(scratchFile(t, 'bz', bz)), { arch: 'amd64', release: '6.1.0-9-cloud-amd64' });
  // arm64/kernel/head.S: "ARM\x64" at 0x38; the banner's format string comes before the printed banner
  const image = Buffer.alloc(0x1000);
  image.write('ARM\x64', 0x38, 'latin1');
  image.write('Linux version %s (%s)\0', 0x200, 'latin1');
  image.write('Linux version 6.1.0-9-cloud-arm64 (debian-kernel@lists.debian.org) (gcc-12)\0', 0x400, 'latin1');
  t.deepEqual(kernelImage(scratchFile(t, 'Image', image)), { arch: 'arm64', release: '6.1.0-9-cloud-arm64' });
  t.deepEqual(kernelImage(scratchFile(t, 'Image.gz', gzipSync(image))), { arch: 'arm64', release: '6.1.0-9-cloud-arm64' });
  t.is(kernelImage(scratchFile(t, 'noise', Buffer.alloc(0x1000, 0x41))), null);
});

test('qemu command line: amd64 has a second serial port for the capture, arm64 (-M virt -cpu max) only its console', (t) => {
  const run = { kernel: 'K', initrd: 'I', append: 'A', consoleFile: 'C', dataFile: 'D', memoryMb: 1024, timeoutMs: 0 };
  const serials = (argv: string[]) => argv.flatMap((a, i) => (argv[i - 1] === '-serial' ? [a] : []));
  t.deepEqual(serials(qemuArgv('q', ARCHES.amd64, run)), ['file:C', 'file:D']);
  const arm = qemuArgv('q', ARCHES.arm64, run);
  t.deepEqual(serials(arm), ['file:C']);
  t.true(arm.join(' ').includes('-machine virt -cpu max'));
  t.regex(ARCHES.arm64.append, /console=ttyAMA0/);
});

test("initramfs /init: the capture goes to the arch's data port, after the kernel's console messages are turned off", (t) => {
  const set = { dir: '', modules: [], unresolvedSoftdeps: [], vermagic: '' };
  const bb = scratchFile(t, 'busybox', Buffer.from('not run'));
  for (const [arch, port] of [[ARCHES.amd64, '/dev/ttyS1'], [ARCHES.arm64, '/dev/ttyAMA0']] as const) {
    const cpio = buildInitramfs(arch, bb, set, new Map(), 'busybox').toString('latin1');
    const init = cpio.slice(cpio.indexOf('#!/bin/busybox sh'), cpio.indexOf('$B reboot -f'));
    t.true(init.includes(`echo "@@@KSYMTREE-E2E-DONE"; } > ${port}`), arch.name);
    t.true(init.indexOf('$B dmesg -n 1') < init.indexOf('@@@KSYMTREE-E2E-CAPTURE'), arch.name);
  }
});

test('runQemu: a guest that never powers off is killed at the timeout', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksymtree-e2e-timeout-'));
  const fake = join(dir, 'fake-qemu');
  writeFileSync(fake, '#!/bin/sh\nexec sleep 120\n');
  chmodSync(fake, 0o755);
  const r = await runQemu(fake, ARCHES.amd64, { kernel: 'k', initrd: 'i', append: '', consoleFile: join(dir, 'c'), dataFile: join(dir, 'd'), memoryMb: 64, timeoutMs: 1000 });
  rmSync(dir, { recursive: true, force: true });
  t.true(r.timedOut);
  t.true(r.seconds < 10, `${r.seconds} s`);
});

test('withBootLock: one holder at a time; a lock left by a dead process is taken over', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksymtree-e2e-lock-'));
  const events: string[] = [];
  const hold = (id: string) => withBootLock(dir, async () => {
    events.push(`+${id}`);
    await new Promise((r) => setTimeout(r, 300));
    events.push(`-${id}`);
  });
  await Promise.all([hold('a'), hold('b')]);
  t.deepEqual(events.map((e) => e[0]), ['+', '-', '+', '-']);
  mkdirSync(join(dir, 'boot.lock'));
  writeFileSync(join(dir, 'boot.lock/pid'), '999999999');
  t.is(await withBootLock(dir, async () => 'taken', 5000), 'taken');
  rmSync(dir, { recursive: true, force: true });
});

const arm64 = kernelCorpus(KERNELS.find((k) => k.id === '6.1-cloud-arm64')!);
(typeof arm64 === 'string' ? test.skip : test)(`arm64 corpus: vmlinuz is an arm64 Image of its release (file(1) agrees), busybox a static aarch64 executable${typeof arm64 === 'string' ? ` — SKIPPED (${arm64})` : ''}`, (t) => {
  const c = arm64 as Exclude<typeof arm64, string>;
  t.deepEqual(kernelImage(c.kernel), { arch: 'arm64', release: basename(c.kernel).replace(/^vmlinuz-/, '') });
  t.regex(spawnSync('file', ['-bL', c.kernel], { encoding: 'utf8' }).stdout, /ARM64 boot executable Image/);
  t.true(isStaticExecutable(c.busybox!, ARCHES.arm64.elfMachine));
  t.false(isStaticExecutable(c.busybox!, ARCHES.amd64.elfMachine));
  t.regex(spawnSync('file', ['-bL', c.busybox!], { encoding: 'utf8' }).stdout, /ARM aarch64.*statically linked/);
});

const corpus61 = kernelCorpus(KERNELS[0]);
(typeof corpus61 === 'string' ? test.skip : test)(`module set: bridge resolves to llc, stp, bridge from .modinfo depends${typeof corpus61 === 'string' ? ` — SKIPPED (${corpus61})` : ''}`, (t) => {
  const c = corpus61 as Exclude<typeof corpus61, string>;
  const set = resolveModuleSet(c.installed, ['bridge'], { softdeps: false });
  t.deepEqual(set.modules.map((m) => m.name), ['llc', 'stp', 'bridge']);
  t.deepEqual(set.modules.map((m) => m.reason), ['depends', 'depends', 'requested']);
  t.regex(set.vermagic, /^6\.1\.0-\d+-cloud-amd64 SMP/);
  t.deepEqual(modinfo(readModuleElf(set.modules[2].file)).filter(([k]) => k === 'depends'), [['depends', 'llc,stp']]);
  t.throws(() => resolveModuleSet(c.installed, ['no_such_module']), { message: /not found/ });
  const empty = emptyAllocSections(readModuleElf(set.modules[2].file));
  t.false(empty.has('.text'));
  t.false(empty.has('.modinfo'));
});
