// qemu-system-<arch> (TCG, no KVM) and a static busybox of the guest's architecture: found, or installed with
// apt-get; one boot at a time per machine (a lock), every boot bounded by a hard timeout.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../../../src/io/process.js';
import type { ImageArch } from './image.js';

/** How one architecture's guest is booted and talks back. */
export interface Arch {
  readonly name: ImageArch;
  readonly qemu: string;
  /** The Debian package holding `qemu`. */
  readonly qemuPackage: string;
  /** e_machine of its executables (the busybox put into the initramfs). */
  readonly elfMachine: number;
  /** Machine, CPU and display options of the qemu command line. */
  readonly machine: readonly string[];
  /** The kernel command line. */
  readonly append: string;
  /**
   * The guest device the capture is sent on: a second serial port when the machine has one, else the console
   * itself (/init turns the kernel's console messages off before sending: `dmesg -n 1`).
   */
  readonly dataPort: string;
  /** The data travels on the console (one serial port): qemu gets no second -serial. */
  readonly captureOnConsole: boolean;
  /** C compiler for the guest's static helpers (gcc for the host's architecture, a cross gcc else). */
  readonly cc: string;
}

export const ARCHES: Readonly<Record<ImageArch, Arch>> = {
  amd64: {
    name: 'amd64', qemu: 'qemu-system-x86_64', qemuPackage: 'qemu-system-x86', elfMachine: 62,
    machine: ['-machine', 'pc', '-cpu', 'qemu64', '-vga', 'none'], append: 'console=ttyS0 nokaslr panic=-1 quiet rdinit=/init',
    dataPort: '/dev/ttyS1', captureOnConsole: false, cc: 'gcc',
  },
  // -M virt has one PL011 UART (ttyAMA0); -cpu max emulates every CPU feature the kernel may use (NEON for
  // aes_neon_bs, the SHA-2 instructions for sha256_arm64); pauth-impdef=on: pointer authentication (every
  // function of Debian's arm64 kernel signs its return address) with QEMU's cheap algorithm instead of
  // emulating QARMA: the same capture, a boot of 41 s instead of 134 s (measured on this 2-core, busy machine)
  arm64: {
    name: 'arm64', qemu: 'qemu-system-aarch64', qemuPackage: 'qemu-system-arm', elfMachine: 183,
    machine: ['-machine', 'virt', '-cpu', 'max,pauth-impdef=on'], append: 'console=ttyAMA0 nokaslr panic=-1 quiet rdinit=/init',
    dataPort: '/dev/ttyAMA0', captureOnConsole: true, cc: 'aarch64-linux-gnu-gcc',
  },
};

function onPath(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** A statically linked (no PT_INTERP) 64-bit little-endian executable for `machine`: runs in an initramfs without a libc. */
export function isStaticExecutable(p: string, machine: number): boolean {
  if (!existsSync(p)) return false;
  const elf = readFileSync(p);
  if (elf.length < 0x40 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1 || elf.readUInt16LE(0x12) !== machine) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3) return false;
  return true;
}

/** The host's static busybox (Debian's busybox-static), when the guest is of the host's architecture. */
function hostBusybox(arch: Arch): string | null {
  for (const p of ['/bin/busybox', '/usr/bin/busybox', onPath('busybox')]) if (p && isStaticExecutable(p, arch.elfMachine)) return p;
  return null;
}

export interface Tools {
  readonly qemu: string;
  readonly busybox: string;
  /** What was installed by this call ([] when everything was there). */
  readonly installed: readonly string[];
}

const cached = new Map<string, Tools | string>();

/**
 * qemu and busybox for `arch`, installing the Debian packages when missing and allowed (root, or sudo without a
 * password). `busybox` names a static busybox of the guest's architecture (a foreign one comes with its
 * corpus, see scripts/fetch-debian-kernel-foreign); without it the host's busybox-static is used. Returns a
 * reason string when they cannot be had; KSYMTREE_E2E_NO_INSTALL=1 forbids installing.
 */
