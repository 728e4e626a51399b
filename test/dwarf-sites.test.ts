// Definition sites of gcc-built fixtures (DWARF 2–5, 32/64-bit DWARF, i386/s390x/aarch64, compressed,
// type units, split DWARF, relocatable and linked) checked against llvm-dwarfdump-19.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { findSites } from '../src/sites/find-sites.js';
import type { Site } from '../src/sites/types.js';
import { buildDwarfFixtures, DEBIAN_PREFIX, type DwarfFixture } from './helpers/build-dwarf-fixtures.js';
import { disagreement, expectedSites, haveDwarfdump, linkForOracle, type OracleSymbol } from './helpers/dwarf-oracle.js';
import { duplicated, siteSymbols, type TestSymbol } from './helpers/dwarf-symbols.js';

const canRun = haveDwarfdump();
const fixtures = canRun ? await buildDwarfFixtures() : null;
const run = canRun ? test : test.skip;

// A fixture this toolchain cannot build is reported as a skipped test that says why, never as a green one.
if (fixtures) for (const s of fixtures.skipped) test.skip(`fixture ${s.name} [skipped: could not be built here: ${s.reason}]`, () => {});

/** Addresses of `symbols` in the file llvm-dwarfdump will read, checked against nm there. */
function oracleSymbols(symbols: readonly TestSymbol[], path: string, bases: Map<string, bigint> | null): OracleSymbol[] {
  const nm = execFileSync('nm', ['--defined-only', path], { encoding: 'utf8' });
  const at = new Set(nm.split('\n').map((l) => {
    const m = /^([0-9a-f]+) \S (\S+)$/.exec(l);
    return m ? `${m[2]}@${BigInt(`0x${m[1]}`)}` : '';
  }));
  return symbols.map((s) => {
    const base = bases ? bases.get(s.section) : 0n;
    const address = base === undefined ? null : base + s.value;
    // A symbol the linker moved (merged strings) is not comparable: leave it to the other checks.
    return { name: s.name, type: s.type, address: address !== null && at.has(`${s.name}@${address}`) ? address : null };
  });
}

async function checkAgainstOracle(t: import('ava').ExecutionContext, f: DwarfFixture, path: string, relocatable: boolean): Promise<Site[]> {
  const symbols = await siteSymbols(path);
  const result = await findSites(path, path, symbols.map((s) => ({ symtabIndex: s.index })), { all: true });
  t.deepEqual(result.errors, []);
  let oracleFile = path;
  let bases: Map<string, bigint> | null = null;
  if (relocatable) {
    oracleFile = `${path}.oracle`;
    bases = linkForOracle(path, oracleFile, f.toolchain.ld, f.toolchain.ldEmulation);
    t.truthy(bases, 'the relocatable object links for the oracle');
  } else if (f.name.includes('zdebug')) {
    // llvm-dwarfdump 19 does not read legacy .zdebug sections of executables: give it binutils' inflated copy.
    oracleFile = `${path}.oracle`;
    execFileSync('objcopy', ['--decompress-debug-sections', path, oracleFile]);
  }
  // Relocatable objects: --name (one run; --lookup only for clones, which have no DW_AT_name); linked: --lookup.
  const expected = await expectedSites(oracleFile, oracleSymbols(symbols, oracleFile, bases), { lineTableOnly: f.split, byNameFirst: relocatable });
  const problems: string[] = [];
  let compared = 0;
  symbols.forEach((s, i) => {
    const e = expected[i];
    if (!e) return;
    compared++;
    const site = result.sites[i];
    if (f.split) {
      // The DIEs live in .dwo files; only the line table of the skeleton is in the object.
      if (s.type === 'func' && (site.source !== 'line-table' || e.kind !== 'no-die' || !e.line || site.declLine !== e.line.line)) {
        problems.push(`${s.name}: split DWARF should give the line table's first row, got ${site.source} ${site.declLine}, oracle ${JSON.stringify(e)}`);
      }
      return;
    }
    const d = disagreement(site, e);
    if (d) problems.push(`${s.name} (${s.section}+0x${s.value.toString(16)}): ${d}`);
  });
  t.deepEqual(problems, []);
  t.true(compared >= symbols.length - 2, `compared ${compared} of ${symbols.length} symbols with the oracle`);
  // The fixture's point: every kind of clone and both header copies resolve to their DIEs.
  if (!f.split) {
    for (const name of ['scale.constprop.0', 'first_used.isra.0', 'maybe_work.part.0', 'header_helper', 'counter.1', 'next_id', 'name_show', 'table']) {
      const hits = symbols.map((s, i) => (s.name === name ? result.sites[i] : null)).filter((x) => x !== null);
      t.true(hits.length > 0 && hits.every((x) => x!.source === 'decl'), `${name}: ${JSON.stringify(hits)}`);
    }
    const helpers = symbols.map((s, i) => (s.name === 'header_helper' ? result.sites[i] : null)).filter((x) => x !== null);
    t.is(helpers.length, 2);
    t.deepEqual(new Set(helpers.map((h) => `${h!.declFile}:${h!.declLine}`)).size, 1, 'a header static has one decl site');
    t.deepEqual(helpers.map((h) => h!.unit).sort(), ['lib/alpha.c', 'lib/beta.c'], 'the units tell the copies apart');
  }
  return result.sites;
}

