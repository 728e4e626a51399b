// `ksymtree apply` / `verify` on gcc-built `ld -r` modules: the aliases land in .symtab with the originals'
// value, size, type, binding and section; readelf, nm, modinfo, depmod and eu-elflint read the result; every
// relocation still names the same symbol; a second apply changes no byte; --revert gives the original bytes
// back (plain, gzip, xz, zstd, signed); signatures are refused, stripped or re-signed and then verify.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import test from 'ava';
import { openDatabase } from '../src/db/sqlite.js';
import { buildApplyFixtures, findSignFileForTests, indexWithAliases, ksymtree, sha256File } from './helpers/build-apply-fixtures.js';
import { exec } from './helpers/exec.js';
import type { Arch } from './helpers/toolchains.js';

const fixtures = buildApplyFixtures();
const work = mkdtempSync(join(tmpdir(), 'ksymtree-apply-'));
let serial = 0;

function have(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const HAVE_KMOD = have('modinfo') && have('depmod');
const HAVE_ELFLINT = have('eu-elflint');
const SIGN_FILE = findSignFileForTests();
const KMOD_ZLIB = HAVE_KMOD && /\+ZLIB/.test(execFileSync('kmod', ['--version'], { encoding: 'utf8' }));

/** A fresh tree `<dir>/kernel/<name>` holding copies of `files`, indexed (with aliases) into `<dir>/ksymtree.db`. */
async function prepare(files: readonly string[], names?: readonly string[]): Promise<{ dir: string; db: string; paths: string[] }> {
  const dir = join(work, `t${++serial}`);
  mkdirSync(join(dir, 'kernel'), { recursive: true });
  const paths = files.map((f, i) => {
    const p = join(dir, 'kernel', names?.[i] ?? basename(f));
    copyFileSync(f, p);
    return p;
  });
  const db = join(dir, 'ksymtree.db');
  await indexWithAliases(dir, db);
  return { dir, db, paths };
}

interface AliasRow {
  path: string;
  idx: number;
  alias: string;
  name: string;
}

function aliasRows(db: string): AliasRow[] {
  const sqlite = openDatabase(db, { readonly: true });
  try {
    return sqlite.prepare(`SELECT o.path, a.idx, a.alias, s.name FROM aliases a JOIN objects o ON o.id = a.object_id
      JOIN symbols s ON s.object_id = a.object_id AND s.idx = a.idx ORDER BY o.path, a.idx`).all() as AliasRow[];
  } finally {
    sqlite.close();
  }
}

/** The ELF image of a module file, decompressed, as a file readelf can read. */
async function elfOf(file: string): Promise<string> {
  const head = readFileSync(file).subarray(0, 6);
  const tool = head[0] === 0x1f ? ['gzip', '-dc'] : head[0] === 0xfd ? ['xz', '-dc'] : head[0] === 0x28 ? ['zstd', '-dcq'] : null;
  if (!tool) return file;
  const out = join(work, `elf-${++serial}.ko`);
  writeFileSync(out, (await exec(tool[0], [tool[1]], { input: readFileSync(file), encoding: 'buffer' })).stdout);
  return out;
}

interface Sym {
  num: number;
  value: string;
  size: string;
  type: string;
  bind: string;
  vis: string;
  ndx: string;
  name: string;
}

async function symbols(file: string): Promise<Sym[]> {
  const text = (await exec('readelf', ['-sW', await elfOf(file)])).stdout;
  const out: Sym[] = [];
  let inSymtab = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('Symbol table')) inSymtab = line.includes("'.symtab'");
    const m = /^\s*(\d+): ([0-9a-f]+)\s+(\d+|0x[0-9a-f]+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s?(.*)$/.exec(line);
    if (inSymtab && m) out.push({ num: Number(m[1]), value: m[2], size: m[3], type: m[4], bind: m[5], vis: m[6], ndx: m[7], name: m[8] });
  }
  return out;
}

