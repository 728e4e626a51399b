// qemu-system-x86_64 (TCG, no KVM) and a static busybox: found, or installed with apt-get; one boot at a time
// per machine (a lock), every boot bounded by a hard timeout.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../../../src/io/process.js';

export const QEMU = 'qemu-system-x86_64';
export const PACKAGES = ['qemu-system-x86', 'busybox-static'];

function onPath(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** A statically linked busybox (no PT_INTERP): it runs in an initramfs without a libc. */
export function staticBusybox(): string | null {
  for (const p of ['/bin/busybox', '/usr/bin/busybox', onPath('busybox')]) {
    if (!p || !existsSync(p)) continue;
    const elf = readFileSync(p);
    if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) continue;
    const phoff = Number(elf.readBigUInt64LE(0x20));
    const phentsize = elf.readUInt16LE(0x36);
    const phnum = elf.readUInt16LE(0x38);
    let interp = false;
    for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3) interp = true;
    if (!interp) return p;
  }
  return null;
}

export interface Tools {
  readonly qemu: string;
  readonly busybox: string;
  /** What was installed by this call ([] when everything was there). */
  readonly installed: readonly string[];
}

let cached: Tools | string | undefined;

/**
 * qemu and busybox, installing the Debian packages when missing and allowed (root, or sudo without a
 * password). Returns a reason string when they cannot be had; KSYMTREE_E2E_NO_INSTALL=1 forbids installing.
 */
export function ensureTools(): Tools | string {
  if (cached !== undefined) return cached;
  const have = () => ({ qemu: onPath(QEMU), busybox: staticBusybox() });
  let t = have();
  const installed: string[] = [];
  if (!t.qemu || !t.busybox) {
    const missing = [...(!t.qemu ? ['qemu-system-x86'] : []), ...(!t.busybox ? ['busybox-static'] : [])];
    if (process.env.KSYMTREE_E2E_NO_INSTALL === '1') return (cached = `${missing.join(', ')} not installed (KSYMTREE_E2E_NO_INSTALL=1)`);
    if (!onPath('apt-get')) return (cached = `${missing.join(', ')} not installed and no apt-get`);
    const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
    const apt = (args: string[]) =>
      spawnSync(sudo[0] ?? 'apt-get', [...sudo.slice(1), ...(sudo.length ? ['apt-get'] : []), ...args], {
        stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000,
      }).status === 0;
    // several ava workers may get here at once: apt-get waits for the others' dpkg lock instead of failing
    const wait = ['-o', 'DPkg::Lock::Timeout=600'];
    const install = [...wait, 'install', '-y', '--no-install-recommends', ...missing];
    if (!apt(install) && !(apt([...wait, 'update']) && apt(install))) return (cached = `could not apt-get install ${missing.join(' ')}`);
    installed.push(...missing);
    t = have();
  }
  if (!t.qemu || !t.busybox) return (cached = `${QEMU} or a static busybox still missing after installing ${PACKAGES.join(' ')}`);
  return (cached = { qemu: t.qemu, busybox: t.busybox, installed });
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
  /** Serial port 0 (the console) and 1 (the data channel) are written to these files. */
  readonly consoleFile: string;
  readonly dataFile: string;
  readonly memoryMb: number;
  readonly timeoutMs: number;
}

export interface QemuResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly seconds: number;
  readonly stderr: string;
  readonly argv: readonly string[];
}

export function qemuArgv(qemu: string, r: QemuRun): string[] {
  return [
    qemu, '-accel', 'tcg', '-machine', 'pc', '-cpu', 'qemu64', '-smp', '1', '-m', String(r.memoryMb),
    '-nodefaults', '-display', 'none', '-vga', 'none', '-no-reboot',
    '-serial', `file:${r.consoleFile}`, '-serial', `file:${r.dataFile}`,
    '-kernel', r.kernel, '-initrd', r.initrd, '-append', r.append,
  ];
}

/** One qemu run; SIGTERM at the timeout, SIGKILL 5 s later. Never rejects for the guest's sake. */
export function runQemu(qemu: string, r: QemuRun): Promise<QemuResult> {
  for (const f of [r.consoleFile, r.dataFile]) closeSync(openSync(f, 'w'));
  const argv = qemuArgv(qemu, r);
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

/** `uname -r`-style release of a bzImage (the version string at the kernel_version offset of the setup header). */
export function bzImageRelease(file: string): string | null {
  const b = readFileSync(file);
  if (b.toString('latin1', 0x202, 0x206) !== 'HdrS') return null;
  const off = b.readUInt16LE(0x20e) + 0x200;
  const s = b.toString('latin1', off, b.indexOf(0, off));
  return s.split(' ')[0] || null;
}

