// Paths relative to the kernel source root, learned per object from units' DW_AT_name vs DW_AT_comp_dir.
import test from 'ava';
import { PathMapper } from '../src/sites/paths.js';
import { baseName } from '../src/sites/targets.js';

const DEBIAN = 'debian/build/build_amd64_none_cloud-amd64';

test('Debian: relative comp_dir is the build directory', (t) => {
  const m = new PathMapper();
  m.learn('kernel/irq/irqdesc.c', DEBIAN);
  t.is(m.relative(`${DEBIAN}/kernel/irq/irqdesc.c`, DEBIAN), 'kernel/irq/irqdesc.c');
  t.is(m.relative(`${DEBIAN}/./include/linux/jhash.h`, DEBIAN), 'include/linux/jhash.h');
  t.is(m.unitName('kernel/irq/irqdesc.c', DEBIAN), 'kernel/irq/irqdesc.c');
  t.is(m.relative('/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h', DEBIAN), '/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h', 'outside the tree stays absolute');
});

test('assembler units with absolute paths: the source root is comp_dir minus the learned build directory', (t) => {
  const m = new PathMapper();
  const root = '/build/reproducible-path/linux-6.1.176';
  // head_64.S's unit as GNU as 2.40 writes it in Debian's vmlinux
  m.learn(`${root}/arch/x86/kernel/head_64.S`, `${root}/${DEBIAN}`);
  t.is(m.unitName(`${root}/arch/x86/kernel/head_64.S`, `${root}/${DEBIAN}`), `${root}/arch/x86/kernel/head_64.S`, 'nothing learned yet');
  m.learn('arch/x86/kernel/head64.c', DEBIAN);
  t.is(m.unitName(`${root}/arch/x86/kernel/head_64.S`, `${root}/${DEBIAN}`), 'arch/x86/kernel/head_64.S');
  // Generated files live in the build directory: the longer prefix wins.
  t.is(m.relative(`${root}/${DEBIAN}/arch/x86/include/generated/asm/cpufeaturemasks.h`, `${root}/${DEBIAN}`), 'arch/x86/include/generated/asm/cpufeaturemasks.h');
});

test('O= builds with absolute paths: comp_dir is stripped, sourceRoot overrides', (t) => {
  const m = new PathMapper();
  m.learn('/home/u/linux/kernel/fork.c', '/home/u/build');
  t.is(m.unitName('/home/u/linux/kernel/fork.c', '/home/u/build'), '/home/u/linux/kernel/fork.c', 'an absolute unit name teaches nothing');
  t.is(m.relative('/home/u/build/include/generated/autoconf.h', '/home/u/build'), 'include/generated/autoconf.h');
  const r = new PathMapper('/home/u/linux/');
  r.learn('/home/u/linux/kernel/fork.c', '/home/u/build');
  t.is(r.unitName('/home/u/linux/kernel/fork.c', '/home/u/build'), 'kernel/fork.c');
  t.is(r.relative('/home/u/linux/./include/linux/sched.h', '/home/u/build'), 'include/linux/sched.h');
});

test('source-level names of compiler-made symbols', (t) => {
  t.is(baseName('scale.constprop.0'), 'scale');
  t.is(baseName('first_used.isra.0'), 'first_used');
  t.is(baseName('maybe_work.part.0'), 'maybe_work');
  t.is(baseName('alpha_entry.cold'), 'alpha_entry');
  t.is(baseName('__key.12'), '__key');
  t.is(baseName('name_show'), 'name_show');
  t.is(baseName('.Lfoo'), '.Lfoo');
});
