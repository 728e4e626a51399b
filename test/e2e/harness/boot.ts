// Boot a real kernel under qemu with a tiny initramfs (busybox + the modules to insmod) and capture what the
// running kernel shows: /proc/kallsyms, /proc/modules, /sys/module/*/sections/*, insmod results, dmesg.
// The capture is cached, keyed by the kernel's and the modules' bytes and the init script.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { gunzipSync, gzipSync } from 'node:zlib';
import { basename, dirname, join } from 'node:path';
import { cpioNewc, type CpioEntry } from './cpio.js';
import { type ModuleSet, type ModuleToLoad, readModuleElf, resolveModuleSet } from './modules.js';
import { kernelImage } from './image.js';
import { type Arch, ARCHES, ensureTools, qemuArgv, runQemu, withBootLock } from './qemu.js';
import { processAlive } from '../../../src/io/process.js';

/** Bump when the init script, the capture format or the qemu command line change meaning. */
const HARNESS_VERSION = 'ksymtree-e2e-4';

export const CACHE_DIR = process.env.KSYMTREE_E2E_CACHE ?? join(homedir(), '.cache/ksymtree-e2e');

export function bootTimeoutMs(): number {
  const s = Number(process.env.KSYMTREE_E2E_BOOT_TIMEOUT ?? 900);
  return (Number.isFinite(s) && s > 0 ? s : 900) * 1000;
}

export interface BootOptions {
  /** vmlinuz: an x86 bzImage or an arm64 Image (plain or gzip'd); its architecture decides the qemu machine. */
  readonly kernel: string;
  /** A static busybox of the kernel's architecture; default: the host's busybox-static (same architecture only). */
  readonly busybox?: string;
  /** Any module directory (/lib/modules/<ver>, a copy rewritten by `ksymtree apply`, ...). */
  readonly modulesDir: string;
  /** Module names to insmod; their `depends` (and `softdep pre:`) are loaded first. */
  readonly modules: readonly string[];
  /**
   * How compressed modules (.ko.xz/.gz/.zst) are loaded: `kernel` hands the file to finit_module() with
   * MODULE_INIT_COMPRESSED_FILE, so the kernel's own decompressor reads it (CONFIG_MODULE_DECOMPRESS; a tiny
   * static helper built with gcc); `busybox` lets busybox insmod decompress it; `host` decompresses on the host.
   * Default: `kernel` when the kernel's config-<release> beside it has CONFIG_MODULE_DECOMPRESS=y and gcc can
   * build the helper, else `busybox`. Uncompressed modules always go through busybox insmod.
   */
  readonly compressed?: 'kernel' | 'busybox' | 'host';
  readonly memoryMb?: number;
  readonly timeoutMs?: number;
  /** Ignore (and replace) a cached capture. */
  readonly fresh?: boolean;
  /** Progress lines (boot started, cache hit, ...). */
  readonly log?: (line: string) => void;
  /**
   * Before the capture, put stack traces into dmesg: sysrq `l` (backtrace of the active CPUs) and `t` (every
   * task). Off by default, and then the init script (hence every cache key) is what it always was.
   */
  readonly traces?: boolean;
  /** Appended to the architecture's kernel command line (e.g. `module.sig_enforce=1`). */
  readonly cmdline?: string;
  /**
   * Shell lines (busybox as $B) run after the modules are loaded and before the capture; what they print
   * becomes the capture's `guest` file (Capture.guest). Unset, the init script is what it always was.
   */
  readonly guestScript?: string;
  /** qemu `-device` values (part of the cache key through the qemu command line); none by default. */
  readonly devices?: readonly string[];
  /** End with `reboot -f` (qemu runs with -no-reboot): a kernel without ACPI cannot power the machine off. */
  readonly reboot?: boolean;
}

export interface InsmodResult {
  readonly name: string;
  /** `insmod` (busybox) or `finit` (finit_module with MODULE_INIT_COMPRESSED_FILE: the kernel decompresses). */
  readonly loader: string;
  readonly status: number;
  readonly message: string;
  readonly reason: ModuleToLoad['reason'];
}

export interface Capture {
  /** The cache entry: kallsyms, modules, dmesg, console.log, sys/module/<mod>/sections/<sec>, meta.json. */
  readonly dir: string;
  /** The /sys/module copy: pass to `ksymtree kallsyms --sections`. */
  readonly sysModule: string;
  readonly kallsyms: string;
  readonly procModules: string;
  readonly insmod: readonly InsmodResult[];
  readonly release: string;
  readonly moduleSet: ModuleSet;
  /** What `guestScript` printed ('' without one). */
  readonly guest: string;
  /** Seconds of the qemu run that produced the capture (from its cache entry when cached). */
  readonly bootSeconds: number;
  readonly cached: boolean;
}

