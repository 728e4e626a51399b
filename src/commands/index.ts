// `ksymtree index`: what to index (the trees given, or the running kernel's), where the index goes and which
// kernel configuration applies; the run itself is the pipeline in src/pipeline/run-index.ts.
import { existsSync, statSync } from 'node:fs';
import { FatalError } from '../errors.js';
import { indexPathToWrite } from '../db/location.js';
import { type IndexPlan, type IndexSummary, buildIndex } from '../pipeline/run-index.js';
import { debugTreeObjects } from '../tree/debug-pairing.js';
import { type FoundObject, type WalkProblem, singleFile, walkTree } from '../tree/walk.js';
import { type KernelInputs, debugTree, installedTree, runningKernelInputs } from '../tree/running-kernel.js';
import { findConfig, readConfigFile } from '../config/find-config.js';

export type { IndexSummary } from '../pipeline/run-index.js';

/** The command's options: what `index` was given; the rest of the run's settings pass through to the plan. */
export interface IndexOptions extends Pick<IndexPlan, 'jobs' | 'quiet' | 'aliases' | 'allSites' | 'sourceRoot' | 'debuginfod'> {
  readonly inputs: readonly string[];
  readonly debugDir?: string;
  readonly db?: string;
  /** `--config FILE`: the kernel's `.config`; else found beside the tree, else vmlinux's own word. */
  readonly config?: string;
}

/** With no TREE: the running kernel's installed tree and, when present, its debug tree. */
function defaultInputs(): KernelInputs {
  const found = runningKernelInputs();
  if (found) return found;
  throw new FatalError(`no kernel tree for the running kernel (${installedTree()} and ${debugTree()} do not exist); `
    + 'give a TREE, or try the example tree: `npm start` builds examples/build and indexes it');
}

function collectObjects(inputs: readonly string[]): { objects: FoundObject[]; problems: WalkProblem[] } {
  const objects: FoundObject[] = [];
  const problems: WalkProblem[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    let st;
    try {
      st = statSync(input);
    } catch (e) {
      throw new FatalError(`${input}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
    const found = st.isDirectory() ? walkTree(input) : { objects: [singleFile(input)], problems: [] };
    for (const o of found.objects) {
      if (!seen.has(o.path)) objects.push(o);
      seen.add(o.path);
    }
    problems.push(...found.problems);
  }
  return { objects, problems };
}

export async function runIndex(opts: IndexOptions): Promise<IndexSummary> {
  const started = process.hrtime.bigint();
  const inputs: KernelInputs = opts.inputs.length ? { trees: [...opts.inputs], debugDir: opts.debugDir ?? null } : defaultInputs();
  const debugDir = opts.debugDir ?? inputs.debugDir;
  if (debugDir && !existsSync(debugDir)) throw new FatalError(`--debug-dir ${debugDir}: no such directory`);
  const { objects, problems } = collectObjects(inputs.trees);
  const debugFiles = debugDir ? debugTreeObjects(debugDir) : [];
  // An installed tree has no vmlinux; the debug tree's is the kernel's own, so it joins the index.
  if (debugDir && !objects.some((o) => o.relPath === 'vmlinux')) {
    const vmlinux = debugFiles.find((f) => f.relPath === 'vmlinux');
    if (vmlinux) objects.unshift(vmlinux);
  }
  if (!objects.length && !problems.length) {
    throw new FatalError(`no vmlinux or modules (*.ko, *.ko.gz, *.ko.xz, *.ko.zst) found in ${inputs.trees.join(', ')}`);
  }

  const dbPath = indexPathToWrite(opts.db, inputs.trees);
  const config = opts.config ? readConfigFile(opts.config) : findConfig(debugDir ? [...inputs.trees, debugDir] : inputs.trees);
  return buildIndex({
    trees: inputs.trees, objects, problems, debugDir, debugFiles, dbPath, config, jobs: opts.jobs, quiet: opts.quiet,
    aliases: opts.aliases, allSites: opts.allSites, sourceRoot: opts.sourceRoot, debuginfod: opts.debuginfod, started,
  });
}