/** Every relocation as `section|offset|type|symbol name + addend`, without r_info (indices may move). */
async function relocations(file: string): Promise<string[]> {
  const text = (await exec('readelf', ['-rW', await elfOf(file)])).stdout;
  const out: string[] = [];
  let section = '';
  for (const line of text.split('\n')) {
    const s = /^Relocation section '([^']+)'/.exec(line);
    if (s) section = s[1];
    const m = /^([0-9a-f]{8,16})\s+[0-9a-f]+\s+(\S+)\s+(.*)$/.exec(line);
    if (m) out.push(`${section}|${m[1]}|${m[2]}|${m[3].trim()}`);
  }
  return out;
}

/** `.symtab` sh_info (first non-local) from readelf -SW. */
async function symtabInfo(file: string): Promise<number> {
  const text = (await exec('readelf', ['-SW', await elfOf(file)])).stdout;
  const line = text.split('\n').find((l) => /\]\s+\.symtab\s+SYMTAB/.test(l));
  if (!line) throw new Error(`no .symtab in ${file}`);
  const cols = line.replace(/^.*\]\s+/, '').trim().split(/\s+/);
  // Name Type Address Off Size ES [Flg] Lk Inf Al: Inf is the second to last column.
  return Number(cols[cols.length - 2]);
}

async function nmLines(file: string): Promise<Set<string>> {
  return new Set((await exec('nm', [await elfOf(file)])).stdout.split('\n').filter(Boolean));
}

async function elflint(file: string): Promise<Set<string>> {
  try {
    const r = await exec('eu-elflint', ['--gnu-ld', await elfOf(file)]);
    return new Set(r.stdout.split('\n').filter(Boolean));
  } catch (e) {
    return new Set(((e as { stdout?: string }).stdout ?? '').split('\n').filter(Boolean));
  }
}

/** The alias symbols of `after` against the originals of `before`: same fields, original at its index. */
async function checkAliasSymbols(t: import('ava').ExecutionContext, before: string, after: string, rows: readonly AliasRow[]): Promise<void> {
  const old = await symbols(before);
  const now = await symbols(after);
  const byName = new Map(now.map((s) => [s.name, s]));
  for (const r of rows) {
    const orig = old[r.idx];
    t.is(orig?.name, r.name, `symbol ${r.idx} of ${before} is ${r.name}`);
    const a = byName.get(r.alias);
    if (!t.truthy(a, `${r.alias} in readelf -s of ${after}`) || !a) continue;
    t.deepEqual({ ...a, num: 0, name: '' }, { ...orig, num: 0, name: '' }, `${r.alias} has the fields of ${r.name}`);
  }
  // Every symbol of the original is still there, in the same relative order, and locals come first.
  t.deepEqual(now.filter((s) => !rows.some((r) => r.alias === s.name)).map((s) => ({ ...s, num: 0 })), old.map((s) => ({ ...s, num: 0 })));
  const firstGlobal = await symtabInfo(after);
  t.true(now.every((s) => (s.bind === 'LOCAL') === (s.num < firstGlobal)), 'locals below sh_info, the others above');
  // nm prints each alias with its original's letter and address.
  const nmOld = await nmLines(before);
  const nmNew = await nmLines(after);
  for (const r of rows) {
    const orig = old[r.idx];
    if (r.name.startsWith('$')) continue; // ARM mapping symbols: nm treats `$d...` names specially
    const line = [...nmOld].find((l) => l.endsWith(` ${r.name}`) && l.startsWith(orig.value));
    if (!line) continue; // nm does not list every symbol (section symbols, for example)
    t.true(nmNew.has(line.replace(/ \S+$/, ` ${r.alias}`)), `nm: ${line} -> ${r.alias}`);
  }
}

async function checkReadable(t: import('ava').ExecutionContext, before: string, after: string): Promise<void> {
  t.deepEqual(await relocations(after), await relocations(before), 'every relocation names the same symbol');
  const groups = async (f: string) => (await exec('readelf', ['-gW', await elfOf(f)])).stdout.replace(/\s+$/, '');
  t.is(await groups(after), await groups(before), 'section groups and their signatures unchanged');
  if (HAVE_ELFLINT) {
    const was = await elflint(before);
    t.deepEqual([...(await elflint(after))].filter((l) => !was.has(l)), [], 'eu-elflint finds nothing new');
  }
}

