/**
 * `ksymtree apply` and `ksymtree verify`: commander wiring only (src/apply/ does the work).
 * Exit codes as for the other commands: 0 everything done, 1 some modules refused or failed (listed, the
 * others done), 2 usage or fatal problem (a FatalError, turned into exit 2 by main.ts).
 */
import { type Command, Option } from 'commander';
import { FatalError } from '../errors.js';
import { Output } from '../io/output.js';
import { defaultJobs } from '../pipeline/pool.js';
import { type RunReport, runApply, runVerify } from '../apply/run.js';
import { positiveInt } from './arguments.js';
import { reportFailures } from './failures.js';

const EXIT_INCOMPLETE = 1;

function report(r: RunReport): void {
  const out = new Output();
  for (const l of r.lines) out.line(l);
  out.flush();
  const failed = r.outcomes.filter((o) => o.action === 'failed' || o.action === 'refused');
  reportFailures(failed.map((o) => `${o.path}: ${o.action}: ${o.reason ?? ''}`), 'stdout lists every one');
  for (const n of r.notes) process.stderr.write(`${n}\n`);
  if (r.incomplete) process.exitCode = EXIT_INCOMPLETE;
}

interface ApplyFlags {
  db?: string;
  dryRun?: boolean;
  revert?: boolean;
  jobs: number;
  quiet?: boolean;
  resign?: string[];
  signFile?: string;
  signHash?: string;
  stripSignature?: boolean;
}

export function registerApplyCommands(program: Command): void {
  program.command('apply')
    .description('add each alias as a symbol to its module\'s .symtab (same address and kallsyms letter), in place; '
      + '--revert restores the exact original files')
    .argument('[tree]', 'the tree to change (default: the paths the index recorded); may be a copy of the indexed tree')
    .option('--db <file>', 'index (default: $KSYMTREE_DB, else <tree>/ksymtree.db when it exists, else ./ksymtree.db)')
    .option('-n, --dry-run', 'list the modules and alias counts, change nothing')
    .option('--revert', 'restore every rewritten module of TREE (or of the index) to its original bytes')
    .addOption(new Option('-j, --jobs <n>', 'modules processed at once').argParser(positiveInt).default(defaultJobs(), 'the number of cores'))
    .option('-q, --quiet', 'no progress bar')
    .option('--resign <key-and-cert...>', 're-sign signed modules with scripts/sign-file: --resign KEY CERT')
    .option('--sign-file <path>', 'the kernel\'s scripts/sign-file (default: on PATH or /usr/lib/linux-kbuild-*/scripts/)')
    .option('--sign-hash <algo>', 'digest for sign-file (default: the one of the module\'s original signature, else sha256)')
    .option('--strip-signature', 'remove the signature of signed modules (they load unverified, tainting the kernel)')
    .addHelpText('after', `
Each line of output: ACTION<TAB>ALIASES<TAB>PATH[<TAB>REASON], ACTION one of applied, unchanged (already
applied), reverted, would-apply, would-revert, refused, failed, skipped (vmlinux).
Signed modules are refused unless --resign or --strip-signature is given. Compressed modules are written
in their format again (xz --check=crc32, zstd, gzip -n). Files keep their mode, owner and mtime.`)
    .action(async (treeArg: string | undefined, o: ApplyFlags) => {
      let tree = treeArg;
      let resign: [string, string] | undefined;
      if (o.resign) {
        // --resign is variadic: `apply --resign KEY CERT TREE` hands it TREE as a third value.
        const values = [...o.resign];
        if (values.length === 3 && tree === undefined) tree = values.pop();
        if (values.length !== 2) throw new FatalError('--resign takes two values: KEY CERT');
        resign = [values[0], values[1]];
      }
      report(await runApply({
        tree, db: o.db, dryRun: !!o.dryRun, revert: !!o.revert, jobs: o.jobs, quiet: !!o.quiet, resign,
        signFile: o.signFile, signHash: o.signHash, stripSignature: !!o.stripSignature,
      }));
    });

  program.command('verify')
    .description('check that every module the index gives aliases was applied and still has the bytes apply wrote')
    .argument('[tree]', 'check the files under TREE (default: the paths the index recorded)')
    .option('--db <file>', 'index (default: $KSYMTREE_DB, else <tree>/ksymtree.db when it exists, else ./ksymtree.db)')
    .addHelpText('after', `
Prints one line per problem: changed, missing or not-applied, then a summary on stderr; exit 1 when any.`)
    .action(async (tree: string | undefined, o: { db?: string }) => report(await runVerify({ tree, db: o.db })));
}
