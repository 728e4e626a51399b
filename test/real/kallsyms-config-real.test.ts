// Real-kernel tier for the kernel configuration: Debian's 6.1 arm64 cloud kernel is built without
// CONFIG_KALLSYMS_ALL, the amd64 cloud kernel with it. Oracles: the packages' own /boot/config-<release>,
// readelf over the debug modules (helpers/module-kallsyms-oracle.ts), and the decoded vmlinux table.
// Each kernel is skipped, by name, when its corpus is absent.
import { existsSync, mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { openDatabase } from '../../src/db/sqlite.js';
import { scanObject } from '../../src/scan/scan-object.js';
import { ksymtree, parseTsv } from '../helpers/cli.js';
import { moduleKallsymsOracle } from '../helpers/module-kallsyms-oracle.js';
import { readelfSymbols } from '../helpers/oracle.js';

const work = mkdtempSync(join(tmpdir(), 'ksymtree-config-real-'));

function corpus(name: string): { debug: string; installed: string } | null {
  const base = join(process.env.KSYMTREE_CORPUS ?? join(homedir(), '.cache/ksymtree-corpus'), name);
  const c = { debug: join(base, 'debug'), installed: join(base, 'installed') };
  return existsSync(join(c.debug, 'vmlinux')) && existsSync(c.installed) ? c : null;
}

const SHF_EXECINSTR = 4;
/** The modules the issue compared with a booted arm64 kernel: code, data, mapping symbols, crypto. */
const ARM64_MODULES = ['8021q', 'dm_mod', 'aes_neon_bs', 'sha256_arm64', 'bridge', 'overlay', 'nfsd'];

for (const [name, all] of [['6.1-cloud-arm64', 'n'], ['6.1-cloud-amd64', 'y']] as const) {
  const c = corpus(name);
  const real = c ? test.serial : test.skip;
  const title = (s: string) => `real ${name}: ${s}${c ? '' : ' [skipped: no corpus; scripts/test.sh fetches it]'}`;
  const db = join(work, `${name}.db`);
  let indexing: ReturnType<typeof ksymtree> | null = null;
  const indexed = () => (indexing ??= ksymtree(['index', c!.installed, '--debug-dir', c!.debug, '--db', db, '--quiet']));

  real(title(`the installed tree's /boot/config says CONFIG_KALLSYMS_ALL=${all}; vmlinux's table agrees`), async (t) => {
    const r = await indexed();
    t.is(r.status, 0, r.stderr);
    t.regex(r.stderr, new RegExp(`kernel config: CONFIG_KALLSYMS=y, CONFIG_KALLSYMS_ALL=${all}, .*\\(from .*/boot/config-`));
    // The same vmlinux read without a configuration infers it from the shape of its kallsyms table.
    const own = await scanObject(join(c!.debug, 'vmlinux'), null);
    t.is(own.elf?.config?.source, 'kallsyms-table');
    t.is(own.elf?.config?.options.CONFIG_KALLSYMS_ALL, all);
  });

  if (all === 'n') {
    real(title('no alias and no sympos for a symbol outside an executable section'), async (t) => {
      t.is((await indexed()).status, 0);
      const sqlite = openDatabase(db, { readonly: true });
      const count = (where: string) => sqlite.prepare(`SELECT count(*) FROM symbols s JOIN objects o ON o.id = s.object_id
        JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx WHERE o.kind = 'module' AND (sec.flags & ${SHF_EXECINSTR}) = 0 AND ${where}`).pluck().get() as number;
      t.is(count('s.ks_letter IS NOT NULL'), 0, 'listed data symbols');
      t.is(count('s.sympos IS NOT NULL'), 0, 'data symbols with a sympos');
      t.is(sqlite.prepare(`SELECT count(*) FROM aliases a JOIN symbols s ON s.object_id = a.object_id AND s.idx = a.idx
        JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx WHERE (sec.flags & ${SHF_EXECINSTR}) = 0`).pluck().get(), 0, 'aliases of data');
      t.true((sqlite.prepare("SELECT count(*) FROM aliases a JOIN objects o ON o.id = a.object_id WHERE o.kind = 'module'").pluck().get() as number) > 0);
      sqlite.close();
    });

    for (const module of ARM64_MODULES) {
      real(title(`${module}: kallsyms lines and sympos follow the loader's code-only rules (readelf oracle)`), async (t) => {
        t.is((await indexed()).status, 0);
        const sqlite = openDatabase(db, { readonly: true });
        const ko = sqlite.prepare("SELECT debug_path FROM objects WHERE module_name = ? AND kind = 'module'").pluck().get(module) as string;
        sqlite.close();
        t.truthy(ko, `${module} is indexed with a debug copy`);
        const letters = await moduleKallsymsOracle(ko, true, true, false);
        const symbols = await readelfSymbols(ko);
        const listed = symbols.filter((s) => letters[s.index] !== ' ');
        // Stripped installed modules keep every symbol but STT_FILE, in order: compare by name, letter and order.
        const lines = parseTsv((await ksymtree(['symbols', '--db', db, '--object', module, '--format', 'tsv'])).stdout)
          .filter((r) => r.kallsyms !== '' && r.kallsyms !== '-');
        t.deepEqual(lines.map((r) => `${r.kallsyms} ${r.name}`), listed.map((s) => `${letters[s.index]} ${s.name}`));
        // The N-th listed copy of a name has sympos N.
        const seen = new Map<string, number>();
        const total = new Map<string, number>();
        for (const s of listed) total.set(s.name, (total.get(s.name) ?? 0) + 1);
        const want = listed.map((s) => {
          const n = (seen.get(s.name) ?? 0) + 1;
          seen.set(s.name, n);
          return `${s.name} ${total.get(s.name)! > 1 ? n : 0}`;
        });
        const aliases = parseTsv((await ksymtree(['aliases', '--db', db, '--object', module, '--format', 'tsv'])).stdout);
        const symposOf = new Map(aliases.map((a) => [`${a.name} ${a.section} ${a.value}`, a.sympos]));
        t.deepEqual(lines.map((r) => `${r.name} ${symposOf.get(`${r.name} ${r.section} ${r.value}`) ?? 0}`), want);
      });
    }
  }
}