/** /init without traces: load the modules, then send what the kernel shows on the arch's data port, power off. */
const baseInitScript = (arch: Arch) => `#!/bin/busybox sh
# ksymtree e2e: load the modules, then send what the kernel shows over ${arch.captureOnConsole ? 'the console' : 'the second serial port'}, power off.
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev
echo 0 > /proc/sys/kernel/kptr_restrict
C=/tmp/capture
: > $C
t() { set -- "$1" $($B cat /proc/uptime); echo "@@@TIME $1 $2" >> $C; }
t init
while read name file how; do
  [ -n "$name" ] || continue
  echo "ksymtree-e2e: $how $file"
  if [ "$how" = finit ]; then /bin/finit-module "/$file" 4 2> /tmp/insmod.err; else $B insmod "/$file" 2> /tmp/insmod.err; fi
  rc=$?
  echo "@@@INSMOD $name $rc $how $($B head -c 400 /tmp/insmod.err | $B tr '\\n\\t' '  ')" >> $C
done < /modules.list
t insmod-done
echo "@@@FILE kallsyms" >> $C; $B cat /proc/kallsyms >> $C
echo "@@@FILE modules" >> $C; $B cat /proc/modules >> $C
# one grep for every section file ("PATH:VALUE"); these are binary sysfs attributes that answer only a read at
# offset 0, so the shell's byte-by-byte read builtin cannot read them
echo "@@@FILE sections" >> $C
$B grep -H '' /sys/module/*/sections/.* /sys/module/*/sections/* 2> /dev/null >> $C
echo "@@@FILE uname" >> $C; $B uname -r >> $C
echo "@@@FILE dmesg" >> $C; $B dmesg >> $C
echo "@@@FILE end" >> $C
t captured
# from here on the kernel prints only emergencies to the console: nothing comes between the capture's lines
$B dmesg -n 1
$B stty -F ${arch.dataPort} raw -echo 2> /dev/null
set -- $($B sha256sum $C)
size=$($B wc -c < $C)
echo "ksymtree-e2e: sending $size bytes (gzip, base64)"
{ echo "@@@KSYMTREE-E2E-CAPTURE $1 $size"; $B gzip -c $C | $B base64; echo "@@@KSYMTREE-E2E-DONE"; } > ${arch.dataPort}
$B sync
echo "ksymtree-e2e: sent at $($B cut -d' ' -f1 /proc/uptime) s, powering off"
$B poweroff -f
$B reboot -f
`;

const TRACES = 'echo 1 > /proc/sys/kernel/sysrq; echo l > /proc/sysrq-trigger; echo t > /proc/sysrq-trigger\n';

/**
 * The init script, with the guest script's and the sysrq trace lines before the capture when asked for, and
 * ending with a reboot instead of a power-off.
 */
