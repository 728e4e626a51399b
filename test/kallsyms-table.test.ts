/**
 * The vmlinux kallsyms decoder on small images linked at test time (test/helpers/build-kallsyms-fixtures.ts)
 * in the table layouts of several kernel versions, on x86_64, i386, s390x and 31-bit s390 (big-endian), and
 * aarch64 (PIE).
 * The oracle is `nm -n` of the same link and `readelf -S`, never the generator's own lists.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { ObjectError } from '../src/errors.js';
import { matchSymtab } from '../src/kallsyms/symtab-match.js';
import type { AddressEncoding } from '../src/kallsyms/table-reader.js';
import { decodeVmlinuxKallsyms, type VmlinuxKallsyms } from '../src/kallsyms/vmlinux-table.js';
import { extractVmlinuz } from '../src/kallsyms/vmlinuz.js';
import {
  buildKallsymsFixtures, hex16, type KallsymsFixture, nmSymbols, type NmSymbol, openElf, storedSymbolCount,
} from './helpers/build-kallsyms-fixtures.js';

const fx = await buildKallsymsFixtures();
const NM: Record<string, string> = { x86_64: 'nm', i386: 'nm', s390x: 's390x-linux-gnu-nm', s390: 's390x-linux-gnu-nm', 's390x-dso': 's390x-linux-gnu-nm', aarch64: 'aarch64-linux-gnu-nm' };

// A missing cross compiler fails (CI installs them all), unless KSYMTREE_ALLOW_MISSING_CROSS=1 as elsewhere.
for (const [arch, reason] of Object.entries(fx.missing)) {
  if (!reason) continue;
  if (process.env.KSYMTREE_ALLOW_MISSING_CROSS === '1') test.skip(`kallsyms fixtures for ${arch} [skipped: ${reason}]`, () => {});
  else test(`kallsyms fixtures for ${arch} are built`, (t) => t.fail(reason));
}

function decode(path: string, withSymtab: boolean, bytes?: Buffer): VmlinuxKallsyms | null {
  const o = openElf(path, bytes);
  return decodeVmlinuxKallsyms(o.src, o.h, o.sections, withSymtab ? o.symtab : null);
}

/** The symbols any kernel's scripts/kallsyms leaves out, applied to nm's list (plus 128+ character names before 6.1). */
function expectedFromNm(nm: readonly NmSymbol[], v: KallsymsFixture): Array<{ name: string; address: string; letter: string }> {
  const start = nm.find((s) => s.name === '__per_cpu_start')?.address;
  const end = nm.find((s) => s.name === '__per_cpu_end')?.address;
  return nm
    .filter((s) => !s.name.startsWith('kallsyms_') && !s.name.startsWith('$') && !s.name.startsWith('.L') && !'UuNnwvAa'.includes(s.letter))
    .filter((s) => v.profile.uleb || s.name.length < 128)
    .map((s) => {
      const percpu = v.profile.addressing === 'absolute-percpu' && start !== undefined && end !== undefined && s.address >= start && s.address <= end;
      return { name: s.name, address: hex16(s.address), letter: percpu ? 'A' : s.letter };
    });
}

const ENCODING: Record<string, AddressEncoding> = {
  'v6.1': 'absolute-percpu', 'v6.12': 'absolute-percpu', 'v6.12-rel': 'base-relative', 'v6.1-rel': 'base-relative',
  'v6.16-pcrel': 'place-relative', 'v6.16-u32': 'u32', 'v5.10': 'absolute-percpu', 'v5.10-rel': 'base-relative', 'v4.19': 'absolute',
};

