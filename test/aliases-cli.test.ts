// Pass 2 end to end on gcc fixtures: which names get aliases, how they read, and livepatch sympos.
// Oracles: readelf (symbol-table order), nm -n (address order), llvm-dwarfdump-19 (decl sites).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import test from 'ava';
import { MODULE_UNITS, buildFixtures } from './helpers/build-fixtures.js';
import { ksymtree, parseTsv } from './helpers/cli.js';

const fixtures = buildFixtures();
const work = mkdtempSync(join(tmpdir(), 'ksymtree-aliases-'));

async function aliasesOf(tree: string, extra: string[] = []): Promise<Record<string, string>[]> {
  const db = join(work, `${basename(tree)}-${extra.join('')}.db`);
  const r = await ksymtree(['index', tree, ...extra, '--db', db, '--quiet']);
  if (r.status !== 0) throw new Error(`index ${tree}: ${r.stderr}`);
  return parseTsv((await ksymtree(['aliases', '--db', db, '--format', 'tsv'])).stdout);
}

/** decl_file/decl_line of the DIEs named NAME, as llvm-dwarfdump prints them for a relocatable object. */
function dwarfdumpDecls(file: string, name: string): { file: string; line: number }[] {
  const text = execFileSync('llvm-dwarfdump-19', ['--name', name, '--show-children=0', file], { encoding: 'utf8' });
  const decls: { file: string; line: number }[] = [];
  for (const die of text.split(/\n(?=0x[0-9a-f]+:)/)) {
    const f = /DW_AT_decl_file\s+\("([^"]+)"\)/.exec(die);
    const l = /DW_AT_decl_line\s+\((\d+)\)/.exec(die);
    if (f && l) decls.push({ file: f[1], line: Number(l[1]) });
  }
  return decls;
}

const mangle = (p: string) => p.replace(/[^A-Za-z0-9_]/g, '_');

test('names duplicated inside one module get aliases; a name once in each of two modules gets none', async (t) => {
  const fx = await fixtures;
  const rows = await aliasesOf(fx.tree.root);
  const foo = rows.filter((r) => r.module === 'foo');
  const bar = rows.filter((r) => r.module === 'bar');
  for (const name of ['helper', 'counter', 'limit', 'prefix']) t.is(foo.filter((r) => r.name === name).length, 2, `foo.ko ${name}`);
  t.deepEqual(bar.filter((r) => ['helper', 'counter', 'prefix'].includes(r.name)), []);
  t.is(new Set(rows.map((r) => `${r.object}\0${r.alias}`)).size, rows.length, 'aliases unique in their object');
});

test('decl-site aliases read NAME@<mangled decl file>_<line>, the line llvm-dwarfdump reports', async (t) => {
  const fx = await fixtures;
  const rows = (await aliasesOf(fx.tree.root)).filter((r) => r.module === 'foo' && ['helper', 'limit'].includes(r.name));
  const ko = rows[0].object;
  for (const r of rows) {
    const decls = dwarfdumpDecls(ko, r.name);
    t.true(decls.some((d) => d.file.endsWith(r.decl_file) && d.line === Number(r.decl_line)), `${r.alias} vs ${JSON.stringify(decls)}`);
    t.is(r.alias, `${r.name}@${mangle(r.decl_file)}_${r.decl_line}`);
    t.false(r.decl_file.startsWith('/'), 'paths are relative to the source root');
  }
});

test('header static twins share a decl site and are told apart by their compilation unit', async (t) => {
  const fx = await fixtures;
  const twins = (await aliasesOf(fx.tree.root)).filter((r) => r.module === 'foo' && r.name.startsWith('fixture_hash'));
  t.is(twins.length, 2);
  t.is(twins[0].decl_file, twins[1].decl_file);
  t.is(twins[0].decl_line, twins[1].decl_line);
  t.deepEqual(twins.map((r) => r.unit).sort(), [...MODULE_UNITS.foo.units].sort());
  for (const r of twins) t.is(r.alias, `${r.name}@${mangle(r.decl_file)}_${r.decl_line}@${mangle(r.unit)}`);
});