function initScript(arch: Arch, traces: boolean, guestScript?: string, reboot = false): string {
  const base = reboot ? baseInitScript(arch).replace('$B poweroff -f\n', '') : baseInitScript(arch);
  const at = base.indexOf('echo "@@@FILE kallsyms"');
  const guest = guestScript ? `echo "@@@FILE guest" >> $C\n{\n${guestScript.trimEnd()}\n} >> $C 2>&1\n` : '';
  return base.slice(0, at) + guest + (traces ? TRACES : '') + base.slice(at);
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

type Compressed = NonNullable<BootOptions['compressed']>;

const isCompressed = (m: ModuleToLoad) => /\.ko\.(xz|gz|zst)$/.test(m.file);

function fileName(m: ModuleToLoad, how: Compressed): string {
  const b = basename(m.file);
  return how === 'host' ? b.replace(/\.ko\.(xz|gz|zst)$/, '.ko') : b;
}

function loaderOf(m: ModuleToLoad, how: Compressed): 'finit' | 'insmod' {
  return how === 'kernel' && isCompressed(m) ? 'finit' : 'insmod';
}

/** finit_module(fd, "", FLAGS): loads a module file as the kernel reads it (flag 4 = MODULE_INIT_COMPRESSED_FILE). */
const FINIT_SOURCE = `#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 2) return 2;
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0) { fprintf(stderr, "%s: %s\\n", argv[1], strerror(errno)); return 1; }
  if (syscall(SYS_finit_module, fd, "", argc > 2 ? atoi(argv[2]) : 0) != 0) {
    fprintf(stderr, "finit_module %s: %s\\n", argv[1], strerror(errno));
    return 1;
  }
  return 0;
}
`;

/** The static finit_module helper for `arch`, built once into the cache; null when its gcc -static cannot build it. */
function finitHelper(arch: Arch): string | null {
  const out = join(CACHE_DIR, `finit-module-${arch.name}-${sha256(FINIT_SOURCE).slice(0, 12)}`);
  if (existsSync(out)) return out;
  mkdirSync(CACHE_DIR, { recursive: true });
  const src = `${out}.${process.pid}.c`;
  writeFileSync(src, FINIT_SOURCE);
  const r = spawnSync(arch.cc, ['-static', '-Os', '-s', '-o', `${out}.${process.pid}`, src], { stdio: 'ignore' });
  rmSync(src, { force: true });
  if (r.status !== 0) return null;
  renameSync(`${out}.${process.pid}`, out);
  return out;
}

/** CONFIG_MODULE_DECOMPRESS=y in the config-<release> beside the kernel image. */
function kernelDecompresses(kernel: string, release: string): boolean {
  const config = join(dirname(kernel), `config-${release}`);
  return existsSync(config) && /^CONFIG_MODULE_DECOMPRESS=y$/m.test(readFileSync(config, 'latin1'));
}

/**
 * The initramfs: busybox, /init, /modules.list ("name m/file loader" in load order), the module files under /m,
 * and /bin/finit-module when a module is loaded with `finit`.
 */
export function buildInitramfs(arch: Arch, busybox: string, set: ModuleSet, moduleBytes: Map<string, Buffer>, how: Compressed, finit: string | null = null, init = initScript(arch, false)): Buffer {
  const entries: CpioEntry[] = [
    { kind: 'dir', path: 'bin' }, { kind: 'dir', path: 'dev' }, { kind: 'dir', path: 'proc' }, { kind: 'dir', path: 'sys' },
    { kind: 'dir', path: 'tmp', mode: 0o1777 }, { kind: 'dir', path: 'm' },
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'file', path: 'bin/busybox', data: readFileSync(busybox), mode: 0o755 },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    { kind: 'file', path: 'init', data: init, mode: 0o755 },
    { kind: 'file', path: 'modules.list', data: set.modules.map((m) => `${m.name} m/${fileName(m, how)} ${loaderOf(m, how)}\n`).join('') },
  ];
  if (finit) entries.push({ kind: 'file', path: 'bin/finit-module', data: readFileSync(finit), mode: 0o755 });
  for (const m of set.modules) entries.push({ kind: 'file', path: `m/${fileName(m, how)}`, data: moduleBytes.get(m.name)! });
  return cpioNewc(entries);
}

/**
 * The capture sent on the data port (on a one-port machine amid the console's lines before and after it): a
 * header with the sha256 and size of the capture file, then the file gzipped and base64-encoded (text, so a
 * tty adding CRs cannot damage it; gzip makes the ~150 KB/s of the emulated UART fast enough), then an end
 * marker. Checked against the guest's sha256.
 */
export function extractCapture(data: Buffer): Buffer {
  const marker = Buffer.from('@@@KSYMTREE-E2E-CAPTURE ');
  const at = data.indexOf(marker);
  if (at < 0) throw new Error('no capture on the data port (the guest did not get to send it: see console.log)');
  const eol = data.indexOf(0x0a, at);
  const [sum, sizeText] = data.toString('latin1', at + marker.length, eol).trim().split(' ');
  const size = Number(sizeText);
  const end = data.indexOf('@@@KSYMTREE-E2E-DONE', eol);
  if (end < 0) throw new Error(`capture truncated: no end marker after ${data.length - eol - 1} bytes of ${size}`);
  let body: Buffer;
  try {
    body = gunzipSync(Buffer.from(data.toString('latin1', eol + 1, end).replace(/[\r\n]/g, ''), 'base64'));
  } catch (e) {
    throw new Error(`capture damaged: ${(e as Error).message}`);
  }
  if (body.length !== size || sha256(body) !== sum) throw new Error(`capture damaged: expected ${size} bytes with sha256 ${sum}, got ${body.length} bytes`);
  return body;
}

/** What the guest's /init sends for `body` (base64 lines of 76 characters, as busybox base64 writes them). */
export function encodeCapture(body: Buffer): Buffer {
  const b64 = gzipSync(body).toString('base64').replace(/(.{76})/g, '$1\n');
  return Buffer.from(`@@@KSYMTREE-E2E-CAPTURE ${sha256(body)} ${body.length}\n${b64}\n@@@KSYMTREE-E2E-DONE\n`, 'latin1');
}