export function ensureTools(arch: Arch, busybox?: string): Tools | string {
  const id = `${arch.name}\0${busybox ?? ''}`;
  const known = cached.get(id);
  if (known !== undefined) return known;
  const done = (r: Tools | string) => (cached.set(id, r), r);
  const findBusybox = () => (busybox ? (isStaticExecutable(busybox, arch.elfMachine) ? busybox : null) : hostBusybox(arch));
  const have = () => ({ qemu: onPath(arch.qemu), busybox: findBusybox() });
  let t = have();
  if (busybox && !t.busybox) return done(`${busybox} is not a static ${arch.name} executable`);
  const installed: string[] = [];
  if (!t.qemu || !t.busybox) {
    const missing = [...(!t.qemu ? [arch.qemuPackage] : []), ...(!t.busybox ? ['busybox-static'] : [])];
    if (process.env.KSYMTREE_E2E_NO_INSTALL === '1') return done(`${missing.join(', ')} not installed (KSYMTREE_E2E_NO_INSTALL=1)`);
    if (!onPath('apt-get')) return done(`${missing.join(', ')} not installed and no apt-get`);
    const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
    const apt = (args: string[]) =>
      spawnSync(sudo[0] ?? 'apt-get', [...sudo.slice(1), ...(sudo.length ? ['apt-get'] : []), ...args], {
        stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000,
      }).status === 0;
    // several ava workers may get here at once: apt-get waits for the others' dpkg lock instead of failing
    const wait = ['-o', 'DPkg::Lock::Timeout=600'];
    const install = [...wait, 'install', '-y', '--no-install-recommends', ...missing];
    if (!apt(install) && !(apt([...wait, 'update']) && apt(install))) return done(`could not apt-get install ${missing.join(' ')}`);
    installed.push(...missing);
    t = have();
  }
  if (!t.qemu || !t.busybox) return done(`${arch.qemu} or a static ${arch.name} busybox still missing after installing ${arch.qemuPackage}${busybox ? '' : ' busybox-static'}`);
  return done({ qemu: t.qemu, busybox: t.busybox, installed });
}


/**
 * Run `fn` holding a machine-wide lock in `dir` (a directory made with mkdir, holding the owner's pid): the
 * machine's cores are shared, so at most one qemu boots at a time. A lock whose owner died is taken over.
 */
export async function withBootLock<T>(dir: string, fn: () => Promise<T>, waitMs = 60 * 60_000): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'boot.lock');
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        // being created or removed right now
      }
      if (Number.isInteger(owner) && owner > 0 && !processAlive(owner)) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for the qemu boot lock ${lock} (held by pid ${owner})`);
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface QemuRun {
  readonly kernel: string;
  readonly initrd: string;
  readonly append: string;
  /** Serial port 0 (the console) and, unless the arch sends the capture on the console, 1 (the data channel). */
  readonly consoleFile: string;
  readonly dataFile: string;
  readonly memoryMb: number;
  readonly timeoutMs: number;
  /** `-device` values added to the machine (e.g. `virtio-rng-pci,disable-modern=on`); none by default. */
  readonly devices?: readonly string[];
}

export interface QemuResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly seconds: number;
  readonly stderr: string;
  readonly argv: readonly string[];
}

export function qemuArgv(qemu: string, arch: Arch, r: QemuRun): string[] {
  return [
    qemu, '-accel', 'tcg', ...arch.machine, '-smp', '1', '-m', String(r.memoryMb),
    '-nodefaults', '-display', 'none', '-no-reboot', ...(r.devices ?? []).flatMap((d) => ['-device', d]),
    '-serial', `file:${r.consoleFile}`, ...(arch.captureOnConsole ? [] : ['-serial', `file:${r.dataFile}`]),
    '-kernel', r.kernel, '-initrd', r.initrd, '-append', r.append,
  ];
}

/** One qemu run; SIGTERM at the timeout, SIGKILL 5 s later. Never rejects for the guest's sake. */
export function runQemu(qemu: string, arch: Arch, r: QemuRun): Promise<QemuResult> {
  for (const f of [r.consoleFile, r.dataFile]) closeSync(openSync(f, 'w'));
  const argv = qemuArgv(qemu, arch, r);
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    let kill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    }, r.timeoutMs);
    // a test runner that exits must not leave qemu behind
    const onExit = () => child.kill('SIGKILL');
    process.once('exit', onExit);
    child.on('error', (e) => {
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      reject(e);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      if (kill) clearTimeout(kill);
      process.removeListener('exit', onExit);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      resolve({ exitCode, signal, timedOut, seconds, stderr: Buffer.concat(err).toString(), argv });
    });
  });
}
