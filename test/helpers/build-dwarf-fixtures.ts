// Builds the DWARF fixtures of test/fixtures/dwarf with the toolchains of this machine, once per content
// hash (reused across test files and runs). Every variant yields a relocatable object (`ld -r`, the shape
// of a .ko) and, where the toolchain can link freestanding code, an executable.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bump when the recipes change: the cache key covers sources and this string. */
const RECIPE = 'dwarf-fixtures v3';

const here = dirname(fileURLToPath(import.meta.url));
/** test/fixtures/dwarf, found from src/ (tsx) or dist/ (compiled) alike. */
export const FIXTURE_SOURCES = [join(here, '../fixtures/dwarf'), join(here, '../../../test/fixtures/dwarf')]
  .find((d) => existsSync(join(d, 'alpha.c')))!;

/** The build directory prefix Debian's kernels carry; one variant reproduces it with -fdebug-prefix-map. */
export const DEBIAN_PREFIX = 'debian/build/build_amd64_none_cloud-amd64';

export interface Toolchain {
  readonly cc: string;
  readonly ccFlags: readonly string[];
  readonly ld: string;
  readonly ldFlags: readonly string[];
}

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
  tool: 'x86_64' | 'i386' | 's390x' | 'aarch64';
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

export const TOOLCHAINS: Record<Recipe['tool'], Toolchain> = {
  x86_64: { cc: 'gcc', ccFlags: [], ld: 'ld', ldFlags: [] },
  i386: { cc: 'gcc', ccFlags: ['-m32'], ld: 'ld', ldFlags: ['-m', 'elf_i386'] },
  s390x: { cc: 's390x-linux-gnu-gcc', ccFlags: [], ld: 's390x-linux-gnu-ld', ldFlags: [] },
  aarch64: { cc: 'aarch64-linux-gnu-gcc', ccFlags: [], ld: 'aarch64-linux-gnu-ld', ldFlags: [] },
};

const UNITS = ['lib/alpha.c', 'lib/beta.c'];

function run(cmd: string, args: readonly string[], cwd: string): void {
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

function sourceHash(): string {
  const h = createHash('sha256').update(RECIPE);
  for (const f of readdirSync(FIXTURE_SOURCES).sort()) h.update(f).update(readFileSync(join(FIXTURE_SOURCES, f)));
  return h.digest('hex').slice(0, 16);
}

let built: DwarfFixtureSet | null = null;

/** Builds (or reuses) every fixture this machine's toolchains can make. */
export function buildDwarfFixtures(): DwarfFixtureSet {
  if (built) return built;
  const dir = join(tmpdir(), `ksymtree-dwarf-fixtures-${sourceHash()}`);
  if (!existsSync(join(dir, 'manifest.json'))) {
    // Build beside the final place and rename: concurrent test workers never see a half-built tree.
    const work = `${dir}.tmp-${process.pid}`;
    rmSync(work, { recursive: true, force: true });
    const manifest = buildInto(work, dir);
    writeFileSync(join(work, 'manifest.json'), JSON.stringify(manifest));
    try {
      renameSync(work, dir);
    } catch {
      rmSync(work, { recursive: true, force: true }); // another worker won the race
    }
  }
  built = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as DwarfFixtureSet;
  return built;
}

function buildInto(work: string, finalDir: string): DwarfFixtureSet {
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
    const flags = [...tc.ccFlags, ...COMMON, ...r.flags];
    if (r.debianPrefix) flags.push(`-fdebug-prefix-map=${tree}=${DEBIAN_PREFIX}`);
    else flags.push(`-fdebug-prefix-map=${tree}=${finalTree}`);
    const fix = (p: string) => join(finalTree, p);
    try {
      const objs = UNITS.map((u) => u.replace(/\.c$/, '.o'));
      UNITS.forEach((u, i) => run(tc.cc, [...flags, '-c', u, '-o', objs[i]], tree));
      run(tc.ld, [...tc.ldFlags, '-r', ...(r.ldCompress ? ['--compress-debug-sections=zlib'] : []), ...objs, '-o', 'rel.o'], tree);
      let linked: string | null = 'exe';
      try {
        run(tc.cc, [...flags, '-nostdlib', '-static', '-no-pie', '-Wl,-e,_start', ...(r.ldCompress ? ['-Wl,--compress-debug-sections=zlib'] : []), ...objs, '-o', 'exe'], tree);
      } catch {
        linked = null;
      }
      if (r.post) {
        for (const f of ['rel.o', ...(linked ? [linked] : [])]) run('objcopy', [`--compress-debug-sections=${r.post}`, f], tree);
      }
      let pair: DwarfFixture['pair'];
      if (r.pair) {
        run('objcopy', ['--only-keep-debug', 'rel.o', 'rel.debug'], tree);
        run('objcopy', ['--strip-debug', 'rel.o', 'rel.stripped'], tree);
        // Removing one early symbol shifts every later index: the pair must then be matched by content.
        run('objcopy', ['--strip-symbol=alpha_name', 'rel.stripped', 'rel.shifted'], tree);
        pair = { stripped: fix('rel.stripped'), debug: fix('rel.debug'), shifted: fix('rel.shifted') };
      }
      let xz: string | undefined;
      if (r.xz) {
        run('xz', ['-k', '-f', 'rel.o'], tree);
        xz = fix('rel.o.xz');
      }
      fixtures.push({ name: r.name, toolchain: tc, relocatable: fix('rel.o'), linked: linked ? fix(linked) : null, split: !!r.split, pair, xz });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      skipped.push({ name: r.name, reason: (err.stderr?.toString() || err.message).split('\n')[0] });
    }
  }
  return { dir: finalDir, fixtures, skipped };
}