interface Parsed {
  files: Map<string, string>;
  insmod: { name: string; status: number; loader: string; message: string }[];
  sections: [string, string, string][];
  /** Guest uptime (s) at: init, insmod-done, captured. */
  times: Record<string, number>;
}

function parseCapture(text: string): Parsed {
  const files = new Map<string, string>();
  const insmod: Parsed['insmod'] = [];
  const times: Record<string, number> = {};
  let current: string | null = null;
  let buf: string[] = [];
  for (const line of text.split('\n')) {
    const ins = /^@@@INSMOD (\S+) (\d+) (\S+) ?(.*)$/.exec(line);
    const file = /^@@@FILE (\S+)$/.exec(line);
    const time = /^@@@TIME (\S+) ([\d.]+)$/.exec(line);
    if (ins && current === null) insmod.push({ name: ins[1], status: Number(ins[2]), loader: ins[3], message: ins[4].trim() });
    else if (time) times[time[1]] = Number(time[2]);
    else if (file) {
      if (current !== null) files.set(current, buf.length ? `${buf.join('\n')}\n` : '');
      current = file[1];
      buf = [];
    } else if (current !== null) buf.push(line);
  }
  const sections: [string, string, string][] = [];
  for (const l of (files.get('sections') ?? '').split('\n')) {
    const m = /^\/sys\/module\/([^/]+)\/sections\/([^/]+):(0x[0-9a-f]+)$/.exec(l);
    if (m) sections.push([m[1], m[2], m[3]]);
  }
  return { files, insmod, sections, times };
}

function loadCapture(dir: string, set: ModuleSet, cached: boolean): Capture {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { release: string; bootSeconds: number; insmod: InsmodResult[] };
  return {
    dir,
    sysModule: join(dir, 'sys/module'),
    kallsyms: readFileSync(join(dir, 'kallsyms'), 'latin1'),
    guest: existsSync(join(dir, 'guest')) ? readFileSync(join(dir, 'guest'), 'latin1') : '',
    procModules: readFileSync(join(dir, 'modules'), 'latin1'),
    insmod: meta.insmod,
    release: meta.release,
    moduleSet: set,
    bootSeconds: meta.bootSeconds,
    cached,
  };
}


/**
 * Drop cache entries not used for KSYMTREE_E2E_CACHE_DAYS days (default 30: every use touches its entry) and
 * half-written entries of runs that died.
 */
export function pruneCache(dir = CACHE_DIR): void {
  const days = Number(process.env.KSYMTREE_E2E_CACHE_DAYS ?? 30);
  const cutoff = Date.now() - (Number.isFinite(days) ? days : 30) * 86_400_000;
  for (const e of existsSync(dir) ? readdirSync(dir) : []) {
    const p = join(dir, e);
    const tmp = /\.tmp-(\d+)$/.exec(e);
    if (tmp ? !processAlive(Number(tmp[1])) : existsSync(join(p, 'meta.json')) && statSync(p).mtimeMs < cutoff) rmSync(p, { recursive: true, force: true });
  }
}

/**
 * Boot `kernel` with `modules` (and their dependencies) from `modulesDir` and capture what it shows; cached
 * under CACHE_DIR by kernel + module bytes + init script. Throws with the console's tail when the boot fails.
 */