const arches: Arch[] = ['x86_64', 'i386', 's390x', 'aarch64'];
for (const arch of arches) {
  test(`${arch}: aliases are added with the originals' fields; twice is a no-op; revert restores the bytes`, async (t) => {
    const fx = await fixtures;
    const ko = fx.plain[arch];
    if (!ko) return t.fail(`fixture not built: ${fx.missing[arch]}`);
    const { dir, db, paths: [file] } = await prepare([ko]);
    const original = sha256File(file);
    const rows = aliasRows(db);
    t.true(rows.length >= 8, `aliases for helper, counter, limit, prefix, dup_shared (${rows.length})`);
    t.true(rows.some((r) => r.name === 'dup_shared'), 'the global dup_shared has an alias too');

    const r = await ksymtree(['apply', dir, '--db', db, '-q']);
    t.is(r.status, 0, r.stderr);
    t.is(r.stdout, `applied\t${rows.length}\t${file}\n`);
    await checkAliasSymbols(t, ko, file, rows);
    await checkReadable(t, ko, file);
    if (HAVE_KMOD) t.regex((await exec('modinfo', ['-F', 'name', file])).stdout, /^dupmod$/m);

    const applied = sha256File(file);
    const again = await ksymtree(['apply', dir, '--db', db, '-q']);
    t.is(again.status, 0, again.stderr);
    t.is(again.stdout, `unchanged\t${rows.length}\t${file}\n`);
    t.is(sha256File(file), applied, 'a second apply changes no byte');

    const v = await ksymtree(['verify', dir, '--db', db]);
    t.is(v.status, 0, v.stderr);

    const back = await ksymtree(['apply', dir, '--db', db, '--revert', '-q']);
    t.is(back.status, 0, back.stderr);
    t.is(back.stdout, `reverted\t${rows.length}\t${file}\n`);
    t.is(sha256File(file), original, 'revert gives the original bytes');
    const v2 = await ksymtree(['verify', dir, '--db', db]);
    t.is(v2.status, 1);
    t.is(v2.stdout, `not-applied\t${file}\n`);
  });
}

for (const kind of ['gzip', 'xz', 'zstd'] as const) {
  test(`${kind}: written again in its format, mode and mtime kept, readable, exact revert`, async (t) => {
    const fx = await fixtures;
    const { dir, db, paths: [file] } = await prepare([fx.compressed[kind]]);
    chmodSync(file, 0o640);
    const mtime = new Date('2001-02-03T04:05:06Z');
    utimesSync(file, mtime, mtime);
    const original = sha256File(file);
    const rows = aliasRows(db);
    const r = await ksymtree(['apply', dir, '--db', db, '-q']);
    t.is(r.status, 0, r.stderr);
    t.is(r.stdout, `applied\t${rows.length}\t${file}\n`);
    const tool = { gzip: ['gzip', '-t'], xz: ['xz', '-t'], zstd: ['zstd', '-tq'] }[kind];
    await t.notThrowsAsync(exec(tool[0], [tool[1], file]), `${tool.join(' ')} accepts it`);
    if (kind === 'xz') t.regex((await exec('xz', ['--robot', '-lv', file])).stdout, /\tCRC32\t/, 'xz check is CRC32');
    const st = statSync(file);
    t.is(st.mode & 0o7777, 0o640);
    t.is(st.mtimeMs, mtime.getTime());
    await checkAliasSymbols(t, fx.plain.x86_64!, file, rows);
    await checkReadable(t, fx.plain.x86_64!, file);
    // Debian's kmod reads xz and zstd modules but is built without zlib: modinfo the decompressed image then.
    if (HAVE_KMOD) t.regex((await exec('modinfo', ['-F', 'name', kind === 'gzip' && !KMOD_ZLIB ? await elfOf(file) : file])).stdout, /^dupmod$/m);
    const applied = sha256File(file);
    t.is((await ksymtree(['apply', dir, '--db', db, '-q'])).stdout, `unchanged\t${rows.length}\t${file}\n`);
    t.is(sha256File(file), applied);
    t.is((await ksymtree(['apply', dir, '--db', db, '--revert', '-q'])).status, 0);
    t.is(sha256File(file), original, 'the original compressed bytes come back');
    t.is(statSync(file).mtimeMs, mtime.getTime());
  });
}

