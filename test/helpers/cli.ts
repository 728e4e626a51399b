// Runs our own CLI as users run it (bin/ksymtree.js over the compiled dist/) and reads its TSV output; other
// tools go through ./exec.ts.
import { spawn } from 'node:child_process';
import { repoPath } from './repo.js';

export const CLI = repoPath('bin', 'ksymtree.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `env` entries are added to the test's environment; an undefined value removes one. DEBUGINFOD_URLS is removed
 * unless a test sets it: no test reaches a debuginfod server it did not start.
 */
export function ksymtree(args: readonly string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, DEBUGINFOD_URLS: undefined, ...opts.env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

/** Rows of a TSV with a header line, as objects keyed by column name. */
export function parseTsv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.split('\n').filter((l) => l.length);
  const cols = head.split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])));
}
