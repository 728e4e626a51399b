/**
 * The fixtures are what other tests rely on: these checks (binutils and the compression CLIs only, no
 * ksymtree code) make sure a change to the sources or the builder cannot silently remove a case, e.g.
 * the in-object duplicates the alias tests need.
 */
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import test from 'ava';
import { archTest } from './helpers/arch-test.js';
import { MODULE_SIG_MARKER, buildFixtures } from './helpers/build-fixtures.js';
import { exec } from './helpers/exec.js';
import { ARCHES } from './helpers/toolchains.js';
import { type ReadelfSymbol, plainElf, readelfBuildId, readelfSections, readelfSymbols, removeScratch } from './helpers/oracle.js';

const fx = await buildFixtures();
test.after.always(removeScratch);

const byId = (id: string) => {
  const o = fx.objects.find((x) => x.id === id);
  if (!o) throw new Error(`no fixture ${id}`);
  return o;
};

async function symbolsWithSections(file: string) {
  const [symbols, sections] = await Promise.all([readelfSymbols(file), readelfSections(file)]);
  const sectionOf = (s: ReadelfSymbol) => (/^\d+$/.test(s.ndx) ? sections[Number(s.ndx)].name : s.ndx);
  const find = (name: string, type?: string, bind?: string) =>
    symbols.filter((s) => s.name === name && (!type || s.type === type) && (!bind || s.bind === bind));
  return { symbols, sections, sectionOf, find };
}

for (const arch of ARCHES) {
  archTest(fx, arch, `${arch} foo.ko has in-object duplicates and every special symbol kind`, async (t) => {
    const { sections, sectionOf, find } = await symbolsWithSections(byId(`${arch}/plain/foo.ko`).path);
    for (const name of ['helper', 'fixture_hash']) t.is(find(name, 'FUNC', 'LOCAL').length, 2, `two static functions ${name}`);
    for (const name of ['counter', 'limit', 'prefix', 'pcpu_scratch']) t.is(find(name, 'OBJECT', 'LOCAL').length, 2, `two static variables ${name}`);
    t.deepEqual(find('pcpu_scratch').map(sectionOf), ['.data..percpu', '.data..percpu']);
    t.deepEqual(find('foo_pcpu_hits').map(sectionOf), ['.data..percpu']);
    t.deepEqual(find('foo_init', 'FUNC').map(sectionOf), ['.init.text']);
    t.deepEqual(find('foo_exit', 'FUNC').map(sectionOf), ['.exit.text']);
    t.deepEqual(find('foo_boot_arg').map(sectionOf), ['.init.data']);
    t.deepEqual(find('__ksymtab_foo_api').map(sectionOf), ['__ksymtab']);
    t.deepEqual(find('__ksymtab_foo_gpl_api').map(sectionOf), ['__ksymtab_gpl']);
    t.deepEqual(find('__ksymtab_foo_util_step').map(sectionOf), ['__ksymtab_gpl']);
    t.deepEqual(find('____versions').map(sectionOf), ['__versions']);
    t.deepEqual(find('__UNIQUE_ID_name0').map(sectionOf), ['.modinfo']);
    t.is(find('foo_weak_hook', 'FUNC', 'WEAK').length, 1);
    t.is(find('foo_weak_tunable', 'OBJECT', 'WEAK').length, 1);
    t.deepEqual(find('foo_optional', undefined, 'WEAK').map((s) => s.ndx), ['UND']);
    t.deepEqual(find('foo_abs_global', undefined, 'GLOBAL').map((s) => s.ndx), ['ABS']);
    t.deepEqual(find('foo_main.c', 'FILE').concat(find('foo_util.c', 'FILE')).length, 2);
    for (const name of ['.modinfo', '__versions', '__ksymtab', '__ksymtab_gpl', '.data..percpu', '.init.text', '.note.gnu.build-id']) {
      t.true(sections.some((s) => s.name === name), `section ${name}`);
    }
    t.true(sections.some((s) => s.name === '.debug_info'), 'built with -g');
  });

  archTest(fx, arch, `${arch} bar.ko holds each clashing name once`, async (t) => {
    const { find } = await symbolsWithSections(byId(`${arch}/plain/bar.ko`).path);
    t.is(find('helper', 'FUNC').length, 1);
    t.is(find('counter', 'OBJECT').length, 1);
    t.is(find('prefix', 'OBJECT').length, 1);
    t.deepEqual(find('__ksymtab_bar_api').length, 1);
  });

  archTest(fx, arch, `${arch} vmlinux has duplicate statics and an .init.text function`, async (t) => {
    const { find, sectionOf, sections } = await symbolsWithSections(byId(`${arch}/plain/vmlinux`).path);
    for (const name of ['show', 'fixture_hash']) t.is(find(name, 'FUNC', 'LOCAL').length, 2, name);
    for (const name of ['counter', 'limit', 'prefix']) t.is(find(name, 'OBJECT', 'LOCAL').length, 2, name);
    t.deepEqual(find('start_kernel', 'FUNC').map(sectionOf), ['.init.text']);
    t.is(find('arch_hook', 'FUNC', 'WEAK').length, 1);
    t.true(sections.some((s) => s.name === '.note.gnu.build-id'));
  });

  archTest(fx, arch, `${arch} signed foo.ko is laid out like scripts/sign-file output`, async (t) => {
    const plain = readFileSync(byId(`${arch}/plain/foo.ko`).path);
    const signed = readFileSync(byId(`${arch}/signed/foo.ko`).path);
    const marker = Buffer.from(MODULE_SIG_MARKER, 'latin1');
    t.is(marker.length, 28);
    t.true(signed.subarray(signed.length - 28).equals(marker));
    const sigLen = signed.readUInt32BE(signed.length - 28 - 4);
    t.is(signed.length, plain.length + sigLen + 12 + 28);
    t.true(signed.subarray(0, plain.length).equals(plain), 'the ELF image comes first, unchanged');
    t.is(signed[plain.length + sigLen + 2], 2, 'id_type PKEY_ID_PKCS7');
  });
}

