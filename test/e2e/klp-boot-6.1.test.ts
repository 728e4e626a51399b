// Issue 11's boot proof, on the kbuild tier's kernel (scripts/kbuild-kernel 6.1): a livepatch for one copy of a
// duplicated vmlinux function (type_show, seven copies: kernel/reboot.c's backs /sys/kernel/reboot/type), its
// klp_func written by `ksymtree klp funcs ALIAS`, built against the kernel's tree and signed with its key,
// passes `ksymtree klp check`, loads with signatures enforced, and changes that copy's output, and only it:
// the other copies' sysfs files read as in a boot without the livepatch.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ksymtree } from '../helpers/cli.js';
import { bootCapture } from './harness/boot.js';
import { kbuildTest } from './harness/kbuild.js';

const SOURCE = fileURLToPath(new URL('../../../test/e2e/kbuild/livepatch-ksymtree.c', import.meta.url));
/** The copy to patch: the one whose definition site is in this file. */
const NAME = 'type_show';
const SITE = 'kernel/reboot.c';
/** sysfs files of that copy and of three other copies of the name (irq descriptors, the serial port, CPU caches). */
const FILES = ['/sys/kernel/reboot/type', '/sys/kernel/irq/0/type', '/sys/class/tty/ttyS0/type', '/sys/devices/system/cpu/cpu0/cache/index0/type'];


const guestScript = FILES.map((f) => `echo "@@FILE ${f} $($B cat ${f} 2>&1)"`).join('\n')
  + '\necho "@@FILE enabled $($B cat /sys/kernel/livepatch/livepatch_ksymtree/enabled 2>&1)"';

function files(guest: string): Map<string, string> {
  return new Map(guest.split('\n').filter((l) => l.startsWith('@@FILE ')).map((l) => {
    const [, file, ...value] = l.split(' ');
    return [file, value.join(' ')];
  }));
}

kbuildTest('kbuild 6.1: a livepatch made with `klp funcs` patches exactly the copy its alias names, in a booted kernel', async (t, dir) => {
  const tree = join(dir, 'tree');
  const aliased = join(dir, 'aliased');
  const release = readdirSync(join(aliased, 'modules/lib/modules'))[0];
  const modules = join(aliased, 'modules/lib/modules', release);
  const db = join(modules, 'ksymtree.db');
  const copies = JSON.parse((await ksymtree(['lookup', NAME, '--db', db, '--format', 'json'])).stdout) as { alias: string; decl_file: string; sympos: number }[];
  const target = copies.find((c) => c.decl_file === SITE)!;
  t.truthy(target, `${NAME} has a copy defined in ${SITE}`);
  t.true(copies.length > 1, `${NAME} is duplicated in vmlinux (${copies.length} copies)`);

  const work = mkdtempSync(join(tmpdir(), 'ksymtree-klp-boot-'));
  try {
    // the livepatch, as its author makes it: klp funcs' arrays pasted in, built against the tree, signed
    const funcs = await ksymtree(['klp', 'funcs', target.alias, '--db', db]);
    t.is(funcs.status, 0, funcs.stderr);
    t.regex(funcs.stdout, new RegExp(`\\.old_sympos = ${target.sympos},`));
    const newFunc = /\.new_func = (\w+),/.exec(funcs.stdout)![1];
    writeFileSync(join(work, 'klp-funcs.h'), funcs.stdout);
    copyFileSync(SOURCE, join(work, 'livepatch-ksymtree.c'));
    writeFileSync(join(work, 'Makefile'), `obj-m += livepatch-ksymtree.o\nccflags-y += -DNEW_FUNC=${newFunc}\n`);
    execFileSync('make', ['-s', '-C', tree, 'ARCH=x86_64', `M=${work}`, 'modules'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const ko = join(work, 'livepatch-ksymtree.ko');
    execFileSync(join(tree, 'scripts/sign-file'), ['sha256', join(tree, 'certs/signing_key.pem'), join(tree, 'certs/signing_key.x509'), ko]);

    const check = await ksymtree(['klp', 'check', ko, '--db', db, '--format', 'json']);
    t.is(check.status, 0, `${check.stdout}${check.stderr}`);
    t.true(check.stdout.includes(target.alias), `klp check binds ${target.alias}:\n${check.stdout}`);

    // a copy of the installed modules with the livepatch added; a boot without it, then one with it
    const withPatch = join(work, 'lib/modules', release);
    cpSync(modules, withPatch, { recursive: true });
    mkdirSync(join(withPatch, 'extra'), { recursive: true });
    copyFileSync(ko, join(withPatch, 'extra/livepatch-ksymtree.ko'));
    const boot = (mods: string[]) => bootCapture({ kernel: join(aliased, 'bzImage'), modulesDir: withPatch, modules: mods, cmdline: 'module.sig_enforce=1',
      guestScript, reboot: true, log: (l) => console.error(`[klp 6.1] ${l}`) });
    const before = files((await boot([])).guest);
    const capture = await boot(['livepatch_ksymtree']);
    const after = files(capture.guest);
    t.is(capture.insmod.find((i) => i.name === 'livepatch_ksymtree')?.status, 0, 'the signed livepatch loads with module.sig_enforce=1');
    t.is(after.get('enabled'), '1', '/sys/kernel/livepatch/livepatch_ksymtree/enabled');
    t.log(`before: ${[...before].map(([f, v]) => `${f}=${v}`).join(', ')}`);
    t.log(`after:  ${[...after].map(([f, v]) => `${f}=${v}`).join(', ')}`);
    t.not(before.get(FILES[0]), 'ksymtree-livepatched');
    t.is(after.get(FILES[0]), 'ksymtree-livepatched', `${FILES[0]} is served by the patched copy`);
    for (const f of FILES.slice(1)) {
      t.false(/No such file/.test(before.get(f) ?? ''), `${f} exists`);
      t.is(after.get(f), before.get(f), `${f} (another copy of ${NAME}) is unchanged`);
    }
    t.regex(readFileSync(join(capture.dir, 'dmesg'), 'latin1'), /livepatch: 'livepatch_ksymtree': (starting patching transition|patching complete)/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
