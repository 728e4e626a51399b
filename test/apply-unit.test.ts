// The pure parts of apply: the rewrite's refusals, the marker format, reading an applied module as its
// original (for the index), recipes by name only, and the PKCS#7 check with and without signed attributes.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { readElfHeader } from '../src/elf/header.js';
import { readSections } from '../src/elf/sections.js';
import { readSymbolTable } from '../src/elf/symbols.js';
import { BufferSource } from '../src/io/source.js';
import { recipeByName, recipeName, RECIPES } from '../src/io/compress.js';
import { type OriginalFile, decodeMarker, encodeMarker, sha256 } from '../src/apply/marker.js';
import { appliedOriginal } from '../src/apply/original-source.js';
import { type AliasRequest, ApplyRefusal, addAliases, findMarker, parseElf, reconstructOriginal } from '../src/apply/rewrite.js';
import { verifyPkcs7 } from '../src/apply/signing.js';
import { buildApplyFixtures } from './helpers/build-apply-fixtures.js';
import { exec } from './helpers/exec.js';

const fixtures = buildApplyFixtures();
const work = mkdtempSync(join(tmpdir(), 'ksymtree-apply-unit-'));

function originalInfo(elf: Buffer): OriginalFile {
  return {
    elfSize: elf.length, header: elf.subarray(0, 64), signature: Buffer.alloc(0), imageSha256: sha256(elf), compression: 'none',
    fileMode: 'image', recipe: '', embedded: Buffer.alloc(0), fileSha256: sha256(elf),
  };
}

function symtabOf(file: string, bytes: Buffer) {
  const src = new BufferSource(file, bytes);
  const h = readElfHeader(src);
  return readSymbolTable(src, h, readSections(src, h))!;
}

/** Requests for every duplicated named definition, `NAME@u_<n>`. */
function duplicates(file: string, elf: Buffer): AliasRequest[] {
  const st = symtabOf(file, elf);
  const byName = new Map<string, number[]>();
  for (let i = 1; i < st.count; i++) {
    const name = st.name(i);
    if (!name || st.rawShndx(i) === 0 || st.type(i) === 3 || st.type(i) === 4) continue;
    byName.set(name, [...(byName.get(name) ?? []), i]);
  }
  return [...byName].filter(([, l]) => l.length > 1).flatMap(([name, l]) => l.map((idx, k) => ({ idx, alias: `${name}@u_${k + 1}`, name })));
}

test('addAliases is deterministic and its marker rebuilds the original exactly', async (t) => {
  const fx = await fixtures;
  const file = fx.plain.x86_64!;
  const elf = readFileSync(file);
  const req = duplicates(file, elf);
  t.true(req.length >= 8);
  const a = addAliases(file, elf, req, originalInfo(elf));
  const b = addAliases(file, elf, [...req].reverse(), originalInfo(elf));
  t.true(a.elf.equals(b.elf), 'request order does not matter');
  t.true(a.elf.subarray(64, elf.length).equals(elf.subarray(64)), 'the original image is kept byte for byte after the header');
  t.is(a.localAliases + a.globalAliases, req.length);
  t.is(a.globalAliases, 1, 'the global dup_shared');
  const p = parseElf(file, a.elf);
  const marker = findMarker(p)!;
  t.is(marker.localAliases, a.localAliases);
  t.true(reconstructOriginal(p, marker).image.equals(elf));
});

test('appliedOriginal lets the index read an applied module as its original', async (t) => {
  const fx = await fixtures;
  const file = fx.plain.x86_64!;
  const elf = readFileSync(file);
  const applied = addAliases(file, elf, duplicates(file, elf), originalInfo(elf)).elf;
  t.is(appliedOriginal(new BufferSource(file, elf)), null, 'an untouched module is read as it is');
  const src = appliedOriginal(new BufferSource(file, applied))!;
  t.is(src.size, elf.length);
  t.true(src.read(0, elf.length, 'all').equals(elf));
  t.true(src.read(10, 100, 'across the header').equals(elf.subarray(10, 110)));
  const h = readElfHeader(src);
  const st = readSymbolTable(src, h, readSections(src, h))!;
  const orig = symtabOf(file, elf);
  t.is(st.count, orig.count);
  for (let i = 0; i < st.count; i++) t.is(st.name(i), orig.name(i));
  t.throws(() => src.read(elf.length - 1, 2, 'past the end'), { message: /past the end: expected 2 bytes/ });
});