for (const v of fx.variants) {
  test(`${v.id}: decoded count equals kallsyms_num_syms, and the list is nm's minus the dropped kinds`, async (t) => {
    const nm = await nmSymbols(NM[v.arch], v.vmlinux);
    const r = decode(v.vmlinux, true)!;
    t.truthy(r);
    const stored = await storedSymbolCount(v.vmlinux, nm, v.little, v.profile.wideWords && v.is64);
    t.is(r.entries.length, stored);
    t.is(r.tables.located, 'symtab');
    t.is(r.encoding, ENCODING[v.profile.id]);
    const key = (e: { name: string; address: string; letter: string }) => `${e.address} ${e.letter} ${e.name}`;
    t.deepEqual(r.entries.map(key).sort(), expectedFromNm(nm, v).map(key).sort());
    for (let i = 1; i < r.entries.length; i++) {
      if (r.entries[i].address < r.entries[i - 1].address) t.fail(`entry ${i} is below entry ${i - 1}: table order is address order`);
    }
    if (v.profile.uleb) t.true(r.entries.some((e) => e.name.length > 200), 'the 300-character name decodes (two-byte length)');
  });

  test(`${v.id}: every decoded entry has its .symtab twin`, (t) => {
    const o = openElf(v.vmlinux);
    const r = decodeVmlinuxKallsyms(o.src, o.h, o.sections, o.symtab)!;
    const m = matchSymtab(r.entries, o.symtab!);
    t.deepEqual(m.unmatched, []);
    const used = new Set<number>();
    r.entries.forEach((e, k) => {
      const i = m.symbolIndex[k];
      if (o.symtab!.name(i) !== e.name || o.symtab!.valueHex(i) !== e.address || used.has(i)) t.fail(`entry ${k} (${e.name}) matched symbol ${i}`);
      used.add(i);
    });
  });

  test(`${v.id}: the stripped image decodes the same by shape`, (t) => {
    const withSymtab = decode(v.vmlinux, true)!;
    const o = openElf(v.stripped);
    t.is(o.symtab, null);
    const byShape = decodeVmlinuxKallsyms(o.src, o.h, o.sections, null)!;
    t.truthy(byShape);
    t.is(byShape.tables.located, 'shape');
    t.deepEqual(byShape.entries, withSymtab.entries);
    t.deepEqual(byShape.seqsOfNames, withSymtab.seqsOfNames);
    t.deepEqual(byShape.sympos, withSymtab.sympos);
    t.is(byShape.encoding, withSymtab.encoding);
    t.deepEqual({ ...byShape.tables, located: 'symtab' }, withSymtab.tables);
  });

  test(`${v.id}: seqs_of_names order and livepatch sympos of duplicated names`, async (t) => {
    const r = decode(v.vmlinux, true)!;
    const nm = await nmSymbols(NM[v.arch], v.vmlinux);
    if (v.profile.seqs) {
      const seqs = r.seqsOfNames!;
      t.is(seqs.length, r.entries.length);
      for (let k = 1; k < seqs.length; k++) {
        const a = r.entries[seqs[k - 1]];
        const b = r.entries[seqs[k]];
        const c = Buffer.compare(Buffer.from(a.name, 'latin1'), Buffer.from(b.name, 'latin1'));
        if (c > 0 || (c === 0 && a.address > b.address)) t.fail(`seqs_of_names ${k - 1}, ${k}: ${a.name} before ${b.name}`);
      }
      r.namePosition!.forEach((pos, i) => { if (seqs[pos] !== i) t.fail(`namePosition[${i}]`); });
    } else {
      t.is(r.seqsOfNames, null);
      t.is(r.namePosition, null);
    }
    // helper and duplicate_data are static in core.c and util.c: sympos 1 and 2 in address order.
    for (const name of ['helper', 'duplicate_data']) {
      const copies = nm.filter((s) => s.name === name).sort((a, b) => (a.address < b.address ? -1 : 1));
      t.is(copies.length, 2, name);
      copies.forEach((c, n) => {
        const i = r.entries.findIndex((e) => e.name === name && e.address === hex16(c.address));
        t.is(r.sympos[i], n + 1, `${name} at ${hex16(c.address)}`);
      });
    }
    t.is(r.sympos[r.entries.findIndex((e) => e.name === 'core_entry')], 0, 'a unique name has sympos 0');
  });
}

test('aarch64 (PIE): kallsyms_relative_base is 0 in the file and comes from its RELATIVE relocation', (t) => {
  const v = fx.variants.find((x) => x.id === 'aarch64/v6.12-rel');
  if (!v) return t.pass('aarch64 fixtures missing (reported by their own test)');
  const r = decode(v.vmlinux, true)!;
  t.true(r.tables.relativeBase!.fromRelocation);
  const stored = readFileSync(v.vmlinux).readBigUInt64LE(r.tables.relativeBase!.offset);
  t.is(stored, 0n);
  t.is(r.tables.relativeBase!.value, r.entries[0].address);
});

test('s390x linked -shared: kallsyms_relative_base comes from a symbol relocation (_text + addend)', async (t) => {
  const v = fx.variants.find((x) => x.id === 's390x-dso/v6.12-rel');
  if (!v) return t.pass('s390x fixtures missing (reported by their own test)');
  const r = decode(v.vmlinux, true)!;
  t.true(r.tables.relativeBase!.fromRelocation);
  const text = (await nmSymbols(NM.s390x, v.vmlinux)).find((s) => s.name === '_text')!;
  t.is(r.tables.relativeBase!.value, hex16(text.address));
});

