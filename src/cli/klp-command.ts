/**
 * `ksymtree klp check` and `ksymtree klp funcs`: commander wiring only (src/commands/klp.ts does the work).
 * check exits 1 when some reference does not bind as intended in some build or the module could not be
 * fully read (each says why), 2 on usage or fatal problems.
 */
import { type Command, Option } from 'commander';
import { runKlpCheck, runKlpFuncs } from '../commands/klp.js';
import { DB_HELP } from '../db/location.js';
import { collect, run } from './arguments.js';

export function registerKlp(program: Command): void {
  const klp = program.command('klp').description('livepatch: check a module against kernel builds, write klp_func initializers');

  klp.command('check')
    .description('check every reference of a livepatch module (.klp.sym symbols, struct klp_func arrays, klp-build klp_func_ext and kpatch-build .kpatch.funcs tables) against each build: the copy it binds, and with --reference whether it is the same definition site')
    .argument('<livepatch-module>', 'the livepatch .ko (also .ko.xz/.zst/.gz, signed or not)')
    .option('--db <file>', `a target build's index; repeat for each build (default: one index, ${DB_HELP})`, collect)
    .option('--catalog <file>', 'a catalogue (`ksymtree catalog add`): every build in it is a target')
    .option('--reference <file>', 'index of the build the patch was made for: each target must bind the copy of the same definition site')
    .addOption(new Option('--format <format>', 'text, or json (fields: README, "Machine-readable output")').choices(['text', 'json']).default('text'))
    .action((module: string, o: { db?: string[]; catalog?: string; reference?: string; format: 'text' | 'json' }) => run((out) => runKlpCheck(module, o, out)));

  klp.command('funcs')
    .description('the struct klp_func / klp_object initializers (objname, old_name, old_sympos) for the copies these aliases name')
    .argument('<alias...>', 'aliases as `ksymtree aliases` lists them')
    .option('--db <file>', DB_HELP)
    .addOption(new Option('--format <format>', 'c (initializers to paste), or json').choices(['c', 'json']).default('c'))
    .action((aliases: string[], o: { db?: string; format: 'c' | 'json' }) => run((out) => runKlpFuncs(aliases, o, out)));
}
