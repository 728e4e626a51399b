/**
 * `ksymtree symbolize`: commander wiring only (src/commands/symbolize.ts does the work). Exit 1 when some
 * frame could not be placed or has no source line (each says why), 2 on usage or fatal problems.
 */
import { type Command, Option } from 'commander';
import { runSymbolize } from '../commands/symbolize.js';
import { DB_HELP } from '../db/location.js';
import { defaultJobs } from '../pipeline/pool.js';
import { positiveInt, run } from './arguments.js';

export function registerSymbolize(program: Command): void {
  program.command('symbolize')
    .description('addresses, frames (name+0x1c/0x51 [mod]) or a kernel log on stdin -> the exact copy (alias), file:line and inlined callers')
    .argument('[frames...]', 'addresses (0xffffffff8111fe50) or frames; none: annotate the kernel log on stdin')
    .option('--db <file>', DB_HELP)
    .addOption(new Option('--format <format>', 'text annotates like decode_stacktrace.sh; json: one record per frame').choices(['text', 'json']).default('text'))
    .option('--kallsyms <file>', '/proc/kallsyms of the traced kernel (or a copy): runtime addresses -> copies')
    .option('--debug-dir <dir>', 'debug tree for objects indexed without DWARF (paired by build-id)')
    .option('--source-root <path>', 'prefix to strip from DWARF paths (default: learned per object)')
    .option('--no-tables', 'walk the DWARF every time: do not build or read the address tables kept beside the index')
    .addOption(new Option('-j, --jobs <n>', 'threads reading DWARF (for a few thousand frames and more)').argParser(positiveInt).default(defaultJobs(), 'the number of cores'))
    .action((frames: string[], o: { db?: string; format: 'text' | 'json'; kallsyms?: string; debugDir?: string; sourceRoot?: string; jobs: number; tables: boolean }) =>
      run((out) => runSymbolize(frames, o, out)));
}
