// The `ksymtree` executable: commander wiring of index, symbols, aliases, kallsyms, lookup, where, resolve, stats,
// diff, errors, man and kallsyms-aliases; apply/verify, symbolize, klp and catalog register from their own files.
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { runIndex } from '../commands/index.js';
import { describeConfig } from '../config/kernel-config.js';
import { debuginfodConfig } from '../debuginfod/client.js';
import { runSymbols } from '../commands/symbols.js';
import { FatalError } from '../errors.js';
import { type AliasFormat, renderAliases } from '../commands/aliases.js';
import { runKallsyms } from '../commands/kallsyms.js';
import { runKallsymsAliases } from '../commands/kallsyms-aliases.js';
import { registerApplyCommands } from './apply-commands.js';
import { diff, diffLine, lookup, lookupLine, stats, statsRecord, where, whereLine } from '../commands/query.js';
import { resolve, resolveLines } from '../commands/resolve.js';
import { registerSymbolize } from './symbolize-command.js';
import { collect, registerKlp } from './klp-command.js';
import { registerCatalog } from './catalog-command.js';
import { type Db, openIndexDb } from '../db/db.js';
import { DB_ENV, DB_HELP, indexPathToRead } from '../db/location.js';
import { errorRecords, indexedConfig } from '../db/queries.js';
import { COMMAND_EXAMPLES, USER_EXAMPLES, examplesText } from './examples.js';
import { positiveInt } from './arguments.js';
import { reportDebuginfod, reportFailures } from './failures.js';
import { commandsByName, manPage } from './man.js';
import { writeFileAtomic } from '../io/atomic.js';
import { Output } from '../io/output.js';
import { defaultJobs } from '../pipeline/pool.js';
import { TOOL_VERSION } from '../version.js';

/** Exit codes: 0 everything indexed, 1 some objects failed (the rest are indexed), 2 usage or fatal. */
const EXIT_PARTIAL = 1;
const EXIT_FATAL = 2;

function parseAddress(value: string): bigint {
  try {
    return BigInt(value.startsWith('0x') ? value : `0x${value}`);
  } catch {
    throw new InvalidArgumentError('expected a hex address');
  }
}


type TextOrJson = 'text' | 'json';
const formatOption = () => new Option('--format <format>', 'text, or json (fields: README, "Machine-readable output")').choices(['text', 'json']).default('text');

/** Text lines, or the records as one JSON array (an object for stats), like `aliases --format json`. */
function render<T>(format: TextOrJson, records: T, text: () => string[]): string {
  if (format === 'json') return `${JSON.stringify(records, null, 1)}\n`;
  const lines = text();
  return lines.length ? `${lines.join('\n')}\n` : '';
}

const program = new Command('ksymtree')
  .description('Index the symbols of a Linux kernel tree and name the copies of names duplicated inside one object')
  .version(TOOL_VERSION)
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_FATAL))
  .addHelpText('after', `\nExamples:\n${USER_EXAMPLES.map((u) => `${u.user}:\n${examplesText(u.examples)}`).join('\n')}\n
\`ksymtree help COMMAND\` shows a command's options and examples; \`ksymtree man\` prints the man page.`);

program.command('index')
  .description('scan vmlinux and every module of the trees or files into an index')
  .argument('[inputs...]', 'build tree, installed tree (/lib/modules/<ver>), debug tree, or single vmlinux/module files')
  .option('--debug-dir <dir>', 'debug tree whose copies (paired by GNU build-id) hold the DWARF of stripped objects')
  .option('--db <file>', `index to write (default: $${DB_ENV}, else <tree>/ksymtree.db when writable, else ./ksymtree.db)`)
  .addOption(new Option('-j, --jobs <n>', 'worker threads').argParser(positiveInt).default(defaultJobs(), 'the number of cores'))
  .option('-q, --quiet', 'no progress bar')
  .option('--no-aliases', 'pass 1 only: no sites, sympos or aliases')
  .option('--all-sites', 'a definition site for every function and variable (for `ksymtree where`)')
  .option('--source-root <path>', 'prefix to strip from DWARF paths (default: learned per object)')
  .option('--config <file>', "the kernel's .config (default: found beside the tree, else vmlinux's IKCONFIG or kallsyms table)")
  .option('--debuginfod <url>', 'debuginfod server for the debug files of objects without local DWARF (repeatable; replaces $DEBUGINFOD_URLS)', collect, [])
  .option('--timings', 'print the wall time of each phase (scan, indexes, sites, aliases, commit)')
  .action(async (inputs: string[], o: { debugDir?: string; db?: string; jobs: number; quiet?: boolean; aliases: boolean;
    allSites?: boolean; sourceRoot?: string; config?: string; timings?: boolean; debuginfod: string[] }) => {
    const s = await runIndex({ inputs, debugDir: o.debugDir, db: o.db, jobs: o.jobs, quiet: !!o.quiet, aliases: o.aliases,
      allSites: !!o.allSites, sourceRoot: o.sourceRoot, config: o.config, debuginfod: debuginfodConfig(o.debuginfod) });
    process.stderr.write(`ksymtree: kernel config: ${describeConfig(s.config)}\n`);
    if (s.debuginfod) reportDebuginfod(s.debuginfod);
    for (const { path, alias } of s.shortened) {
      process.stderr.write(`ksymtree: ${path}: alias shortened to fit KSYM_NAME_LEN: ${alias.fullAlias} -> ${alias.alias}\n`);
    }
    process.stderr.write(`ksymtree: indexed ${s.objects} objects, ${s.symbols} symbols, ${s.sites} sites, ${s.aliases} aliases, `
      + `${s.errors} errors in ${s.seconds.toFixed(1)} s -> ${s.dbPath}\n`);
    if (o.timings) process.stderr.write(`ksymtree: timings: ${s.phases.map((p) => `${p.phase} ${p.seconds.toFixed(2)} s`).join(', ')}\n`);
    if (s.errors) {
      reportFailures(s.failures, `\`ksymtree errors --db ${s.dbPath}\``);
      process.stderr.write(`ksymtree: ${s.errors} errors in ${s.failures.length} files or paths; the rest is indexed (\`ksymtree errors --db ${s.dbPath}\`)\n`);
      process.exitCode = EXIT_PARTIAL;
    }
  });