for (const o of fx.objects.filter((x) => x.compression !== 'none')) {
  archTest(fx, o.arch, `${o.id} decompresses (CLI) to its uncompressed sibling`, async (t) => {
    const plainSibling = o.path.replace(/\.(gz|xz|zst)$/, '');
    const decompressed = readFileSync(await plainElf(o));
    if (o.variant === 'installed') {
      // The installed tree keeps only the compressed file; compare with the debug copy's symbols instead.
      t.is(await readelfBuildId(await plainElf(o)), await readelfBuildId(join(fx.debug.root, 'kernel', 'drivers', 'foo', basename(plainSibling))));
    } else {
      t.true(decompressed.equals(readFileSync(plainSibling)));
    }
    if (o.compression === 'xz') {
      const { stdout } = await exec('xz', ['--robot', '--list', o.path]);
      t.regex(stdout, /\bCRC32\b/, 'xz --check=crc32 like the kernel');
    }
  });
}

archTest(fx, 'x86_64', 'tree, installed and debug layouts', async (t) => {
  t.true(statSync(fx.tree.vmlinux).isFile());
  t.deepEqual(fx.tree.modules.map((p) => p.slice(fx.tree.root.length + 1)),
    ['kernel/drivers/foo/foo.ko', 'kernel/drivers/foo/bar.ko.xz', 'kernel/drivers/foo/baz-qux.ko.zst']);
  for (const p of [...fx.tree.modules, ...fx.installed.modules, ...fx.debug.modules, fx.debug.vmlinux]) t.true(existsSync(p), p);
  t.is(readFileSync(join(fx.tree.root, 'modules.order'), 'utf8'),
    'kernel/drivers/foo/foo.ko\nkernel/drivers/foo/bar.ko\nkernel/drivers/foo/baz-qux.ko\n');
  t.false(existsSync(join(fx.installed.root, 'vmlinux')), 'installed trees have no vmlinux');

  for (const [i, installed] of fx.installed.modules.entries()) {
    const o = fx.objects.find((x) => x.path === installed)!;
    const file = await plainElf(o);
    const names = (await readelfSections(file)).map((s) => s.name);
    t.false(names.some((n) => n.startsWith('.debug')), `${installed} is stripped of DWARF`);
    t.true(names.includes('.symtab'), `${installed} keeps .symtab`);
    const debugNames = (await readelfSections(fx.debug.modules[i])).map((s) => s.name);
    t.true(debugNames.includes('.debug_info'), `${fx.debug.modules[i]} has DWARF`);
    t.is(await readelfBuildId(file), await readelfBuildId(fx.debug.modules[i]));
  }
});

archTest(fx, 'x86_64', 'DWARF 5 by default, DWARF 4 in the dwarf4 variant', async (t) => {
  const version = async (file: string) => {
    const { stdout } = await exec('readelf', ['--debug-dump=info', file]);
    return [...new Set([...stdout.matchAll(/^\s+Version:\s+(\d+)/gm)].map((m) => Number(m[1])))];
  };
  t.deepEqual(await version(byId('x86_64/plain/foo.ko').path), [5]);
  t.deepEqual(await version(byId('x86_64/plain/vmlinux').path), [5]);
  t.deepEqual(await version(byId('x86_64/dwarf4/foo.ko').path), [4]);
  t.deepEqual(await version(byId('x86_64/dwarf4/vmlinux').path), [4]);
});

test('the cycle tree has a symlink to a parent directory', (t) => {
  const loop = join(fx.cycleTree, 'kernel', 'drivers', 'foo', 'loop');
  t.is(readlinkSync(loop), '..');
  t.true(statSync(join(loop, 'foo', 'loop', 'foo')).isDirectory(), 'following it comes back to the same directory');
});

test('every planned object exists unless its toolchain is missing', (t) => {
  for (const o of fx.objects) t.is(existsSync(o.path), o.available, o.id);
  for (const b of fx.bad) t.is(existsSync(b.path), b.available, b.id);
  t.true(fx.archs.x86_64.available);
});
