/**
 * Per-object metadata from scanObject: .modinfo fields (against `readelf -p .modinfo`), the GNU build-id
 * (against `readelf -n`), and the appended-signature flag (against the file's own trailer bytes).
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import test from 'ava';
import { scanObject } from '../src/scan/scan-object.js';
import { archTest } from './helpers/arch-test.js';
import { MODINFO, MODULE_SIG_MARKER, buildFixtures } from './helpers/build-fixtures.js';
import { memo, plainElf, readelfBuildId, readelfModinfo, removeScratch } from './helpers/oracle.js';

const fx = await buildFixtures();
test.after.always(removeScratch);

const scan = memo(scanObject);

for (const o of fx.objects) {
  archTest(fx, o.arch, `${o.id}: build-id matches readelf -n`, async (t) => {
    const r = await scan(o.path);
    const want = await readelfBuildId(await plainElf(o));
    t.truthy(want, 'the fixture is linked with --build-id');
    t.is(r.elf?.buildId, want);
  });

  archTest(fx, o.arch, `${o.id}: signed flag matches the sign-file trailer`, async (t) => {
    const r = await scan(o.path);
    const bytes = await readFile(await plainElf(o));
    const marker = Buffer.from(MODULE_SIG_MARKER, 'latin1');
    const trailer = bytes.subarray(bytes.length - marker.length).equals(marker);
    t.is(trailer, o.signed, 'fixture layout');
    t.is(r.elf?.signed, trailer);
  });

  if (o.kind === 'vmlinux') {
    archTest(fx, o.arch, `${o.id}: vmlinux has no module metadata`, async (t) => {
      const r = await scan(o.path);
      t.is(r.elf?.moduleName, null);
      t.is(r.elf?.vermagic, null);
      t.is(r.elf?.depends, null);
      t.is(r.elf?.kallsymsSource, 'nm-rules');
    });
    continue;
  }

  archTest(fx, o.arch, `${o.id}: modinfo name, vermagic and depends match readelf -p .modinfo`, async (t) => {
    const r = await scan(o.path);
    const info = await readelfModinfo(await plainElf(o));
    // The oracle itself reads what the fixture sources declare.
    const declared = MODINFO[o.module!];
    t.deepEqual(info.get('name'), declared.name === null ? undefined : [declared.name]);
    t.deepEqual(info.get('vermagic'), [declared.vermagic]);
    t.deepEqual(info.get('depends'), declared.depends === null ? undefined : [declared.depends]);
    t.deepEqual(info.get('license'), ['GPL']);

    // Without name=, the kernel's name is KBUILD_MODNAME: the file name without .ko*, '-' → '_'.
    const fallback = basename(o.path).replace(/\.ko(\.(gz|xz|zst))?$/, '').replaceAll('-', '_');
    t.is(r.elf?.moduleName, info.get('name')?.[0] ?? fallback);
    t.is(r.elf?.vermagic, info.get('vermagic')?.[0] ?? null);
    t.is(r.elf?.depends, info.get('depends')?.[0] ?? null);
  });
}

test('installed (debug-stripped) and debug modules carry the same build-id', async (t) => {
  t.is(fx.installed.modules.length, fx.debug.modules.length);
  for (const [i, installed] of fx.installed.modules.entries()) {
    const [a, b] = await Promise.all([scan(installed), scan(fx.debug.modules[i])]);
    t.deepEqual(a.errors, []);
    t.deepEqual(b.errors, []);
    t.truthy(a.elf?.buildId);
    t.is(a.elf?.buildId, b.elf?.buildId, installed);
    t.is(a.elf?.buildId, await readelfBuildId(fx.debug.modules[i]));
  }
});