program.command('symbols')
  .description('list every symbol: object, module, index, name, value, size, section, nm letter, kallsyms letter')
  .option('--db <file>', DB_HELP)
  .option('--object <name|path>', 'only this object: module name, "vmlinux" or a path')
  .addOption(new Option('--format <format>', 'output format').choices(['tsv', 'json']).default('tsv'))
  .action((o: { db?: string; object?: string; format: 'tsv' | 'json' }) => withIndex(o.db, (db) => runSymbols(db, o)));

program.command('aliases')
  .description('aliases of names duplicated inside one object, with livepatch sympos and definition sites')
  .option('--db <file>', DB_HELP)
  .option('--object <name|path>', 'only this object: module name, "vmlinux" or a path')
  .addOption(new Option('--format <format>', 'json, tsv, nm (nm -n with alias lines, for scripts/kallsyms) or livepatch')
    .choices(['json', 'tsv', 'nm', 'livepatch']).default('tsv'))
  .option('-o, --output <file>', 'write to FILE atomically instead of stdout')
  .action((o: { db?: string; object?: string; format: AliasFormat; output?: string }) => {
    withIndex(o.db, (db) => emit(renderAliases(db, o), o.output));
  });

program.command('kallsyms')
  .description('the kallsyms view in /proc/kallsyms format (vmlinux by address, modules in .symtab order)')
  .option('--db <file>', DB_HELP)
  .option('--object <name|path>', 'only this object: module name, "vmlinux" or a path')
  .option('--sections <dir>', '/sys/module (or one module\'s sections/ directory): print load addresses')
  .option('--base <addr>', 'added to every address (a KASLR slide, or a base for section-relative addresses)', parseAddress)
  .option('--aliases', 'print each alias on the line after its symbol, as kas_alias showed them')
  .action((o: { db?: string; object?: string; sections?: string; base?: bigint; aliases?: boolean }) => {
    withIndex(o.db, (db) => runKallsyms(db, { ...o, aliases: !!o.aliases }));
  });

program.command('lookup')
  .description('every definition of NAME across the tree (object, sympos, alias, site), or the one symbol ALIAS names')
  .argument('<name|alias>')
  .option('--db <file>', DB_HELP)
  .addOption(formatOption())
  .action((key: string, o: { db?: string; format: TextOrJson }) => {
    withIndex(o.db, (db, path) => {
      const records = lookup(db, key);
      if (!records.length) throw new FatalError(`${key}: no such symbol or alias in ${path}`);
      emit(render(o.format, records, () => records.map(lookupLine)));
    });
  });

program.command('where')
  .description('definition sites of NAME in every object (all functions and variables with `index --all-sites`)')
  .argument('<name>')
  .option('--db <file>', DB_HELP)
  .addOption(formatOption())
  .action((name: string, o: { db?: string; format: TextOrJson }) => {
    withIndex(o.db, (db) => {
      const records = where(db, name);
      if (!records.length) throw new FatalError(`${name}: not defined in any indexed object`);
      emit(render(o.format, records, () => records.map(whereLine)));
    });
  });

program.command('resolve')
  .description('where the copy an alias names lives, and kprobe/perf/bpftrace lines that reach exactly it')
  .argument('<alias>')
  .option('--db <file>', DB_HELP)
  .option('--kallsyms <file>', '/proc/kallsyms of the running kernel (or a copy) for the runtime address')
  .option('--sys-module <dir>', 'a /sys/module-style directory for module section load addresses', '/sys/module')
  .addOption(formatOption())
  .action(async (alias: string, o: { db?: string; kallsyms?: string; sysModule: string; format: TextOrJson }) => {
    const db = openIndexDb(indexPathToRead(o.db));
    try {
      const records = await resolve(db, alias, { kallsyms: o.kallsyms, sysModule: o.sysModule });
      emit(render(o.format, records, () => resolveLines(records)));
    } finally {
      db.close();
    }
  });

