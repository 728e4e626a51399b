// The kernel configuration: where it is found, what vmlinux says of its own (IKCONFIG, the kallsyms table),
// and that CONFIG_KALLSYMS_ALL=n reaches the index: no alias and no sympos for a symbol kallsyms cannot list.
// Oracles: the configuration text the test writes, readelf's section flags for the fixture modules.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import test from 'ava';
import { configCandidates, findConfig } from '../src/config/find-config.js';
import { configFromKallsymsTable, findIkconfig } from '../src/config/from-vmlinux.js';
import { kallsymsRules, parseKconfig } from '../src/config/kernel-config.js';
import { buildFixtures } from './helpers/build-fixtures.js';
import { ksymtree, parseTsv } from './helpers/cli.js';
import { readelfSections, readelfSymbols } from './helpers/oracle.js';

const work = mkdtempSync(join(tmpdir(), 'ksymtree-config-'));

/** A configuration as `make` writes it: header, set options, `is not set` lines. */
function kconfig(all: boolean, extra = ''): string {
  return ['#', '# Automatically generated file; DO NOT EDIT.', '# Linux/arm64 6.1.176 Kernel Configuration', '#',
    'CONFIG_KALLSYMS=y', all ? 'CONFIG_KALLSYMS_ALL=y' : '# CONFIG_KALLSYMS_ALL is not set', 'CONFIG_MODULE_SIG=y',
    'CONFIG_MODULE_SIG_HASH="sha256"', extra, ''].join('\n');
}

test('parseKconfig: set, unset and absent options, quoted strings, the release in the header', (t) => {
  const c = parseKconfig(kconfig(false), 'file', '/x/.config');
  t.is(c.version, '6.1.176');
  t.is(c.options.CONFIG_KALLSYMS, 'y');
  t.is(c.options.CONFIG_KALLSYMS_ALL, 'n', '`# ... is not set`');
  t.is(c.options.CONFIG_MODULE_SIG_HASH, 'sha256');
  t.is(c.options.CONFIG_LIVEPATCH, 'n', 'an option the file does not mention is off');
  t.deepEqual(kallsymsRules(c), { kallsyms: true, all: false, keepStartStop: false });
  t.deepEqual(kallsymsRules(parseKconfig(kconfig(true).replace('6.1.176', '6.12.48'), 'file', '/x')), { kallsyms: true, all: true, keepStartStop: true });
});

test('findConfig: installed and debug trees find <root>/boot/config-<release>; build trees their .config', (t) => {
  const root = join(work, 'root');
  const rel = '6.1.0-99-cloud-arm64';
  const installed = join(root, 'lib/modules', rel);
  const debug = join(root, 'usr/lib/debug/lib/modules', rel);
  mkdirSync(installed, { recursive: true });
  mkdirSync(debug, { recursive: true });
  mkdirSync(join(root, 'boot'));
  t.is(findConfig([installed]), null, 'nothing there yet');
  writeFileSync(join(root, 'boot', `config-${rel}`), kconfig(false));
  t.is(findConfig([installed])?.from, join(root, 'boot', `config-${rel}`));
  t.is(findConfig([debug])?.from, join(root, 'boot', `config-${rel}`));
  // A tree reached through a symlink is looked up where it really is (the corpus layout).
  const link = join(work, 'installed-link');
  symlinkSync(installed, link);
  t.is(findConfig([link])?.from, join(root, 'boot', `config-${rel}`));
  // The headers' .config through the installed tree's `build` link comes first.
  const headers = join(work, 'headers');
  mkdirSync(headers);
  writeFileSync(join(headers, '.config'), kconfig(true));
  symlinkSync(headers, join(installed, 'build'));
  t.is(findConfig([installed])?.from, join(installed, 'build', '.config'));
  // A build tree, and a boot image beside its config.
  const build = join(work, 'build');
  mkdirSync(build);
  writeFileSync(join(build, '.config'), kconfig(true));
  t.is(findConfig([build])?.options.CONFIG_KALLSYMS_ALL, 'y');
  writeFileSync(join(root, 'boot', `vmlinuz-${rel}`), 'not a kernel');
  t.deepEqual(configCandidates(join(root, 'boot', `vmlinuz-${rel}`))[0], join(root, 'boot', `config-${rel}`));
  // A file that is not a configuration is passed over.
  const other = join(work, 'other');
  mkdirSync(other);
  writeFileSync(join(other, '.config'), '{"editor": "vim"}\n');
  t.is(findConfig([other]), null);
});

