/**
 * `ksymtree klp check` and `ksymtree klp funcs`: commander wiring only (src/commands/klp.ts does the work).
 * check exits 1 when some reference does not bind as intended in some build or the module could not be
 * fully read (each says why), 2 on usage or fatal problems.
 */
import { type Command, Option } from 'commander';
import { type Build, klpCheck, klpCheckLines, klpFuncs, klpFuncsSource, releaseOf } from '../commands/klp.js';
import { CopyIndex } from '../db/kallsyms-copies.js';
import { CatalogCopies, buildLabel, catalogBuilds } from '../catalog/copies.js';
import { openCatalog } from '../catalog/db.js';
import { type Db, openIndexDb } from '../db/db.js';
import { DB_HELP, indexPathToRead } from '../db/location.js';
import { Output } from '../io/output.js';

const EXIT_INCOMPLETE = 1;

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function print(text: string): void {
  const out = new Output();
  out.write(text);
  out.flush();
}

/** Opens indexes (each once) for the time of `use`, closing all of them however it ends. */
async function withIndexes<T>(use: (open: (p: string) => Db) => Promise<T>): Promise<T> {
  const opened = new Map<string, Db>();
  try {
    return await use((p) => {
      let db = opened.get(p);
      if (!db) opened.set(p, (db = openIndexDb(p)));
      return db;
    });
  } finally {
    for (const db of opened.values()) db.close();
  }
}

export function registerKlp(program: Command): void {
  const klp = program.command('klp').description('livepatch: check a module against kernel builds, write klp_func initializers');

  klp.command('check')
    .description('check every reference of a livepatch module (.klp.sym symbols, struct klp_func arrays, klp-build klp_func_ext and kpatch-build .kpatch.funcs tables) against each build: the copy it binds, and with --reference whether it is the same definition site')
    .argument('<livepatch-module>', 'the livepatch .ko (also .ko.xz/.zst/.gz, signed or not)')
    .option('--db <file>', `a target build's index; repeat for each build (default: one index, ${DB_HELP})`, collect)
    .option('--catalog <file>', 'a catalogue (`ksymtree catalog add`): every build in it is a target')
    .option('--reference <file>', 'index of the build the patch was made for: each target must bind the copy of the same definition site')
    .addOption(new Option('--format <format>', 'text, or json (fields: README, "Machine-readable output")').choices(['text', 'json']).default('text'))
    .action(async (module: string, o: { db?: string[]; catalog?: string; reference?: string; format: 'text' | 'json' }) => {
      const targets = (o.db?.length ? o.db : o.reference || o.catalog ? [] : [undefined]).map((p) => indexPathToRead(p));
      const reference = o.reference ? indexPathToRead(o.reference) : null;
      await withIndexes(async (open) => {
        const build = (path: string): Build => ({ label: path, copies: new CopyIndex(open(path)), release: releaseOf(open(path)) });
        const catalog = o.catalog ? openCatalog(o.catalog) : null;
        try {
          const reader = catalog && new CatalogCopies(catalog);
          const catalogued = catalog ? catalogBuilds(catalog).map((b): Build => ({ label: `${o.catalog}: ${buildLabel(b)}`, copies: reader!.source(b.id), release: b.release })) : [];
          const rec = await klpCheck(module, [...targets.map(build), ...catalogued], reference ? build(reference) : null);
          print(o.format === 'json' ? `${JSON.stringify(rec, null, 1)}\n` : `${klpCheckLines(rec).join('\n')}\n`);
          if (!rec.ok) process.exitCode = EXIT_INCOMPLETE;
        } finally {
          catalog?.close();
        }
      });
    });

  klp.command('funcs')
    .description('the struct klp_func / klp_object initializers (objname, old_name, old_sympos) for the copies these aliases name')
    .argument('<alias...>', 'aliases as `ksymtree aliases` lists them')
    .option('--db <file>', DB_HELP)
    .addOption(new Option('--format <format>', 'c (initializers to paste), or json').choices(['c', 'json']).default('c'))
    .action(async (aliases: string[], o: { db?: string; format: 'c' | 'json' }) => {
      await withIndexes(async (open) => {
        const records = klpFuncs(open(indexPathToRead(o.db)), aliases);
        print(o.format === 'json' ? `${JSON.stringify(records, null, 1)}\n` : klpFuncsSource(records));
      });
    });
}
