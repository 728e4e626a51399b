// `ksymtree apply` and `ksymtree verify` as commands: src/apply/run.ts does the work; one line per module on
// stdout, refused and failed modules and the summary as notes; exit 1 when some module was refused or failed.
import { type ApplyRunOptions, type RunReport, type VerifyOptions, applyTree, verifyTree } from '../apply/run.js';
import type { Output } from '../io/output.js';
import { type CommandResult, finished } from './command.js';
import { reportFailures } from './failures.js';

function report(r: RunReport, out: Output): CommandResult {
  for (const l of r.lines) out.line(l);
  const failed = r.outcomes.filter((o) => o.action === 'failed' || o.action === 'refused');
  reportFailures(out, failed.map((o) => `${o.path}: ${o.action}: ${o.reason ?? ''}`), 'stdout lists every one');
  for (const n of r.notes) out.note(n);
  return finished(r.incomplete);
}

export async function runApply(opts: ApplyRunOptions, out: Output): Promise<CommandResult> {
  return report(await applyTree(opts), out);
}

export async function runVerify(opts: VerifyOptions, out: Output): Promise<CommandResult> {
  return report(await verifyTree(opts), out);
}