test('a vmlinux without kallsyms tables decodes to null, with and without .symtab', (t) => {
  for (const [arch, path] of Object.entries(fx.plain)) {
    t.is(decode(path!, true), null, arch);
    t.is(decode(path!, false), null, arch);
  }
});

for (const [kind, path] of Object.entries(fx.vmlinuz)) {
  test(`vmlinuz (${kind}): the extracted image decodes like the vmlinux it was made from`, async (t) => {
    const v = fx.variants.find((x) => x.id === 'x86_64/v6.1')!;
    const x = await extractVmlinuz(path!, readFileSync(path!));
    t.is(x.compression as string, kind === 'raw-gzip' ? 'gzip' : kind);
    t.is(x.found, kind === 'raw-gzip' ? 'magic-search' : 'setup-header');
    t.deepEqual(x.image, readFileSync(v.stripped));
    const r = decode(path!, false, x.image)!;
    const want = decode(v.vmlinux, true)!;
    t.deepEqual(r.entries, want.entries);
    t.deepEqual(r.sympos, want.sympos);
  });
}
for (const kind of fx.vmlinuzMissing) test.skip(`vmlinuz (${kind}) [skipped: its compressor is not installed]`, () => {});

test('vmlinuz: a file with no kernel payload is an ObjectError', async (t) => {
  const e = await t.throwsAsync(extractVmlinuz('junk', Buffer.from('no kernel in here, only words'.repeat(40))), { instanceOf: ObjectError });
  t.is(e!.offset, 0);
});

/* ---------------------------------------- corrupt tables ---------------------------------------- */

const victim = fx.variants.find((x) => x.id === 'x86_64/v6.12');

function corrupt(patch: (b: Buffer, r: VmlinuxKallsyms) => void): { error: ObjectError; good: VmlinuxKallsyms } {
  const bytes = readFileSync(victim!.vmlinux);
  const good = decode(victim!.vmlinux, true)!;
  patch(bytes, good);
  try {
    decode(victim!.vmlinux, true, bytes);
  } catch (e) {
    if (e instanceof ObjectError) return { error: e, good };
    throw e;
  }
  throw new Error('the corrupt tables decoded without an error');
}

if (victim) {
  test('corrupt: a marker that disagrees with the names is reported at kallsyms_markers', (t) => {
    const { error, good } = corrupt((b, r) => b.writeUInt32LE(b.readUInt32LE(r.tables.markers.offset + 4) + 1, r.tables.markers.offset + 4));
    t.is(error.offset, good.tables.markers.offset);
    t.regex(error.expected, /kallsyms_markers/);
    t.is(error.file, victim.vmlinux);
  });

  test('corrupt: a token index past the token table is reported at that index entry', (t) => {
    const { error, good } = corrupt((b, r) => b.writeUInt16LE(0xfff0, r.tables.tokenIndex.offset + 2 * 5));
    t.is(error.offset, good.tables.tokenIndex.offset + 10);
    t.regex(error.expected, /kallsyms_token_index\[5\]/);
  });

  test('corrupt: a name of length 0 is reported at its entry', (t) => {
    let at = 0;
    const { error } = corrupt((b, r) => {
      at = r.tables.names.offset;
      for (let i = 0; i < 3; i++) at += 1 + b[at];
      b[at] = 0;
    });
    t.is(error.offset, at);
    t.regex(error.expected, /kallsyms_names entry 3 /);
  });

  test('corrupt: seqs_of_names that is not a permutation is reported at the table', (t) => {
    const { error, good } = corrupt((b, r) => b.copy(b, r.tables.seqsOfNames!.offset, r.tables.seqsOfNames!.offset + 3, r.tables.seqsOfNames!.offset + 6));
    t.is(error.offset, good.tables.seqsOfNames!.offset);
  });

  test('corrupt: offsets out of address order are reported at kallsyms_offsets', (t) => {
    const { error, good } = corrupt((b, r) => {
      const o = r.tables.addresses.offset;
      const n = r.entries.length;
      b.writeInt32LE(b.readInt32LE(o + 4 * (n - 1)), o + 4 * (n >> 1)); // a middle entry takes the last address
      b.writeInt32LE(b.readInt32LE(o + 4 * 3), o + 4 * (n - 1)); // and the last one an early one
    });
    t.is(error.offset, good.tables.addresses.offset);
  });

  test('corrupt: an impossible symbol count is reported at kallsyms_num_syms', (t) => {
    const { error, good } = corrupt((b, r) => b.writeUInt32LE(0x7fffffff, r.tables.numSyms.offset));
    t.is(error.offset, good.tables.numSyms.offset);
  });
}
