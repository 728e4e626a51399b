// A livepatch for one copy of a duplicated vmlinux or module function, made as its author would: `ksymtree klp funcs
// ALIAS` pasted into test/e2e/kbuild/livepatch-ksymtree.c with a replacement-*.h, built out of tree (make M=) against a kernel tree or Debian's
// linux-headers; and the guest lines that show, after it is loaded, which sysfs files its copy serves.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ksymtree } from '../../helpers/cli.js';
import { repoPath } from '../../helpers/repo.js';
import { CACHE_DIR } from './boot.js';

const KBUILD = repoPath('test', 'e2e', 'kbuild');
const SOURCE = join(KBUILD, 'livepatch-ksymtree.c');
export const LIVEPATCH_MODULE = 'livepatch_ksymtree';

export interface LivepatchSource {
  /** What `klp funcs ALIAS --db DB` printed: the klp_func/klp_object arrays, pasted in as klp-funcs.h. */
  readonly funcs: string;
  /** The replacement's name, as klp funcs wrote it into `.new_func`. */
  readonly newFunc: string;
  /** The replacement, test/e2e/kbuild/replacement-<this>.h (its signature is the replaced function's); default sysfs-show. */
  readonly replacement?: string;
}

/** `ksymtree klp funcs ALIAS --db DB`; throws with its stderr when it refuses. */
export async function klpFuncsFor(alias: string, db: string): Promise<LivepatchSource> {
  const r = await ksymtree(['klp', 'funcs', alias, '--db', db]);
  if (r.status !== 0) throw new Error(`ksymtree klp funcs ${alias} exited ${r.status}: ${r.stderr}`);
  const newFunc = /\.new_func = (\w+),/.exec(r.stdout)?.[1];
  if (!newFunc) throw new Error(`ksymtree klp funcs ${alias}: no .new_func in\n${r.stdout}`);
  return { funcs: r.stdout, newFunc };
}

/** The module's source files: the C file, the replacement, klp-funcs.h and the kbuild Makefile naming the replacement. */
function sourceFiles(src: LivepatchSource): Record<string, string | Buffer> {
  return {
    'livepatch-ksymtree.c': readFileSync(SOURCE),
    'replacement.h': readFileSync(join(KBUILD, `replacement-${src.replacement ?? 'sysfs-show'}.h`)),
    'klp-funcs.h': src.funcs,
    Makefile: `obj-m += livepatch-ksymtree.o\nccflags-y += -DNEW_FUNC=${src.newFunc}\n`,
  };
}

/** `make -C TREE M=DIR modules` on the sources in a fresh directory; returns that directory (the .ko inside). */
export function buildLivepatch(tree: string, src: LivepatchSource, makeArgs: readonly string[] = []): string {
  const work = mkdtempSync(join(tmpdir(), 'ksymtree-livepatch-'));
  for (const [name, data] of Object.entries(sourceFiles(src))) writeFileSync(join(work, name), data);
  try {
    execFileSync('make', ['-s', '-C', tree, ...makeArgs, `M=${work}`, 'modules'], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24 });
  } catch (e) {
    const err = e as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`building the livepatch against ${tree} failed (${work}): ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
  return work;
}

/** The compiler a tree builds with: Debian's headers name theirs in .kernelvariables (`CC = ... gcc-12`). */
function compilerOf(tree: string): string {
  const vars = join(tree, '.kernelvariables');
  return (existsSync(vars) && /^CC = .*\b(gcc-\d+)\s*$/m.exec(readFileSync(vars, 'utf8'))?.[1]) || 'gcc';
}

/**
 * The module built once per tree, sources and compiler, kept in the e2e cache (`livepatch-<key>/`, holding only
 * the .ko: a directory to boot with). `tree` must name its contents (a versioned headers directory).
 */
export function cachedLivepatch(tree: string, src: LivepatchSource): string {
  const gcc = execFileSync(compilerOf(tree), ['--version'], { encoding: 'utf8' }).split('\n')[0];
  const hash = createHash('sha256').update(JSON.stringify({ tree, gcc }));
  for (const [name, data] of Object.entries(sourceFiles(src))) hash.update(`${name}\0`).update(data).update('\0');
  const dir = join(CACHE_DIR, `livepatch-${hash.digest('hex').slice(0, 24)}`);
  const ko = join(dir, 'livepatch-ksymtree.ko');
  if (existsSync(ko)) return dir;
  const work = buildLivepatch(tree, src);
  try {
    const tmp = `${dir}.tmp-${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    copyFileSync(join(work, 'livepatch-ksymtree.ko'), join(tmp, 'livepatch-ksymtree.ko'));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

/**
 * Guest lines (busybox as $B): after the livepatch's transition ended (at most 10 s), `@@FILE PATH VALUE` for
 * every file the globs match, then `enabled`, `transition` and `functions` (its /sys/kernel/livepatch entries;
 * functions: the `<name>,<sympos>` directories of `objname`, vmlinux or a module).
 */
export function livepatchGuestScript(globs: readonly string[], objname = 'vmlinux'): string {
  const lp = `/sys/kernel/livepatch/${LIVEPATCH_MODULE}`;
  return [
    `i=0; while [ -e ${lp}/transition ] && [ "$($B cat ${lp}/transition)" != 0 ] && [ $i -lt 10 ]; do $B sleep 1; i=$((i + 1)); done`,
    `for f in ${globs.join(' ')}; do echo "@@FILE $f $($B cat $f 2>&1)"; done`,
    `echo "@@FILE enabled $($B cat ${lp}/enabled 2>&1)"`,
    `echo "@@FILE transition $($B cat ${lp}/transition 2>&1)"`,
    `echo "@@FILE functions $($B ls ${lp}/${objname} 2>&1 | $B grep , | $B tr '\\n' ' ')"`,
  ].join('\n');
}

/** The guest script's `@@FILE` lines: path (or enabled, transition, functions) -> value. */
export function guestFiles(guest: string): Map<string, string> {
  return new Map(guest.split('\n').filter((l) => l.startsWith('@@FILE ')).map((l) => {
    const [, file, ...value] = l.split(' ');
    return [file, value.join(' ').trim()];
  }));
}
