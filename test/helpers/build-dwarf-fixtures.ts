// Builds the DWARF fixtures of test/fixtures/dwarf with the toolchains of this machine, cached in
// test/.fixtures/dwarf-<hash>/ (./fixture-cache.ts). Every variant yields a relocatable object (`ld -r`, the shape
// of a .ko) and, where the toolchain can link freestanding code, an executable.
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from './exec.js';
import { cachedBuild } from './fixture-cache.js';
import { repoPath } from './repo.js';
import { type Arch, TOOLCHAINS, type Toolchain } from './toolchains.js';

export const FIXTURE_SOURCES = repoPath('test', 'fixtures', 'dwarf');

/** The build directory prefix Debian's kernels carry; one variant reproduces it with -fdebug-prefix-map. */
export const DEBIAN_PREFIX = 'debian/build/build_amd64_none_cloud-amd64';

export interface DwarfFixture {
  readonly name: string;
  readonly toolchain: Toolchain;
  /** `ld -r` of the units: what a .ko is. */
  readonly relocatable: string;
  /** Freestanding static executable, null when it could not be linked. */
  readonly linked: string | null;
  /** Split DWARF: the sites come from line tables only (the DIEs are in .dwo files). */
  readonly split: boolean;
  /** Stripped copy + separate debug file (same symbol table layout), and a copy whose symbol indices differ. */
  readonly pair?: { readonly stripped: string; readonly debug: string; readonly shifted: string };
  /** The relocatable compressed as a whole (.ko.xz). */
  readonly xz?: string;
}

export interface DwarfFixtureSet {
  readonly dir: string;
  readonly fixtures: DwarfFixture[];
  readonly skipped: { name: string; reason: string }[];
}

interface Recipe {
  name: string;
  tool: Arch;
  flags: string[];
  debianPrefix?: boolean;
  post?: 'zstd' | 'zlib-gnu';
  ldCompress?: boolean;
  split?: boolean;
  pair?: boolean;
  xz?: boolean;
}

const COMMON = ['-O2', '-ffreestanding', '-fno-stack-protector', '-fno-pic', '-fno-asynchronous-unwind-tables', '-Iinclude'];

const RECIPES: Recipe[] = [
  { name: 'x86_64-dwarf5-debian', tool: 'x86_64', flags: ['-gdwarf-5'], debianPrefix: true, pair: true, xz: true },
  { name: 'x86_64-dwarf4', tool: 'x86_64', flags: ['-gdwarf-4'] },
  { name: 'x86_64-dwarf3', tool: 'x86_64', flags: ['-gdwarf-3'] },
  { name: 'x86_64-dwarf2', tool: 'x86_64', flags: ['-gdwarf-2'] },
  { name: 'x86_64-dwarf64', tool: 'x86_64', flags: ['-gdwarf-5', '-gdwarf64'] },
  { name: 'x86_64-gz-zlib', tool: 'x86_64', flags: ['-gdwarf-5', '-gz=zlib'], ldCompress: true },
  { name: 'x86_64-zstd', tool: 'x86_64', flags: ['-gdwarf-5'], post: 'zstd' },
  { name: 'x86_64-zdebug', tool: 'x86_64', flags: ['-gdwarf-4'], post: 'zlib-gnu' },
  { name: 'x86_64-types4', tool: 'x86_64', flags: ['-gdwarf-4', '-fdebug-types-section'] },
  { name: 'x86_64-types5', tool: 'x86_64', flags: ['-gdwarf-5', '-fdebug-types-section'] },
  { name: 'x86_64-split', tool: 'x86_64', flags: ['-gdwarf-5', '-gsplit-dwarf'], split: true },
  { name: 'i386-dwarf5', tool: 'i386', flags: ['-gdwarf-5'] },
  { name: 's390x-dwarf5', tool: 's390x', flags: ['-gdwarf-5'] },
  { name: 'aarch64-dwarf4', tool: 'aarch64', flags: ['-gdwarf-4'] },
];

const UNITS = ['lib/alpha.c', 'lib/beta.c'];

let built: Promise<DwarfFixtureSet> | null = null;