export async function bootCapture(o: BootOptions): Promise<Capture> {
  const log = o.log ?? (() => {});
  const image = kernelImage(o.kernel);
  if (!image) throw new Error(`${o.kernel}: neither an x86 bzImage nor an arm64 Image`);
  const arch = ARCHES[image.arch];
  const tools = ensureTools(arch, o.busybox);
  if (typeof tools === 'string') throw new Error(tools);
  const release = image.release;
  const set = resolveModuleSet(o.modulesDir, o.modules, { release });
  let how: Compressed = o.compressed ?? (kernelDecompresses(o.kernel, release) ? 'kernel' : 'busybox');
  const finit = how === 'kernel' && set.modules.some(isCompressed) ? finitHelper(arch) : null;
  if (how === 'kernel' && !finit && set.modules.some(isCompressed)) {
    log(`e2e: ${arch.cc} -static cannot build the finit_module helper: busybox insmod decompresses the modules`);
    how = 'busybox';
  }
  const bytes = new Map<string, Buffer>();
  for (const m of set.modules) bytes.set(m.name, how === 'host' ? readModuleElf(m.file) : readFileSync(m.file));
  const memoryMb = o.memoryMb ?? 1024;
  const append = o.cmdline ? `${arch.append} ${o.cmdline}` : arch.append;
  const init = initScript(arch, !!o.traces, o.guestScript, o.reboot);
  const key = sha256(JSON.stringify({
    v: HARNESS_VERSION, kernel: sha256(readFileSync(o.kernel)), init, append, memoryMb,
    argv: qemuArgv('qemu', arch, { kernel: 'K', initrd: 'I', append, consoleFile: 'C', dataFile: 'D', memoryMb, timeoutMs: 0, devices: o.devices }),
    modules: set.modules.map((m) => [m.name, fileName(m, how), loaderOf(m, how), sha256(bytes.get(m.name)!)]),
  })).slice(0, 24);
  const dir = join(CACHE_DIR, `${release}-${key}`);
  if (!o.fresh && existsSync(join(dir, 'meta.json'))) {
    log(`e2e: cached capture ${dir}`);
    const now = new Date();
    utimesSync(dir, now, now);
    return loadCapture(dir, set, true);
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const initrd = join(work, 'initramfs.cpio');
  writeFileSync(initrd, buildInitramfs(arch, tools.busybox, set, bytes, how, finit, init));
  const timeoutMs = o.timeoutMs ?? bootTimeoutMs();
  const consoleFile = join(work, 'console.log');
  const dataFile = arch.captureOnConsole ? consoleFile : join(work, 'data.out');
  const result = await withBootLock(CACHE_DIR, async () => {
    log(`e2e: booting ${release} (${arch.qemu}) with ${set.modules.length} modules (timeout ${timeoutMs / 1000} s)`);
    return runQemu(tools.qemu, arch, { kernel: o.kernel, initrd, append, consoleFile, dataFile, memoryMb, timeoutMs, devices: o.devices });
  });
  log(`e2e: qemu ran ${result.seconds.toFixed(1)} s${result.timedOut ? ' (timed out, killed)' : ''}`);
  const consoleTail = () => readFileSync(consoleFile, 'latin1').split('\n').slice(-40).join('\n');
  let body: Buffer;
  try {
    body = extractCapture(readFileSync(dataFile));
  } catch (e) {
    throw new Error(`${(e as Error).message}; qemu ${result.timedOut ? `timed out after ${timeoutMs / 1000} s` : `exited ${result.exitCode ?? result.signal}`}` +
      ` ${result.stderr.trim()}\n--- console.log (${work}) ---\n${consoleTail()}`);
  }
  const parsed = parseCapture(body.toString('latin1'));
  for (const name of ['kallsyms', 'modules', 'uname', 'dmesg', 'sections']) {
    if (!parsed.files.has(name)) throw new Error(`capture lacks ${name} (${work})`);
  }
  writeFileSync(join(work, 'kallsyms'), parsed.files.get('kallsyms')!, 'latin1');
  writeFileSync(join(work, 'modules'), parsed.files.get('modules')!, 'latin1');
  writeFileSync(join(work, 'dmesg'), parsed.files.get('dmesg')!, 'latin1');
  if (parsed.files.has('guest')) writeFileSync(join(work, 'guest'), parsed.files.get('guest')!, 'latin1');
  for (const [mod, sec, value] of parsed.sections) {
    mkdirSync(join(work, 'sys/module', mod, 'sections'), { recursive: true });
    writeFileSync(join(work, 'sys/module', mod, 'sections', sec), `${value}\n`);
  }
  // every module that loaded must have its sections: without them no module address can be checked
  for (const i of parsed.insmod.filter((x) => x.status === 0)) {
    if (!parsed.sections.some(([mod, sec]) => mod === i.name && sec === '.gnu.linkonce.this_module')) {
      throw new Error(`capture lacks /sys/module/${i.name}/sections (${work})`);
    }
  }
  const reasons = new Map(set.modules.map((m) => [m.name, m.reason]));
  const insmod = parsed.insmod.map((i) => ({ ...i, reason: reasons.get(i.name) ?? 'requested' }));
  rmSync(initrd);
  if (dataFile !== consoleFile) rmSync(dataFile);
  writeFileSync(join(work, 'meta.json'), `${JSON.stringify({
    harness: HARNESS_VERSION, kernel: o.kernel, release: parsed.files.get('uname')!.trim(), modulesDir: o.modulesDir,
    modules: set.modules.map((m) => ({ name: m.name, file: m.file, reason: m.reason, sha256: sha256(bytes.get(m.name)!) })),
    unresolvedSoftdeps: set.unresolvedSoftdeps, insmod, bootSeconds: Number(result.seconds.toFixed(2)), guestUptime: parsed.times, timedOut: result.timedOut,
    qemu: result.argv, capturedAt: new Date().toISOString(),
  }, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir);
  pruneCache();
  return loadCapture(dir, set, false);
}