test('refusals: alias equal to a symbol name, given twice, index out of range, another build, undefined symbol', async (t) => {
  const fx = await fixtures;
  const file = fx.plain.x86_64!;
  const elf = readFileSync(file);
  const st = symtabOf(file, elf);
  const helper = [...Array(st.count).keys()].find((i) => st.name(i) === 'helper')!;
  const undef = [...Array(st.count).keys()].find((i) => st.name(i) === 'fixture_log')!;
  const refuse = (req: AliasRequest[], pattern: RegExp) => {
    const e = t.throws(() => addAliases(file, elf, req, originalInfo(elf)), { instanceOf: ApplyRefusal });
    t.regex(e?.message ?? '', pattern);
  };
  refuse([{ idx: helper, alias: 'counter' }], /equals a symbol name/);
  refuse([{ idx: helper, alias: 'x@1' }, { idx: helper + 1, alias: 'x@1' }], /given twice/);
  refuse([{ idx: st.count + 5, alias: 'x@2' }], /outside \.symtab/);
  refuse([{ idx: helper, alias: 'x@3', name: 'other' }], /index says other: the index describes another build/);
  refuse([{ idx: undef, alias: 'x@4' }], /not a named definition/);
  refuse([{ idx: helper, alias: 'a\0b' }], /NUL/);
  const applied = addAliases(file, elf, [{ idx: helper, alias: 'helper@x' }], originalInfo(elf)).elf;
  t.throws(() => addAliases(file, applied, [{ idx: helper, alias: 'y' }], originalInfo(applied)), { message: /already carries/ });
});

test('marker: round trip; damage is reported', (t) => {
  const m = {
    elfSize: 1234, header: Buffer.alloc(64, 7), signature: Buffer.from('sig'), imageSha256: Buffer.alloc(32, 1), compression: 'xz' as const,
    fileMode: 'embedded' as const, recipe: '', embedded: Buffer.from('original'), fileSha256: Buffer.alloc(32, 2),
    symbolCount: 40, firstGlobal: 30, localAliases: 5, globalAliases: 1,
  };
  const d = decodeMarker(encodeMarker(m));
  t.is(d.version, 1);
  t.deepEqual({ ...d, version: undefined }, { ...m, version: undefined });
  const bytes = encodeMarker(m);
  t.throws(() => decodeMarker(bytes.subarray(0, bytes.length - 1)), { message: /inconsistent/ });
  const other = Buffer.from(bytes);
  other[0] ^= 1;
  t.throws(() => decodeMarker(other), { message: /magic/ });
});

test('recipes are found by name only: a name read from a module never becomes a command', (t) => {
  for (const list of Object.values(RECIPES)) for (const r of list) t.is(recipeByName(recipeName(r)), r);
  t.is(recipeByName('xz --check=crc32 --lzma2=dict=1MiB')?.tool, 'xz');
  t.is(recipeByName('sh -c reboot'), null);
  t.is(recipeByName('xz --check=crc64'), null);
});

