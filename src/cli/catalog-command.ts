/** `ksymtree catalog add` and `ksymtree catalog sympos`: commander wiring only (src/commands/catalog.ts does the work). */
import { type Command, Option } from 'commander';
import { runCatalogAdd, runCatalogSympos } from '../commands/catalog.js';
import { run } from './arguments.js';

export function registerCatalog(program: Command): void {
  const catalog = program.command('catalog').description('many kernel builds in one file, for livepatch checks across releases, flavours and architectures');

  catalog.command('add')
    .description('merge build indexes (each made by `ksymtree index` where the build is) into a catalogue; a build added again is replaced')
    .argument('<catalog>', 'the catalogue file (created when absent)')
    .argument('<index...>', "build indexes (each build's ksymtree.db)")
    .action((path: string, indexes: string[]) => run((out) => runCatalogAdd(path, indexes, out)));

  catalog.command('sympos')
    .description('every copy of NAME in every build of the catalogue: object, sympos, alias, definition site')
    .argument('<name>')
    .requiredOption('--catalog <file>', 'the catalogue file')
    .option('--object <objname>', 'only this object: a module name or "vmlinux"')
    .addOption(new Option('--format <format>', 'text, or json (fields: README, "Machine-readable output")').choices(['text', 'json']).default('text'))
    .action((name: string, o: { catalog: string; object?: string; format: 'text' | 'json' }) => run((out) => runCatalogSympos(name, o, out)));
}