/** Builds (or reuses) every fixture this machine's toolchains can make. */
export function buildDwarfFixtures(): Promise<DwarfFixtureSet> {
  built ??= cachedBuild<DwarfFixtureSet>({
    name: 'dwarf',
    files: [FIXTURE_SOURCES, repoPath('test', 'helpers', 'build-dwarf-fixtures.ts'), repoPath('test', 'helpers', 'toolchains.ts')],
    facts: { COMMON, RECIPES },
    build: buildInto,
  }).then((c) => c.manifest);
  return built;
}

async function buildInto(work: string, finalDir: string): Promise<DwarfFixtureSet> {
  const fixtures: DwarfFixture[] = [];
  const skipped: { name: string; reason: string }[] = [];
  for (const r of RECIPES) {
    // A kernel-like tree per variant: sources under lib/ and include/, compiled from the tree's root so
    // DW_AT_name is `lib/alpha.c` and DW_AT_comp_dir the root (kbuild's shape).
    const tree = join(work, r.name);
    mkdirSync(join(tree, 'lib'), { recursive: true });
    mkdirSync(join(tree, 'include'), { recursive: true });
    cpSync(join(FIXTURE_SOURCES, 'alpha.c'), join(tree, 'lib/alpha.c'));
    cpSync(join(FIXTURE_SOURCES, 'beta.c'), join(tree, 'lib/beta.c'));
    cpSync(join(FIXTURE_SOURCES, 'shared.h'), join(tree, 'include/shared.h'));
    const tc = TOOLCHAINS[r.tool];
    // Paths are recorded as they will be after the rename into the final directory.
    const finalTree = join(finalDir, r.name);
    const flags = [...tc.targetCflags, ...COMMON, ...r.flags];
    if (r.debianPrefix) flags.push(`-fdebug-prefix-map=${tree}=${DEBIAN_PREFIX}`);
    else flags.push(`-fdebug-prefix-map=${tree}=${finalTree}`);
    const fix = (p: string) => join(finalTree, p);
    try {
      const objs = UNITS.map((u) => u.replace(/\.c$/, '.o'));
      for (const [i, u] of UNITS.entries()) await exec(tc.cc, [...flags, '-c', u, '-o', objs[i]], { cwd: tree });
      await exec(tc.ld, [...tc.ldEmulation, '-r', ...(r.ldCompress ? ['--compress-debug-sections=zlib'] : []), ...objs, '-o', 'rel.o'], { cwd: tree });
      let linked: string | null = 'exe';
      try {
        await exec(tc.cc, [...flags, '-nostdlib', '-static', '-no-pie', '-Wl,-e,_start', ...(r.ldCompress ? ['-Wl,--compress-debug-sections=zlib'] : []), ...objs, '-o', 'exe'], { cwd: tree });
      } catch {
        linked = null;
      }
      if (r.post) {
        for (const f of ['rel.o', ...(linked ? [linked] : [])]) await exec('objcopy', [`--compress-debug-sections=${r.post}`, f], { cwd: tree });
      }
      let pair: DwarfFixture['pair'];
      if (r.pair) {
        await exec('objcopy', ['--only-keep-debug', 'rel.o', 'rel.debug'], { cwd: tree });
        await exec('objcopy', ['--strip-debug', 'rel.o', 'rel.stripped'], { cwd: tree });
        // Removing one early symbol shifts every later index: the pair must then be matched by content.
        await exec('objcopy', ['--strip-symbol=alpha_name', 'rel.stripped', 'rel.shifted'], { cwd: tree });
        pair = { stripped: fix('rel.stripped'), debug: fix('rel.debug'), shifted: fix('rel.shifted') };
      }
      let xz: string | undefined;
      if (r.xz) {
        await exec('xz', ['-k', '-f', 'rel.o'], { cwd: tree });
        xz = fix('rel.o.xz');
      }
      fixtures.push({ name: r.name, toolchain: tc, relocatable: fix('rel.o'), linked: linked ? fix(linked) : null, split: !!r.split, pair, xz });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      skipped.push({ name: r.name, reason: (err.stderr || err.message).split('\n')[0] });
    }
  }
  return { dir: finalDir, fixtures, skipped };
}
