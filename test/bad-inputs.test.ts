/**
 * Broken inputs: scanObject never throws; each problem becomes an error whose message names the file,
 * gives a hex offset and says what was expected there. Offsets and sizes to look for come from the
 * builder, which computed them from the ELF structure it damaged.
 */
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { scanObject } from '../src/scan/scan-object.js';
import type { ScannedObject } from '../src/scan/result.js';
import { archTest } from './helpers/arch-test.js';
import { type BadInput, type BadKind, buildFixtures } from './helpers/build-fixtures.js';
import { readelfSymbols } from './helpers/oracle.js';
import { scanRows } from './helpers/scan-rows.js';

const fx = await buildFixtures();

const hex = (n: number) => `0x${n.toString(16)}`;

/** What each kind of damage must be reported as, beyond the common checks. */
const CHECKS: Record<BadKind, (t: ExecutionContext, r: ScannedObject, bad: BadInput, messages: string) => Promise<void> | void> = {
  empty(t, r, _bad, m) {
    t.is(r.elf, null);
    t.regex(m, /empty/i);
    t.regex(m, /ELF/);
  },
  'not-elf'(t, r, _bad, m) {
    t.is(r.elf, null);
    t.regex(m, /ELF magic/i);
    t.regex(m, /7f 45 4c 46|\\x7fELF|7f454c46/i, 'names the expected bytes');
  },
  'truncated-header'(t, r, bad, m) {
    t.is(r.elf, null);
    t.regex(m, /header/i);
    t.true(m.includes(hex(bad.facts.fileSize!)), `says the file ends at ${hex(bad.facts.fileSize!)}`);
  },
  'shoff-past-end'(t, _r, bad, m) {
    t.regex(m, /section header/i);
    t.true(m.includes(hex(bad.facts.shoff!)) || m.includes(hex(bad.facts.fieldOffset!)), `names e_shoff ${hex(bad.facts.shoff!)}`);
  },
  'symtab-link-not-strtab'(t, _r, bad, m) {
    t.regex(m, /SHT_STRTAB|string table/i);
    t.true(m.includes(hex(bad.facts.sectionHeaderOffset!)) || m.includes(hex(bad.facts.fieldOffset!)),
      `points at the .symtab header (${hex(bad.facts.sectionHeaderOffset!)}) or its sh_link (${hex(bad.facts.fieldOffset!)})`);
  },
  async 'symbol-name-past-strtab'(t, r, bad, m) {
    const f = bad.facts;
    t.regex(m, /string table/i);
    t.true(m.includes(hex(f.strtabSize!)), `says the table has ${hex(f.strtabSize!)} bytes`);
    t.true(m.includes(hex(f.fieldOffset!)) || m.includes(hex(f.strtabOffset! + f.badNameOffset!)),
      `points at the symbol (${hex(f.fieldOffset!)}) or where its name would be (${hex(f.strtabOffset! + f.badNameOffset!)})`);
    // One bad name costs one symbol, not the object.
    t.not(r.elf, null);
    const rows = scanRows(r.elf!.symbols);
    t.is(rows.length, f.symbolCount! - 1);
    t.false(rows.some((row) => row.index === f.symbolIndex));
    const want = await readelfSymbols(bad.source!);
    t.deepEqual(
      rows.filter((row) => want[row.index].type !== 'SECTION').map((row) => `${row.index} ${row.name}`),
      want.filter((s) => s.index !== f.symbolIndex && s.type !== 'SECTION').map((s) => `${s.index} ${s.name}`),
    );
  },
  'corrupt-gzip'(t, r, _bad, m) {
    t.is(r.elf, null);
    t.is(r.compression, 'gzip');
    t.regex(m, /gzip/i);
  },
  'corrupt-xz'(t, r, _bad, m) {
    t.is(r.elf, null);
    t.is(r.compression, 'xz');
    t.regex(m, /xz/i);
  },
  'corrupt-zstd'(t, r, _bad, m) {
    t.is(r.elf, null);
    t.is(r.compression, 'zstd');
    t.regex(m, /zstd/i);
  },
  'truncated-xz'(t, r, _bad, m) {
    t.is(r.elf, null);
    t.is(r.compression, 'xz');
    t.regex(m, /xz/i);
  },
  'signature-length'(t, r, _bad, m) {
    t.is(r.elf, null);
    t.regex(m, /signature/i);
    t.regex(m, /length/i);
  },
  'no-symtab'(t, r, _bad, m) {
    t.regex(m, /SHT_SYMTAB|\.symtab/);
    // The rest of the object is still described.
    t.not(r.elf, null);
    t.is(r.elf!.symbols.count, 0);
    t.truthy(r.elf!.buildId);
  },
};

for (const bad of fx.bad) {
  archTest(fx, bad.arch, `bad input ${bad.id}: reported, not thrown`, async (t) => {
    let r: ScannedObject | undefined;
    await t.notThrowsAsync(async () => {
      r = await scanObject(bad.path);
    });
    if (!r) return;
    t.true(r.errors.length >= 1, 'at least one error');
    for (const e of r.errors) {
      t.true(e.message.includes(bad.path), `names the file: ${e.message}`);
      t.regex(e.message, /0x[0-9a-f]+/, 'gives a hex offset');
      t.true(e.message.includes(hex(e.offset)), `the message shows the error's own offset ${hex(e.offset)}: ${e.message}`);
      t.notRegex(e.message, /internal error|TypeError|RangeError/, 'a property of the input, not a crash');
    }
    await CHECKS[bad.kind](t, r, bad, r.errors.map((e) => e.message).join('\n'));
  });
}

test('a directory named like a module is reported, not thrown', async (t) => {
  const path = join(fx.root, 'bad', 'x86_64', 'directory.ko');
  const r = await scanObject(path);
  t.is(r.elf, null);
  t.true(r.errors.length >= 1);
  t.true(r.errors.every((e) => e.message.includes(path)));
});

test('a missing file is reported, not thrown', async (t) => {
  const path = join(fx.root, 'bad', 'x86_64', 'no-such-module.ko');
  const r = await scanObject(path);
  t.is(r.elf, null);
  t.true(r.errors.length >= 1);
  t.true(r.errors.every((e) => e.message.includes(path)));
});