program.command('stats')
  .description('objects, symbols, duplicate names, aliases, sites by source, errors')
  .option('--db <file>', DB_HELP)
  .addOption(formatOption())
  .action((o: { db?: string; format: TextOrJson }) => withIndex(o.db, (db) => {
    const lines = stats(db);
    // The configuration is text, not counts: its JSON comes from the index's meta rows as they are.
    emit(render(o.format, o.format === 'json' ? { ...statsRecord(lines), kernel_config: indexedConfig(db) } : null, () => lines));
  }));

program.command('diff')
  .description('aliases added (+), removed (-) and sympos changed (~) per object between two kernel builds')
  .argument('<old-db>')
  .argument('<new-db>')
  .addOption(formatOption())
  .action((oldPath: string, newPath: string, o: { format: TextOrJson }) => {
    withIndex(oldPath, (oldDb) => withIndex(newPath, (newDb) => {
      const records = diff(oldDb, newDb);
      emit(render(o.format, records, () => records.map(diffLine)));
    }));
  });

registerApplyCommands(program);
registerSymbolize(program);
registerKlp(program);
registerCatalog(program);

program.command('errors')
  .description('list the objects and paths that could not be (fully) read, with file, offset and what was expected')
  .option('--db <file>', DB_HELP)
  .addOption(formatOption())
  .action((o: { db?: string; format: TextOrJson }) => withIndex(o.db, (db) => {
    const records = errorRecords(db);
    emit(render(o.format, records, () => records.map((e) => e.message)));
  }));

program.command('man')
  .description('print the man page (roff), generated from these command definitions')
  .action(() => emit(manPage(program, TOOL_VERSION, {
    exitCodes: '0: every object indexed (or every module applied). 1: some objects could not be (fully) read, or some modules were refused or failed; each is named on stderr (the first 20) and, for index, recorded in the errors table; everything else is done. 2: usage error or fatal problem.',
    environment: `${DB_ENV}: the index every command reads or writes when --db is not given. `
      + 'DEBUGINFOD_URLS: space-separated debuginfod servers index asks for the debug files of objects with duplicates and no local DWARF (none: no network). '
      + 'DEBUGINFOD_CACHE_PATH: where those files are cached (default $XDG_CACHE_HOME/debuginfod_client, else ~/.cache/debuginfod_client, shared with elfutils). '
      + 'DEBUGINFOD_TIMEOUT: seconds a server may send nothing before it is given up (default 90).',
    files: '/lib/modules/$(uname -r)/ksymtree.db: the default index of the running kernel (./ksymtree.db when that tree is not writable).',
  })));

program.command('kallsyms-aliases')
  .description('kernel build step: add an alias line after each copy of a name duplicated in a temporary vmlinux to mksysmap\'s list (stdin), for scripts/kallsyms')
  .argument('<vmlinux>', 'the temporary vmlinux of one kallsyms link pass, linked with its DWARF (contrib/kbuild)')
  .option('--config <file>', "the kernel's .config (default: $KCONFIG_CONFIG, else .config)")
  .option('--sysmap <file>', "mksysmap's output for VMLINUX (default: stdin)")
  .option('-o, --output <file>', 'write to FILE atomically instead of stdout')
  .action(async (vmlinux: string, o: { config?: string; sysmap?: string; output?: string }) => {
    const sysmap = readInput(o.sysmap ?? 0, '--sysmap');
    const config = o.config ?? process.env.KCONFIG_CONFIG ?? '.config';
    const r = await runKallsymsAliases({ vmlinux, sysmap, config });
    for (const s of r.skipped) process.stderr.write(`ksymtree: ${vmlinux}: alias ${s.alias.alias} not added: ${s.reason}\n`);
    if (r.failures.length) reportFailures(r.failures, `\`ksymtree index ${vmlinux}\` and \`ksymtree errors\``);
    emit(r.text, o.output);
  });


for (const [name, c] of commandsByName(program)) {
  const examples = COMMAND_EXAMPLES[name];
  if (examples) c.addHelpText('after', `\nExamples:\n${examplesText(examples)}`);
}

/** Opens the index named by --db (or the default rule, when undefined) for the time of `use`. */
function withIndex<T>(given: string | undefined, use: (db: Db, path: string) => T): T {
  const path = indexPathToRead(given);
  const db = openIndexDb(path);
  try {
    return use(db, path);
  } finally {
    db.close();
  }
}

/** A whole input file, or stdin (0), as bytes in a string. */
function readInput(file: string | 0, option: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch (e) {
    throw new FatalError(`${file === 0 ? 'stdin' : `${option} ${file}`}: ${(e as Error).message}`);
  }
}

function emit(text: string, file?: string): void {
  if (file) writeFileAtomic(file, text);
  else {
    const out = new Output();
    out.write(text);
    out.flush();
  }
}

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