test('a duplicate without a DIE (__func__.N) is named by its compilation unit', async (t) => {
  const fx = await fixtures;
  const copies = (await aliasesOf(fx.tree.root)).filter((r) => r.module === 'foo' && r.name === '__func__.0');
  t.is(copies.length, 2);
  t.deepEqual(dwarfdumpDecls(copies[0].object, '__func__.0'), [], 'precondition: llvm-dwarfdump knows no DIE of that name');
  t.deepEqual(copies.map((r) => r.site_source), ['unit-only', 'unit-only']);
  t.deepEqual(copies.map((r) => r.unit).sort(), [...MODULE_UNITS.foo.units].sort());
  for (const r of copies) t.is(r.alias, `__func__.0@${mangle(r.unit)}`);
});

test('a stripped module without a debug copy still gets aliases: NAME@SYMPOS', async (t) => {
  const fx = await fixtures;
  const tree = join(work, 'stripped');
  mkdirSync(tree);
  copyFileSync(fx.installed.modules.find((m) => basename(m) === 'foo.ko')!, join(tree, 'foo.ko'));
  const helpers = (await aliasesOf(tree)).filter((r) => r.name === 'helper');
  t.deepEqual(helpers.map((r) => [r.alias, r.site_source]).sort(), [['helper@1', 'none'], ['helper@2', 'none']]);
});

test('vmlinux sympos follows address order (nm -n)', async (t) => {
  const fx = await fixtures;
  const tree = join(work, 'vmlinux-only');
  mkdirSync(tree);
  copyFileSync(fx.tree.vmlinux, join(tree, 'vmlinux'));
  const rows = await aliasesOf(tree);
  t.true(rows.length >= 2);
  const nmLines = execFileSync('nm', ['-n', join(tree, 'vmlinux')], { encoding: 'utf8' }).split('\n');
  for (const r of rows) {
    const sameName = nmLines.filter((l) => l.endsWith(` ${r.name}`)).map((l) => l.split(' ')[0]);
    t.is(sameName.indexOf(r.value) + 1, Number(r.sympos), `${r.alias} at ${r.value}`);
  }
});

/**
 * Swaps two entries of an x86_64 ET_REL's .symtab and renumbers every RELA reference to them, so that the
 * table's order no longer follows the addresses (ld -r always writes locals in address order).
 */
function swapSymbols(file: string, a: number, b: number): void {
  const elf = readFileSync(file);
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shnum = elf.readUInt16LE(0x3c);
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * 64;
    const type = elf.readUInt32LE(sh + 4);
    const offset = Number(elf.readBigUInt64LE(sh + 0x18));
    const size = Number(elf.readBigUInt64LE(sh + 0x20));
    if (type === 2) {
      const ea = Buffer.from(elf.subarray(offset + a * 24, offset + a * 24 + 24));
      elf.copy(elf, offset + a * 24, offset + b * 24, offset + b * 24 + 24);
      ea.copy(elf, offset + b * 24);
    } else if (type === 4) {
      for (let r = offset; r < offset + size; r += 24) {
        const info = elf.readBigUInt64LE(r + 8);
        const sym = Number(info >> 32n);
        const swapped = sym === a ? b : sym === b ? a : sym;
        elf.writeBigUInt64LE((BigInt(swapped) << 32n) | (info & 0xffffffffn), r + 8);
      }
    }
  }
  writeFileSync(file, elf);
}

