// `ksymtree index` as a command: runs the pipeline (index.ts) and reports on stderr what it indexed, the aliases it
// had to shorten and the files it could not read; exit 1 when some could not be (fully) read.
import { describeConfig } from '../config/kernel-config.js';
import type { Output } from '../io/output.js';
import { type CommandResult, finished } from './command.js';
import { reportDebuginfod, reportFailures } from './failures.js';
import { type IndexOptions, runIndex } from './index.js';

export async function runIndexCommand(opts: IndexOptions & { readonly timings?: boolean }, out: Output): Promise<CommandResult> {
  const s = await runIndex(opts);
  out.note(`kernel config: ${describeConfig(s.config)}`);
  if (s.debuginfod) reportDebuginfod(out, s.debuginfod);
  for (const { path, alias } of s.shortened) out.note(`${path}: alias shortened to fit KSYM_NAME_LEN: ${alias.fullAlias} -> ${alias.alias}`);
  out.note(`indexed ${s.objects} objects, ${s.symbols} symbols, ${s.sites} sites, ${s.aliases} aliases, `
    + `${s.errors} errors in ${s.seconds.toFixed(1)} s -> ${s.dbPath}`);
  if (opts.timings) out.note(`timings: ${s.phases.map((p) => `${p.phase} ${p.seconds.toFixed(2)} s`).join(', ')}`);
  if (!s.errors) return finished();
  reportFailures(out, s.failures, `\`ksymtree errors --db ${s.dbPath}\``);
  out.note(`${s.errors} errors in ${s.failures.length} files or paths; the rest is indexed (\`ksymtree errors --db ${s.dbPath}\`)`);
  return finished(true);
}