test.serial('IKCONFIG: the gzip\'d .config between IKCFG_ST and IKCFG_ED, as kernel/configs.c links it', (t) => {
  const text = kconfig(false, 'CONFIG_IKCONFIG=y');
  const dir = join(work, 'ikconfig');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config_data.gz'), gzipSync(Buffer.from(text)));
  // kernel/configs.c's top-level asm, assembled and linked into an executable "vmlinux".
  writeFileSync(join(dir, 'configs.S'), ['\t.section .rodata, "a"', '\t.ascii "IKCFG_ST"', '\t.global kernel_config_data',
    'kernel_config_data:', '\t.incbin "config_data.gz"', '\t.global kernel_config_data_end', 'kernel_config_data_end:',
    '\t.ascii "IKCFG_ED"', '\t.text', '\t.global _start', '_start:', '\tret', ''].join('\n'));
  execFileSync('gcc', ['-c', 'configs.S', '-o', 'configs.o'], { cwd: dir });
  execFileSync('ld', ['-o', 'vmlinux', 'configs.o'], { cwd: dir });
  execFileSync('objcopy', ['-O', 'binary', '--only-section=.rodata', 'vmlinux', 'rodata.bin'], { cwd: dir });
  t.is(findIkconfig(readFileSync(join(dir, 'rodata.bin'))), text);
  t.is(findIkconfig(Buffer.from('IKCFG_ST not gzip IKCFG_ED')), null);
});

test.serial('index: a vmlinux with IKCONFIG and no .config beside it is read by its own configuration', async (t) => {
  const dir = join(work, 'ikconfig');
  const db = join(work, 'ikconfig.db');
  const r = await ksymtree(['index', join(dir, 'vmlinux'), '--db', db, '--quiet']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /kernel config: CONFIG_KALLSYMS=y, CONFIG_KALLSYMS_ALL=n, .* \(from IKCONFIG in .*vmlinux\)/);
  const stats = (await ksymtree(['stats', '--db', db])).stdout;
  t.regex(stats, /^kernel config\tCONFIG_KALLSYMS=y, CONFIG_KALLSYMS_ALL=n, .*from IKCONFIG/m);
  const json = JSON.parse((await ksymtree(['stats', '--db', db, '--format', 'json'])).stdout);
  t.like(json.kernel_config, { source: 'ikconfig', version: '6.1.176', options: { CONFIG_KALLSYMS_ALL: 'n', CONFIG_IKCONFIG: 'y' } });
});

test('the kallsyms table tells CONFIG_KALLSYMS_ALL: only text-range entries means =n', (t) => {
  const e = (name: string, letter: string, address: bigint) => ({ name, letter, address: address.toString(16).padStart(16, '0') });
  const text = [e('_stext', 'T', 0x1000n), e('f', 't', 0x1010n), e('_etext', 'T', 0x2000n), e('_sinittext', 'T', 0x3000n),
    e('g', 't', 0x3010n), e('_einittext', 'T', 0x3100n), e('__start___tracepoints', 'D', 0x5000n)];
  t.is(configFromKallsymsTable(text, 'vmlinux')?.options.CONFIG_KALLSYMS_ALL, 'n');
  t.is(configFromKallsymsTable([...text, e('some_data', 'd', 0x4000n)], 'vmlinux')?.options.CONFIG_KALLSYMS_ALL, 'y');
  t.is(configFromKallsymsTable([...text, e('at_etext', 't', 0x2000n)], 'vmlinux')?.options.CONFIG_KALLSYMS_ALL, 'y',
    'scripts/kallsyms drops other symbols at _etext without --all-symbols');
  t.is(configFromKallsymsTable([e('f', 't', 0x1010n)], 'vmlinux'), null, 'no range markers: cannot tell');
});

test('CONFIG_KALLSYMS_ALL=n: aliases and sympos only for code; the .config at the top of a build tree is found', async (t) => {
  const fx = await buildFixtures();
  const tree = join(work, 'tree');
  cpSync(fx.tree.root, tree, { recursive: true });
  writeFileSync(join(tree, '.config'), kconfig(false));
  const db = join(work, 'tree.db');
  const r = await ksymtree(['index', tree, '--db', db, '--quiet']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /CONFIG_KALLSYMS_ALL=n, .*\(from .*tree\/\.config\)/);
  const rows = parseTsv((await ksymtree(['aliases', '--db', db, '--format', 'tsv'])).stdout);
  const foo = join(tree, 'kernel/drivers/foo/foo.ko');
  // Oracle: every aliased symbol lies in an executable section (readelf), and the code twins are there.
  const [sections, symbols] = await Promise.all([readelfSections(foo), readelfSymbols(foo)]);
  const fooRows = rows.filter((x) => x.module === 'foo');
  t.true(fooRows.some((x) => x.name === 'helper'));
  for (const x of rows.filter((y) => y.object === foo)) {
    const sym = symbols.find((s) => s.name === x.name && s.value === BigInt(`0x${x.value}`));
    t.true(sym !== undefined && sections[Number(sym.ndx)].flags.includes('X'), `${x.alias} is code`);
  }
  for (const data of ['counter', 'limit', 'prefix', 'pcpu_scratch']) t.deepEqual(fooRows.filter((x) => x.name === data), [], data);
  // The same tree read with the file given explicitly says so, and --config rejects what is not a configuration.
  writeFileSync(join(work, 'not-a-config'), 'hello\n');
  const bad = await ksymtree(['index', tree, '--db', join(work, 'bad.db'), '--quiet', '--config', join(work, 'not-a-config')]);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /not a kernel configuration/);
});