test('a compressed module no recipe reproduces keeps its original inside, and revert still restores it', async (t) => {
  const fx = await fixtures;
  const elf = readFileSync(fx.plain.x86_64!);
  // xz -0 with CRC64: none of the kbuild recipes makes these bytes.
  const odd = join(work, `odd-${++serial}.ko.xz`);
  writeFileSync(odd, (await exec('xz', ['-0', '--check=crc64', '-c'], { input: elf, encoding: 'buffer' })).stdout);
  const { dir, db, paths: [file] } = await prepare([odd], ['dupmod.ko.xz']);
  const original = sha256File(file);
  t.is((await ksymtree(['apply', dir, '--db', db, '-q'])).status, 0);
  t.regex((await exec('xz', ['--robot', '-lv', file])).stdout, /\tCRC32\t/, 'the new file uses CRC32 for the kernel');
  t.is((await ksymtree(['apply', dir, '--db', db, '--revert', '-q'])).status, 0);
  t.is(sha256File(file), original);
});

test('dry run lists modules and alias counts and writes nothing', async (t) => {
  const fx = await fixtures;
  const { dir, db, paths } = await prepare([fx.plain.x86_64!, fx.compressed.xz], ['dupmod.ko', 'other.ko.xz']);
  const before = paths.map(sha256File);
  const n = aliasRows(db).filter((r) => r.path === paths[0]).length;
  const r = await ksymtree(['apply', dir, '--db', db, '--dry-run', '-q']);
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, `would-apply\t${n}\t${paths[0]}\nwould-apply\t${n}\t${paths[1]}\n`);
  t.regex(r.stderr, /dry run: nothing written/);
  t.deepEqual(paths.map(sha256File), before);
});

const signedTest = SIGN_FILE ? test : test.skip;
const signedTitle = SIGN_FILE ? '' : ' (SKIPPED: scripts/sign-file not found: apt-get install linux-kbuild-6.1)';

/** The PKCS#7 of a signed module verifies over its ELF part with `cert` (openssl cms). */
async function signatureVerifies(file: string, cert: string): Promise<boolean> {
  const image = readFileSync(await elfOf(file));
  const marker = '~Module signature appended~\n';
  if (image.subarray(image.length - marker.length).toString('latin1') !== marker) return false;
  const sigLen = image.readUInt32BE(image.length - marker.length - 4);
  const elfEnd = image.length - marker.length - 12 - sigLen;
  const p7 = join(work, `sig-${++serial}.p7`);
  const content = join(work, `content-${serial}.bin`);
  const pem = join(work, `cert-${serial}.pem`);
  writeFileSync(p7, image.subarray(elfEnd, elfEnd + sigLen));
  writeFileSync(content, image.subarray(0, elfEnd));
  await exec('openssl', ['x509', '-inform', 'DER', '-in', cert, '-out', pem]);
  try {
    await exec('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', p7, '-content', content, '-certfile', pem, '-nointern', '-noverify', '-out', '/dev/null']);
    return true;
  } catch {
    return false;
  }
}

signedTest(`signed modules are refused by default, listed with the reason, and left untouched${signedTitle}`, async (t) => {
  const fx = await fixtures;
  const { dir, db, paths: [file] } = await prepare([fx.signed!.ko]);
  const before = sha256File(file);
  const r = await ksymtree(['apply', dir, '--db', db, '-q']);
  t.is(r.status, 1);
  t.regex(r.stdout, new RegExp(`^refused\t\\d+\t${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\tsigned module: .*--resign KEY CERT.*--strip-signature`));
  t.regex(r.stderr, /1 signed modules refused/);
  // The build log names the file too: one stderr line per refused or failed module.
  t.true(r.stderr.split('\n').includes(`ksymtree: ${file}: refused: ${r.stdout.trim().split('\t')[3]}`), r.stderr);
  t.is(sha256File(file), before);
  const d = await ksymtree(['apply', dir, '--db', db, '--dry-run', '-q']);
  t.regex(d.stdout, /^refused\t/);
});