if (fixtures) {
  for (const f of fixtures.fixtures) {
    run(`${f.name}: relocatable (ld -r) sites equal llvm-dwarfdump's`, async (t) => {
      await checkAgainstOracle(t, f, f.relocatable, true);
    });
    if (f.linked) {
      run(`${f.name}: linked sites equal llvm-dwarfdump --lookup/--name`, async (t) => {
        await checkAgainstOracle(t, f, f.linked!, false);
      });
    }
    run(`${f.name}: duplicates-only requests give the same sites as --all`, async (t) => {
      const symbols = await siteSymbols(f.relocatable);
      const dups = duplicated(symbols);
      t.true(dups.length >= 8);
      const all = await findSites(f.relocatable, f.relocatable, symbols.map((s) => ({ symtabIndex: s.index })), { all: true });
      const some = await findSites(f.relocatable, f.relocatable, dups.map((s) => ({ symtabIndex: s.index })));
      const byIndex = new Map(all.sites.map((s) => [s.symtabIndex, s]));
      t.deepEqual(some.sites, dups.map((s) => byIndex.get(s.index)));
    });
  }
}

const debian = fixtures?.fixtures.find((f) => f.name === 'x86_64-dwarf5-debian');

(debian ? test : test.skip)('the build directory is learned from comp_dir vs DW_AT_name (Debian layout)', async (t) => {
  const f = debian!;
  const symbols = await siteSymbols(f.relocatable);
  const { sites } = await findSites(f.relocatable, f.relocatable, symbols.map((s) => ({ symtabIndex: s.index })), { all: true });
  const raw = execFileSync('llvm-dwarfdump-19', ['--debug-info', f.relocatable], { encoding: 'utf8' });
  t.true(raw.includes(`("${DEBIAN_PREFIX}")`), 'the fixture really has a relative Debian-style comp_dir');
  for (const s of sites) {
    if (s.declFile) t.false(s.declFile.startsWith('debian/'), s.declFile);
    if (s.unit) t.regex(s.unit, /^lib\/(alpha|beta)\.c$/);
  }
  // sourceRoot overrides the learned prefix: here a deeper root makes lib/ files relative to lib/.
  const rooted = await findSites(f.relocatable, f.relocatable, symbols.map((s) => ({ symtabIndex: s.index })), { all: true, sourceRoot: `${DEBIAN_PREFIX}/lib` });
  const i = symbols.findIndex((s) => s.name === 'alpha_entry');
  t.is(rooted.sites[i].declFile, 'alpha.c');
  t.is(sites[i].declFile, 'lib/alpha.c');
});

(debian ? test : test.skip)('stripped object + debug copy: same sites, by index or by (section, value, name)', async (t) => {
  const f = debian!;
  const base = await siteSymbols(f.relocatable);
  const ref = await findSites(f.relocatable, f.relocatable, base.map((s) => ({ symtabIndex: s.index })), { all: true });
  const key = (s: TestSymbol) => `${s.section}:${s.value}:${s.name}`;
  const want = new Map(base.map((s, i) => [key(s), ref.sites[i]]));
  for (const obj of [f.pair!.stripped, f.pair!.shifted, f.xz!]) {
    const symbols = await siteSymbols(obj);
    const dwarfPath = obj === f.xz ? obj : f.pair!.debug;
    const got = await findSites(obj, dwarfPath, symbols.map((s) => ({ symtabIndex: s.index })), { all: true });
    t.deepEqual(got.errors, [], obj);
    symbols.forEach((s, i) => {
      const w = want.get(key(s))!;
      t.deepEqual({ ...got.sites[i], symtabIndex: 0 }, { ...w, symtabIndex: 0 }, `${obj}: ${s.name}`);
    });
  }
  const shifted = await siteSymbols(f.pair!.shifted);
  t.notDeepEqual(shifted.map((s) => s.index), base.filter((s) => s.name !== 'alpha_name').map((s) => s.index), 'indices really differ');
});