test('module sympos follows .symtab order even where addresses run the other way', async (t) => {
  const fx = await fixtures;
  const dir = join(work, 'reordered');
  mkdirSync(dir);
  const ko = join(dir, 'foo.ko');
  copyFileSync(fx.tree.modules.find((m) => basename(m) === 'foo.ko')!, ko);
  // readelf run afresh each time (the oracle helper caches per path, and this file changes in place).
  const helpersOf = (f: string) => execFileSync('readelf', ['-sW', f], { encoding: 'utf8' }).split('\n')
    .map((l) => /^\s*(\d+): ([0-9a-f]+)\s.*\shelper$/.exec(l)).filter((m) => m !== null)
    .map((m) => ({ index: Number(m[1]), value: BigInt(`0x${m[2]}`) }));
  const before = helpersOf(ko);
  const relocTargets = (f: string) => execFileSync('readelf', ['-rW', f], { encoding: 'utf8' }).split('\n').filter((l) => /^[0-9a-f]{16} /.test(l))
    .map((l) => l.split(/\s+/).slice(4).join(' '));
  const targetsBefore = relocTargets(ko);
  swapSymbols(ko, before[0].index, before[1].index);
  t.deepEqual(relocTargets(ko), targetsBefore, 'precondition: every relocation still names the same symbol');
  const helpers = helpersOf(ko);
  t.true(helpers[0].value > helpers[1].value, 'precondition: symtab order differs from address order');
  const rows = (await aliasesOf(dir)).filter((r) => r.name === 'helper');
  const symposAt = new Map(rows.map((r) => [BigInt(`0x${r.value}`), Number(r.sympos)]));
  t.is(symposAt.get(helpers[0].value), 1);
  t.is(symposAt.get(helpers[1].value), 2);
});

test('aliases --format nm puts each alias right after its symbol, same address and letter', async (t) => {
  const fx = await fixtures;
  const db = join(work, 'nm.db');
  t.is((await ksymtree(['index', fx.tree.root, '--db', db, '--quiet'])).status, 0);
  const lines = (await ksymtree(['aliases', '--db', db, '--format', 'nm'])).stdout.trimEnd().split('\n');
  const aliases = parseTsv((await ksymtree(['aliases', '--db', db, '--format', 'tsv', '--object', 'vmlinux'])).stdout);
  const nm = execFileSync('nm', ['-n', fx.tree.vmlinux], { encoding: 'utf8' }).trimEnd().split('\n');
  t.is(lines.length, nm.length + aliases.length);
  for (const a of aliases) {
    const at = lines.findIndex((l) => l.endsWith(` ${a.alias}`));
    t.true(at > 0);
    const [addr, letter, name] = lines[at - 1].split(' ');
    t.deepEqual([addr, letter, name], [lines[at].split(' ')[0], lines[at].split(' ')[1], a.name]);
  }
  t.deepEqual(lines.filter((l) => !aliases.some((a) => l.endsWith(` ${a.alias}`))).sort(), [...nm].sort());
});

test('after apply, re-indexing the tree reads each module as its original: same symbols, same aliases', async (t) => {
  const fx = await fixtures;
  const tree = join(work, 'applied');
  mkdirSync(tree);
  copyFileSync(fx.tree.modules.find((m) => basename(m) === 'foo.ko')!, join(tree, 'foo.ko'));
  const db = join(tree, 'ksymtree.db');
  const listing = async () => ({
    symbols: (await ksymtree(['symbols', '--db', db])).stdout,
    aliases: (await ksymtree(['aliases', '--db', db, '--format', 'json'])).stdout,
  });
  t.is((await ksymtree(['index', tree, '--db', db, '--quiet'])).status, 0);
  const before = await listing();
  const applied = await ksymtree(['apply', tree, '--db', db]);
  t.is(applied.status, 0, applied.stderr);
  t.regex(execFileSync('nm', [join(tree, 'foo.ko')], { encoding: 'utf8' }), /helper@/, 'the module now carries its aliases');
  t.is((await ksymtree(['index', tree, '--db', db, '--quiet'])).status, 0);
  const after = await listing();
  t.is(after.symbols, before.symbols);
  t.is(after.aliases, before.aliases);
});