signedTest(`--strip-signature is refused for a kernel built with CONFIG_MODULE_SIG_FORCE=y${signedTitle}`, async (t) => {
  const fx = await fixtures;
  const dir = join(work, `t${++serial}`);
  mkdirSync(join(dir, 'kernel'), { recursive: true });
  const file = join(dir, 'kernel', basename(fx.signed!.ko));
  copyFileSync(fx.signed!.ko, file);
  writeFileSync(join(dir, '.config'), 'CONFIG_KALLSYMS=y\nCONFIG_KALLSYMS_ALL=y\nCONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_FORCE=y\n');
  const db = join(dir, 'ksymtree.db');
  await indexWithAliases(dir, db);
  const before = sha256File(file);
  const r = await ksymtree(['apply', dir, '--db', db, '--strip-signature', '-q']);
  t.is(r.status, 2);
  t.regex(r.stderr, /CONFIG_MODULE_SIG_FORCE=y .*refuses unsigned modules; give --resign KEY CERT/);
  t.is(sha256File(file), before, 'nothing written');
});

signedTest(`--strip-signature removes the signature; revert brings the signed original back${signedTitle}`, async (t) => {
  const fx = await fixtures;
  const { dir, db, paths: [file] } = await prepare([fx.signed!.ko]);
  const before = sha256File(file);
  const rows = aliasRows(db);
  const r = await ksymtree(['apply', dir, '--db', db, '--strip-signature', '-q']);
  t.is(r.status, 0, r.stderr);
  t.false(readFileSync(file).toString('latin1').endsWith('~Module signature appended~\n'));
  await checkAliasSymbols(t, fx.plain.x86_64!, file, rows);
  await checkReadable(t, fx.plain.x86_64!, file);
  const applied = sha256File(file);
  t.is((await ksymtree(['apply', dir, '--db', db, '--strip-signature', '-q'])).stdout, `unchanged\t${rows.length}\t${file}\n`);
  t.is(sha256File(file), applied);
  t.is((await ksymtree(['apply', dir, '--db', db, '--revert', '-q'])).status, 0);
  t.is(sha256File(file), before);
  t.true(await signatureVerifies(file, fx.signed!.cert), 'the restored original signature is valid');
});