test('verifyPkcs7: sign-file style (no attributes) and openssl cms with signed attributes; a changed byte fails', async (t) => {
  const fx = await fixtures;
  if (!fx.signed) return t.pass(`no signing fixtures: ${fx.signingMissing}`);
  const cert = new X509Certificate(readFileSync(fx.signed.cert));
  const content = readFileSync(fx.plain.x86_64!);
  const contentFile = join(work, 'content.bin');
  writeFileSync(contentFile, content);
  for (const attrs of [['-noattr'], []]) {
    const out = join(work, `sig${attrs.length}.p7`);
    await exec('openssl', ['cms', '-sign', '-binary', '-nocerts', '-noattr', '-outform', 'DER', '-signer', fx.signed.key, '-inkey', fx.signed.key,
      '-in', contentFile, '-out', out, '-md', 'sha256'].filter((a) => a !== '-noattr' || attrs.length));
    const der = readFileSync(out);
    t.is(verifyPkcs7(der, content, cert), null, `attributes: ${attrs.length ? 'none' : 'signed'}`);
    const changed = Buffer.from(content);
    changed[200] ^= 1;
    t.not(verifyPkcs7(der, changed, cert), null);
  }
  t.regex(verifyPkcs7(Buffer.from([0x30, 0x03, 0x02]), content, cert) ?? '', /unreadable PKCS#7/);
});

/**
 * dupmod.ko with an `.llvm_addrsig` (clang's address-significance table; gcc emits none, so objcopy adds
 * the section and the test turns it into SHT_LLVM_ADDRSIG linked to .symtab) listing `indices`.
 */
async function withAddrsig(elf: Buffer, indices: number[], tail: number[] = []): Promise<{ file: string; elf: Buffer }> {
  const uleb = (v: number) => { const o: number[] = []; do { o.push((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)); v >>>= 7; } while (v); return o; };
  const stem = join(work, `addrsig-${indices.join('-')}-${tail.join('-')}`);
  const table = `${stem}.bin`;
  writeFileSync(table, Buffer.from([...indices.flatMap(uleb), ...tail]));
  const input = `${stem}-in.ko`;
  const file = `${stem}.ko`;
  writeFileSync(input, elf);
  await exec('objcopy', ['--add-section', `.llvm_addrsig=${table}`, input, file]);
  const out = readFileSync(file);
  const src = new BufferSource(file, out);
  const h = readElfHeader(src);
  const sections = readSections(src, h);
  const sig = sections.find((s) => s.name === '.llvm_addrsig')!;
  const symtab = sections.find((s) => s.name === '.symtab')!;
  const shdr = Number(h.shoff) + sig.index * 64;
  out.writeUInt32LE(0x6fff4c03, shdr + 4);
  out.writeUInt32LE(symtab.index, shdr + 40);
  writeFileSync(file, out);
  return { file, elf: out };
}

test('.llvm_addrsig is renumbered with the symbols: llvm-readelf --addrsig names the same symbols before and after', async (t) => {
  const fx = await fixtures;
  const plain = readFileSync(fx.plain.x86_64!);
  const st = symtabOf(fx.plain.x86_64!, plain);
  const wanted = ['dup_a_entry', 'dup_b_entry', 'fixture_log'];
  const globals = [...Array(st.count).keys()].filter((i) => wanted.includes(st.name(i)));
  t.is(globals.length, wanted.length);
  const local = [...Array(st.count).keys()].find((i) => st.type(i) === 2 && st.bind(i) === 0 && st.name(i))!;
  const { file, elf } = await withAddrsig(plain, [local, ...globals]);
  const addrsig = async (f: string) => (await exec('llvm-readelf-19', ['--addrsig', f])).stdout
    .split('\n').map((l) => /^\s*\d+:\s+(\S+)$/.exec(l)?.[1]).filter(Boolean);
  const before = await addrsig(file);
  t.true(before.length === 4 && [st.name(local), ...wanted].every((n) => before.includes(n)), `llvm-readelf reads the planted table: ${before}`);
  const a = addAliases(file, elf, duplicates(file, elf), originalInfo(elf));
  t.true(a.localAliases > 0, 'the globals move, so the table must be rewritten');
  const after = join(work, 'addrsig-applied.ko');
  writeFileSync(after, a.elf);
  t.deepEqual(await addrsig(after), before);
});

test('.llvm_addrsig cut inside a number: apply refuses the module, naming the section and the offset', async (t) => {
  const fx = await fixtures;
  const plain = readFileSync(fx.plain.x86_64!);
  const { file, elf } = await withAddrsig(plain, [1, 2], [0x81]);
  const src = new BufferSource(file, elf);
  const sig = readSections(src, readElfHeader(src)).find((s) => s.name === '.llvm_addrsig')!;
  const e = t.throws(() => addAliases(file, elf, duplicates(file, elf), originalInfo(elf)), { instanceOf: ApplyRefusal });
  t.regex(e!.message, new RegExp(`\\.llvm_addrsig\\) at file offset 0x${(sig.offset + 2).toString(16)}: expected a ULEB128 symbol index, found the section's end`));
});
