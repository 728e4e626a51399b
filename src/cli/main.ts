import { Command, InvalidArgumentError, Option } from 'commander';
import { runIndex } from '../commands/index.js';
import { runSymbols } from '../commands/symbols.js';
import { FatalError } from '../errors.js';
import { openIndexDb } from '../index/db.js';
import { defaultJobs } from '../scan/pool.js';
import { TOOL_VERSION } from '../version.js';

/** Exit codes: 0 everything indexed, 1 some objects failed (the rest are indexed), 2 usage or fatal. */
const EXIT_PARTIAL = 1;
const EXIT_FATAL = 2;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

const DB_HELP = 'index file (default: ./ksymtree.db)';

const program = new Command('ksymtree')
  .description('Index the symbols of a Linux kernel tree and name the copies of names duplicated inside one object')
  .version(TOOL_VERSION)
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_FATAL));

program.command('index')
  .description('scan vmlinux and every module of the trees or files into an index')
  .argument('[inputs...]', 'build tree, installed tree (/lib/modules/<ver>), debug tree, or single vmlinux/module files')
  .option('--debug-dir <dir>', 'debug tree whose copies (paired by GNU build-id) hold the DWARF of stripped objects')
  .option('--db <file>', 'index to write (default: <tree>/ksymtree.db when writable, else ./ksymtree.db)')
  .option('-j, --jobs <n>', 'worker threads', positiveInt, defaultJobs())
  .option('-q, --quiet', 'no progress bar')
  .option('--no-aliases', 'pass 1 only: no sites, sympos or aliases')
  .option('--all-sites', 'a definition site for every function and variable (for `ksymtree where`)')
  .option('--source-root <path>', 'prefix to strip from DWARF paths (default: learned per object)')
  .action(async (inputs: string[], o: { debugDir?: string; db?: string; jobs: number; quiet?: boolean; aliases: boolean;
    allSites?: boolean; sourceRoot?: string }) => {
    const s = await runIndex({ inputs, debugDir: o.debugDir, db: o.db, jobs: o.jobs, quiet: !!o.quiet, aliases: o.aliases,
      allSites: !!o.allSites, sourceRoot: o.sourceRoot });
    for (const { path, alias } of s.shortened) {
      process.stderr.write(`ksymtree: ${path}: alias shortened to fit KSYM_NAME_LEN: ${alias.fullAlias} -> ${alias.alias}\n`);
    }
    process.stderr.write(`ksymtree: indexed ${s.objects} objects, ${s.symbols} symbols, ${s.sites} sites, ${s.aliases} aliases, `
      + `${s.errors} errors in ${s.seconds.toFixed(1)} s -> ${s.dbPath}\n`);
    if (s.errors) {
      process.stderr.write(`ksymtree: ${s.errors} objects or paths could not be fully read; the rest is indexed (\`ksymtree errors --db ${s.dbPath}\`)\n`);
      process.exitCode = EXIT_PARTIAL;
    }
  });

program.command('symbols')
  .description('list every symbol: object, module, index, name, value, size, section, nm letter, kallsyms letter')
  .option('--db <file>', DB_HELP, 'ksymtree.db')
  .option('--object <name|path>', 'only this object: module name, "vmlinux" or a path')
  .addOption(new Option('--format <format>', 'output format').choices(['tsv', 'json']).default('tsv'))
  .action((o: { db: string; object?: string; format: 'tsv' | 'json' }) => {
    const db = openIndexDb(o.db);
    runSymbols(db, o);
    db.close();
  });

program.command('errors')
  .description('list the objects and paths that could not be (fully) read, with file, offset and what was expected')
  .option('--db <file>', DB_HELP, 'ksymtree.db')
  .action((o: { db: string }) => {
    const db = openIndexDb(o.db);
    for (const r of db.prepare('SELECT message FROM errors ORDER BY path, offset').iterate() as IterableIterator<{ message: string }>) {
      process.stdout.write(`${r.message}\n`);
    }
    db.close();
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof FatalError) {
    process.stderr.write(`ksymtree: ${e.message}\n`);
    process.exit(EXIT_FATAL);
  }
  process.stderr.write(`ksymtree: internal error (please report): ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(EXIT_FATAL);
}