for (const which of ['ko', 'xz'] as const) {
  signedTest(`--resign KEY CERT signs the rewritten module (${which}); the signature verifies; exact revert${signedTitle}`, async (t) => {
    const fx = await fixtures;
    const s = fx.signed!;
    const { dir, db, paths: [file] } = await prepare([s[which]]);
    const before = sha256File(file);
    const rows = aliasRows(db);
    const r = await ksymtree(['apply', dir, '--db', db, '--resign', s.key, s.cert, '--sign-file', s.signFile, '-q']);
    t.is(r.status, 0, r.stderr);
    t.is(r.stdout, `applied\t${rows.length}\t${file}\n`);
    t.true(await signatureVerifies(file, s.cert), 'the new signature verifies over the new bytes');
    await checkAliasSymbols(t, fx.plain.x86_64!, file, rows);
    if (HAVE_KMOD) t.regex((await exec('modinfo', [file])).stdout, /^sig_id:\s+PKCS#7$/m);
    const applied = sha256File(file);
    const again = await ksymtree(['apply', dir, '--db', db, '--resign', s.key, s.cert, '--sign-file', s.signFile, '-q']);
    t.is(again.stdout, `unchanged\t${rows.length}\t${file}\n`);
    t.is(sha256File(file), applied);
    t.is((await ksymtree(['verify', dir, '--db', db])).status, 0);
    t.is((await ksymtree(['apply', dir, '--db', db, '--revert', '-q'])).status, 0);
    t.is(sha256File(file), before);
  });
}

test('a module with 65,000+ sections: SHT_SYMTAB_SHNDX grows with the table, SHN_XINDEX aliases, exact revert', async (t) => {
  const fx = await fixtures;
  const { dir, db, paths: [file] } = await prepare([fx.big]);
  const before = sha256File(file);
  // The kernel's loader cannot take SHN_XINDEX symbols, so the index gives them no kallsyms letter and no
  // alias; this fixture tests the ELF side only: alias both copies of dupx by hand.
  const sqlite = openDatabase(db);
  const dupx = sqlite.prepare("SELECT object_id, idx FROM symbols WHERE name = 'dupx' ORDER BY idx").all() as { object_id: number; idx: number }[];
  dupx.forEach((d, i) => sqlite.prepare("INSERT INTO aliases (object_id, idx, alias, sympos, stage) VALUES (?, ?, ?, ?, 'sympos')")
    .run(d.object_id, d.idx, `dupx@big_${i + 1}`, i + 1));
  sqlite.close();
  const rows = aliasRows(db).filter((r) => r.name === 'dupx');
  t.is(rows.length, 2);
  const r = await ksymtree(['apply', dir, '--db', db, '-q']);
  t.is(r.status, 0, r.stderr);
  const now = await symbols(file);
  const old = await symbols(fx.big);
  for (const row of rows) {
    const a = now.find((s) => s.name === row.alias);
    t.truthy(a);
    t.is(a?.ndx, old[row.idx].ndx);
    t.true(Number(a?.ndx) >= 0xff00, `section index ${a?.ndx} needs SHN_XINDEX`);
  }
  t.deepEqual(await relocations(file), await relocations(fx.big));
  if (HAVE_ELFLINT) t.deepEqual([...(await elflint(file))].filter((l) => !(new Set(['No errors'])).has(l)), []);
  t.is((await ksymtree(['apply', dir, '--db', db, '--revert', '-q'])).status, 0);
  t.is(sha256File(file), before);
});

(HAVE_KMOD ? test : test.skip)(`depmod and modinfo accept applied modules in an installed tree${HAVE_KMOD ? '' : ' (SKIPPED: kmod not installed)'}`, async (t) => {
  const fx = await fixtures;
  const base = join(work, `depmod-${++serial}`);
  const ver = '6.1.0-ksymtree';
  const tree = join(base, 'lib', 'modules', ver);
  mkdirSync(join(tree, 'kernel', 'a'), { recursive: true });
  mkdirSync(join(tree, 'kernel', 'b'), { recursive: true });
  copyFileSync(fx.plain.x86_64!, join(tree, 'kernel', 'a', 'dupmod.ko'));
  copyFileSync(fx.compressed.zstd, join(tree, 'kernel', 'b', 'dupmod2.ko.zst'));
  const db = join(tree, 'ksymtree.db');
  await indexWithAliases(tree, db);
  t.is((await ksymtree(['apply', tree, '-q'])).status, 0, 'TREE/ksymtree.db is the default index');
  const r = await exec('depmod', ['-b', base, ver]);
  t.notRegex(r.stderr, /error|FATAL/i);
  const dep = readFileSync(join(tree, 'modules.dep'), 'utf8');
  t.regex(dep, /^kernel\/a\/dupmod\.ko:/m);
  t.regex(dep, /^kernel\/b\/dupmod2\.ko\.zst:/m);
  for (const f of ['kernel/a/dupmod.ko', 'kernel/b/dupmod2.ko.zst']) {
    t.regex((await exec('modinfo', ['-F', 'vermagic', join(tree, f)])).stdout, /^6\.1\.0-ksymtree /);
  }
});

test('TREE may be a copy of the indexed tree: the copy changes, the indexed files do not', async (t) => {
  const fx = await fixtures;
  const { dir, db, paths: [file] } = await prepare([fx.plain.x86_64!]);
  const copy = join(work, `copy-${++serial}`);
  mkdirSync(join(copy, 'kernel'), { recursive: true });
  copyFileSync(file, join(copy, 'kernel', 'dupmod.ko'));
  const before = sha256File(file);
  const r = await ksymtree(['apply', copy, '--db', db, '-q']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`^applied\t\\d+\t${copy}/kernel/dupmod.ko$`, 'm'));
  t.is(sha256File(file), before);
  t.not(sha256File(join(copy, 'kernel', 'dupmod.ko')), before);
  t.is((await ksymtree(['verify', copy, '--db', db])).status, 0);
  t.is((await ksymtree(['verify', dir, '--db', db])).status, 1, 'the indexed tree itself was not applied');
  void dir;
});

