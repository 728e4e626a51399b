// ksymtree's own version (package.json): printed by --version and the man page, recorded in every index.
import { readFileSync } from 'node:fs';

/** The package version, read once from package.json at the package root. */
export const TOOL_VERSION: string = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;
