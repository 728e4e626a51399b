// The `ksymtree` executable: commander wiring only, each command a runX of src/commands/ (index, symbols, aliases,
// kallsyms, lookup, where, resolve, stats, diff, errors, man, kallsyms-aliases; the others register from their files).
import { Command, InvalidArgumentError, Option } from 'commander';
import { debuginfodConfig } from '../debuginfod/client.js';
import { runIndexCommand } from '../commands/index-command.js';
import { runSymbols } from '../commands/symbols.js';
import { type AliasFormat, runAliases } from '../commands/aliases.js';
import { runKallsyms } from '../commands/kallsyms.js';
import { runKallsymsAliases } from '../commands/kallsyms-aliases.js';
import { EXIT_FATAL, type TextOrJson, finished } from '../commands/command.js';
import { runDiff, runErrors, runLookup, runStats, runWhere } from '../commands/query.js';
import { runResolve } from '../commands/resolve.js';
import { FatalError } from '../errors.js';
import { registerApplyCommands } from './apply-commands.js';
import { registerSymbolize } from './symbolize-command.js';
import { registerKlp } from './klp-command.js';
import { registerCatalog } from './catalog-command.js';
import { DB_ENV, DB_HELP, WRITE_DB_HELP } from '../db/location.js';
import { COMMAND_EXAMPLES, USER_EXAMPLES, examplesText } from './examples.js';
import { collect, positiveInt, run } from './arguments.js';
import { commandsByName, manPage } from './man.js';
import { defaultJobs } from '../pipeline/pool.js';
import { TOOL_VERSION } from '../version.js';

function parseAddress(value: string): bigint {
  try {
    return BigInt(value.startsWith('0x') ? value : `0x${value}`);
  } catch {
    throw new InvalidArgumentError('expected a hex address');
  }
}

const formatOption = () => new Option('--format <format>', 'text, or json (fields: README, "Machine-readable output")').choices(['text', 'json']).default('text');

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
  .option('--db <file>', WRITE_DB_HELP)
  .addOption(new Option('-j, --jobs <n>', 'worker threads').argParser(positiveInt).default(defaultJobs(), 'the number of cores'))
  .option('-q, --quiet', 'no progress bar')
  .option('--no-aliases', 'pass 1 only: no sites, sympos or aliases')
  .option('--all-sites', 'a definition site for every function and variable (for `ksymtree where`)')
  .option('--source-root <path>', 'prefix to strip from DWARF paths (default: learned per object)')
  .option('--config <file>', "the kernel's .config (default: found beside the tree, else vmlinux's IKCONFIG or kallsyms table)")
  .option('--debuginfod <url>', 'debuginfod server for the debug files of objects without local DWARF (repeatable; replaces $DEBUGINFOD_URLS)', collect, [])
  .option('--timings', 'print the wall time of each phase (scan, indexes, sites, aliases, commit)')
  .action((inputs: string[], o: { debugDir?: string; db?: string; jobs: number; quiet?: boolean; aliases: boolean;
    allSites?: boolean; sourceRoot?: string; config?: string; timings?: boolean; debuginfod: string[] }) => run((out) => runIndexCommand({
    inputs, debugDir: o.debugDir, db: o.db, jobs: o.jobs, quiet: !!o.quiet, aliases: o.aliases, allSites: !!o.allSites,
    sourceRoot: o.sourceRoot, config: o.config, debuginfod: debuginfodConfig(o.debuginfod), timings: o.timings }, out)));

program.command('symbols')
  .description('list every symbol: object, module, index, name, value, size, section, nm letter, kallsyms letter')
  .option('--db <file>', DB_HELP)
  .option('--object <name|path>', 'only this object: module name, "vmlinux" or a path')
  .addOption(new Option('--format <format>', 'output format').choices(['tsv', 'json']).default('tsv'))
  .action((o: { db?: string; object?: string; format: 'tsv' | 'json' }) => run((out) => runSymbols(o, out)));

program.command('aliases')
  .description('aliases of names duplicated inside one object, with livepatch sympos and definition sites')
  .option('--db <file>', DB_HELP)
  .option('--object <name|path>', 'only this object: module name, "vmlinux" or a path')
  .addOption(new Option('--format <format>', 'json, tsv, nm (nm -n with alias lines, for scripts/kallsyms) or livepatch')
    .choices(['json', 'tsv', 'nm', 'livepatch']).default('tsv'))
  .option('-o, --output <file>', 'write to FILE atomically instead of stdout')
  .action((o: { db?: string; object?: string; format: AliasFormat; output?: string }) => run((out) => runAliases(o, out), o.output));