test('an index that describes another build is refused, the file untouched', async (t) => {
  const fx = await fixtures;
  const { dir, db, paths: [file] } = await prepare([fx.plain.x86_64!]);
  const sqlite = openDatabase(db);
  // Point one alias at a symbol of another name: the index no longer matches the file.
  const row = sqlite.prepare('SELECT object_id, idx FROM aliases ORDER BY idx LIMIT 1').get() as { object_id: number; idx: number };
  sqlite.prepare("UPDATE symbols SET name = 'not_this_one' WHERE object_id = ? AND idx = ?").run(row.object_id, row.idx);
  sqlite.close();
  const before = sha256File(file);
  const r = await ksymtree(['apply', dir, '--db', db, '-q']);
  t.is(r.status, 1);
  t.regex(r.stdout, /^refused\t\d+\t.*the index says not_this_one: the index describes another build/m);
  t.is(sha256File(file), before);
});

test('aliases gone from the index: apply puts the module back to its original', async (t) => {
  const fx = await fixtures;
  const { dir, db, paths: [file] } = await prepare([fx.plain.x86_64!]);
  const before = sha256File(file);
  t.is((await ksymtree(['apply', dir, '--db', db, '-q'])).status, 0);
  const sqlite = openDatabase(db);
  sqlite.exec('DELETE FROM aliases');
  sqlite.close();
  const r = await ksymtree(['apply', dir, '--db', db, '-q']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /^reverted\t\d+\t/);
  t.is(sha256File(file), before);
});

test('verify reports a module changed after apply; revert refuses one whose original bytes were touched', async (t) => {
  const fx = await fixtures;
  const { dir, db, paths: [file] } = await prepare([fx.plain.x86_64!]);
  t.is((await ksymtree(['apply', dir, '--db', db, '-q'])).status, 0);
  // Flip one byte of .text, inside the original image.
  const bytes = readFileSync(file);
  const text = (await exec('readelf', ['-SW', file])).stdout.split('\n').find((l) => /\]\s+\.text\s+PROGBITS/.test(l))!;
  const offset = parseInt(text.replace(/^.*\]\s+/, '').trim().split(/\s+/)[3], 16);
  bytes[offset + 1] ^= 0xff;
  writeFileSync(file, bytes);
  const v = await ksymtree(['verify', dir, '--db', db]);
  t.is(v.status, 1);
  t.regex(v.stdout, /^changed\t/);
  const r = await ksymtree(['apply', dir, '--db', db, '--revert', '-q']);
  t.is(r.status, 1);
  t.regex(r.stdout, /^refused\t\d+\t.*changed after apply/m, r.stderr);
  t.deepEqual(readFileSync(file), bytes, 'left as it was');
});

test('vmlinux is skipped with the pointer to `aliases --format nm`', async (t) => {
  const fx = await fixtures;
  const { dir, db } = await prepare([fx.plain.x86_64!]);
  const sqlite = openDatabase(db);
  sqlite.prepare("INSERT INTO objects (id, path, kind, status, compression, size, mtime_ms) VALUES (999, '/nonexistent/vmlinux', 'vmlinux', 'ok', 'none', 1, 0)").run();
  sqlite.prepare("INSERT INTO symbols (object_id, idx, name, value, size, type, bind, visibility, shndx) VALUES (999, 1, 'f', '0000000000000000', 0, 2, 0, 0, 1)").run();
  sqlite.prepare("INSERT INTO aliases (object_id, idx, alias, sympos, stage) VALUES (999, 1, 'f@x', 1, 'sympos')").run();
  sqlite.close();
  const r = await ksymtree(['apply', '--db', db, '--dry-run', '-q']);
  t.regex(r.stdout, /^skipped\t1\t\/nonexistent\/vmlinux\tvmlinux cannot be changed after linking: .*make KSYMTREE=ksymtree/m);
  void dir;
});

test('usage errors exit 2', async (t) => {
  const fx = await fixtures;
  const { dir, db } = await prepare([fx.plain.x86_64!]);
  const both = await ksymtree(['apply', dir, '--db', db, '--strip-signature', '--resign', 'k', 'c']);
  t.is(both.status, 2);
  t.regex(both.stderr, /exclude each other/);
  const noDb = await ksymtree(['apply', dir, '--db', join(dir, 'none.db')]);
  t.is(noDb.status, 2);
  t.true(existsSync(dir));
});
