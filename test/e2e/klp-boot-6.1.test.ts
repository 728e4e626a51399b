// Issue 11's boot proof, on the kbuild tier's kernel (scripts/kbuild-kernel 6.1): a livepatch for one copy of a
// duplicated vmlinux function (type_show, seven copies: kernel/reboot.c's backs /sys/kernel/reboot/type), its
// klp_func written by `ksymtree klp funcs ALIAS`, built against the kernel's tree and signed with its key,
// passes `ksymtree klp check`, loads with signatures enforced, and changes that copy's output, and only it:
// the other copies' sysfs files read as in a boot without the livepatch.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ksymtree } from '../helpers/cli.js';
import { bootCapture } from './harness/boot.js';
import { kbuildTest } from './harness/kbuild.js';
import { buildLivepatch, guestFiles, klpFuncsFor, LIVEPATCH_MODULE, livepatchGuestScript } from './harness/livepatch.js';

/** The copy to patch: the one whose definition site is in this file. */
const NAME = 'type_show';
const SITE = 'kernel/reboot.c';
/** sysfs files of that copy and of three other copies of the name (irq descriptors, the serial port, CPU caches). */
const FILES = ['/sys/kernel/reboot/type', '/sys/kernel/irq/0/type', '/sys/class/tty/ttyS0/type', '/sys/devices/system/cpu/cpu0/cache/index0/type'];


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

  let build: string | undefined;
  try {
    // the livepatch, as its author makes it: klp funcs' arrays pasted in, built against the tree, signed
    const src = await klpFuncsFor(target.alias, db);
    t.regex(src.funcs, new RegExp(`\\.old_sympos = ${target.sympos},`));
    build = buildLivepatch(tree, src, ['ARCH=x86_64']);
    const ko = join(build, 'livepatch-ksymtree.ko');
    execFileSync(join(tree, 'scripts/sign-file'), ['sha256', join(tree, 'certs/signing_key.pem'), join(tree, 'certs/signing_key.x509'), ko]);

    const check = await ksymtree(['klp', 'check', ko, '--db', db, '--format', 'json']);
    t.is(check.status, 0, `${check.stdout}${check.stderr}`);
    t.true(check.stdout.includes(target.alias), `klp check binds ${target.alias}:\n${check.stdout}`);

    // a boot without the livepatch, then one with it (the build directory holds its .ko only)
    const boot = (mods: string[]) => bootCapture({ kernel: join(aliased, 'bzImage'), modulesDir: build!, modules: mods, cmdline: 'module.sig_enforce=1',
      guestScript: livepatchGuestScript(FILES), reboot: true, log: (l) => console.error(`[klp 6.1] ${l}`) });
    const before = guestFiles((await boot([])).guest);
    const capture = await boot([LIVEPATCH_MODULE]);
    const after = guestFiles(capture.guest);
    t.is(capture.insmod.find((i) => i.name === LIVEPATCH_MODULE)?.status, 0, 'the signed livepatch loads with module.sig_enforce=1');
    t.is(after.get('enabled'), '1', `/sys/kernel/livepatch/${LIVEPATCH_MODULE}/enabled`);
    t.is(after.get('functions'), `${NAME},${target.sympos}`, `/sys/kernel/livepatch/${LIVEPATCH_MODULE}/vmlinux/`);
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
    if (build) rmSync(build, { recursive: true, force: true });
  }
});
