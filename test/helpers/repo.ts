// The repository's root directory, found from this file alike when it runs as test/helpers/repo.ts or compiled
// as dist/test/helpers/repo.js, and paths inside it.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'test', 'fixtures'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no repository root (package.json beside test/fixtures/) above ${here}`);
  }
}

export const REPO_ROOT = findRepoRoot();

/** `parts` joined below the repository root: repoPath('test', 'fixtures'). */
export function repoPath(...parts: string[]): string {
  return path.join(REPO_ROOT, ...parts);
}