program.command('kallsyms')
  .description('the kallsyms view in /proc/kallsyms format (vmlinux by address, modules in .symtab order)')
  .option('--db <file>', DB_HELP)
  .option('--object <name|path>', 'only this object: module name, "vmlinux" or a path')
  .option('--sections <dir>', '/sys/module (or one module\'s sections/ directory): print load addresses')
  .option('--base <addr>', 'added to every address (a KASLR slide, or a base for section-relative addresses)', parseAddress)
  .option('--aliases', 'print each alias on the line after its symbol, as kas_alias showed them')
  .action((o: { db?: string; object?: string; sections?: string; base?: bigint; aliases?: boolean }) => run((out) => runKallsyms({ ...o, aliases: !!o.aliases }, out)));

program.command('lookup')
  .description('every definition of NAME across the tree (object, sympos, alias, site), or the one symbol ALIAS names')
  .argument('<name|alias>')
  .option('--db <file>', DB_HELP)
  .addOption(formatOption())
  .action((key: string, o: { db?: string; format: TextOrJson }) => run((out) => runLookup(key, o, out)));

program.command('where')
  .description('definition sites of NAME in every object (all functions and variables with `index --all-sites`)')
  .argument('<name>')
  .option('--db <file>', DB_HELP)
  .addOption(formatOption())
  .action((name: string, o: { db?: string; format: TextOrJson }) => run((out) => runWhere(name, o, out)));

program.command('resolve')
  .description('where the copy an alias names lives, and kprobe/perf/bpftrace lines that reach exactly it')
  .argument('<alias>')
  .option('--db <file>', DB_HELP)
  .option('--kallsyms <file>', '/proc/kallsyms of the running kernel (or a copy) for the runtime address')
  .option('--sys-module <dir>', 'a /sys/module-style directory for module section load addresses', '/sys/module')
  .addOption(formatOption())
  .action((alias: string, o: { db?: string; kallsyms?: string; sysModule: string; format: TextOrJson }) => run((out) => runResolve(alias, o, out)));

program.command('stats')
  .description('objects, symbols, duplicate names, aliases, sites by source, errors')
  .option('--db <file>', DB_HELP)
  .addOption(formatOption())
  .action((o: { db?: string; format: TextOrJson }) => run((out) => runStats(o, out)));

program.command('diff')
  .description('aliases added (+), removed (-) and sympos changed (~) per object between two kernel builds')
  .argument('<old-db>')
  .argument('<new-db>')
  .addOption(formatOption())
  .action((oldPath: string, newPath: string, o: { format: TextOrJson }) => run((out) => runDiff(oldPath, newPath, o, out)));

registerApplyCommands(program);
registerSymbolize(program);
registerKlp(program);
registerCatalog(program);

program.command('errors')
  .description('list the objects and paths that could not be (fully) read, with file, offset and what was expected')
  .option('--db <file>', DB_HELP)
  .addOption(formatOption())
  .action((o: { db?: string; format: TextOrJson }) => run((out) => runErrors(o, out)));

/** The man page's sections that are not generated from the command definitions. */
const MAN_SECTIONS = {
  exitCodes: '0: every object indexed (or every module applied). 1: some objects could not be (fully) read, or some modules were refused or failed; each is named on stderr (the first 20) and, for index, recorded in the errors table; everything else is done. 2: usage error or fatal problem.',
  environment: `${DB_ENV}: the index every command reads or writes when --db is not given. `
    + 'DEBUGINFOD_URLS: space-separated debuginfod servers index asks for the debug files of objects with duplicates and no local DWARF (none: no network). '
    + 'DEBUGINFOD_CACHE_PATH: where those files are cached (default $XDG_CACHE_HOME/debuginfod_client, else ~/.cache/debuginfod_client, shared with elfutils). '
    + 'DEBUGINFOD_TIMEOUT: seconds a server may send nothing before it is given up (default 90).',
  files: '/lib/modules/$(uname -r)/ksymtree.db: the default index of the running kernel (./ksymtree.db when that tree is not writable).',
};

program.command('man')
  .description('print the man page (roff), generated from these command definitions')
  .action(() => run(async (out) => {
    out.write(manPage(program, TOOL_VERSION, MAN_SECTIONS));
    return finished();
  }));

program.command('kallsyms-aliases')
  .description('kernel build step: add an alias line after each copy of a name duplicated in a temporary vmlinux to mksysmap\'s list (stdin), for scripts/kallsyms')
  .argument('<vmlinux>', 'the temporary vmlinux of one kallsyms link pass, linked with its DWARF (contrib/kbuild)')
  .option('--config <file>', "the kernel's .config (default: $KCONFIG_CONFIG, else .config)")
  .option('--sysmap <file>', "mksysmap's output for VMLINUX (default: stdin)")
  .option('-o, --output <file>', 'write to FILE atomically instead of stdout')
  .action((vmlinux: string, o: { config?: string; sysmap?: string; output?: string }) => run((out) => runKallsymsAliases(vmlinux, o, out), o.output));

for (const [name, c] of commandsByName(program)) {
  const examples = COMMAND_EXAMPLES[name];
  if (examples) c.addHelpText('after', `\nExamples:\n${examplesText(examples)}`);
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
