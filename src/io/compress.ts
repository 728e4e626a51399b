/**
 * Compression of rewritten modules, in the format they came in, with the system's `gzip`, `xz` and `zstd`
 * (the same tools kbuild's `modules_install` runs, so the same bytes come out for the same input).
 *
 * A *recipe* is one fixed command line. Recipes are only ever chosen from the lists below, by name: a
 * recipe name read back from a module is looked up here and never executed as given.
 */
import { spawn } from 'node:child_process';
import { FatalError } from '../errors.js';

export type CompressKind = 'gzip' | 'xz' | 'zstd';

export interface Recipe {
  readonly kind: CompressKind;
  readonly tool: string;
  /** Arguments before the ones that make the tool read stdin and write stdout. */
  readonly args: readonly string[];
}

/**
 * Candidates per format, most likely first. The first of each is what kbuild's scripts/Makefile.modinst
 * runs (6.1–6.12): `xz --check=crc32 --lzma2=dict=1MiB` (the kernel's xz decompressor only knows CRC32),
 * `zstd -T0`, `gzip -n`. The others are common distribution settings, tried only to reproduce an original.
 */
export const RECIPES: Readonly<Record<CompressKind, readonly Recipe[]>> = {
  xz: [
    { kind: 'xz', tool: 'xz', args: ['--check=crc32', '--lzma2=dict=1MiB'] },
    { kind: 'xz', tool: 'xz', args: ['--check=crc32'] },
    { kind: 'xz', tool: 'xz', args: ['-9', '--check=crc32'] },
  ],
  zstd: [
    { kind: 'zstd', tool: 'zstd', args: ['-T0'] },
    { kind: 'zstd', tool: 'zstd', args: ['-19', '-T0'] },
    { kind: 'zstd', tool: 'zstd', args: ['--ultra', '-22', '-T0'] },
  ],
  gzip: [
    { kind: 'gzip', tool: 'gzip', args: ['-n'] },
    { kind: 'gzip', tool: 'gzip', args: ['-n', '-9'] },
  ],
};

export function recipeName(r: Recipe): string {
  return [r.tool, ...r.args].join(' ');
}

/** The recipe of that name from RECIPES, or null: names read from files never become commands. */
export function recipeByName(name: string): Recipe | null {
  for (const list of Object.values(RECIPES)) for (const r of list) if (recipeName(r) === name) return r;
  return null;
}

export function defaultRecipe(kind: CompressKind): Recipe {
  return RECIPES[kind][0];
}

/** Compresses `data` with one recipe: the tool reads stdin and writes stdout, exactly as on a file. */
export function compress(data: Buffer, recipe: Recipe): Promise<Buffer> {
  // zstd writes the content size into the frame header only when it knows it: a file does, stdin needs
  // --stream-size. gzip -n and xz store no name or time, so stdin and a file give the same bytes.
  const io = recipe.kind === 'zstd' ? ['-q', '-c', `--stream-size=${data.length}`] : ['-c'];
  return run(recipe.tool, [...recipe.args, ...io], data);
}

function run(tool: string, args: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT'
        ? new FatalError(`${tool} not found on PATH: it is needed to compress modules again (Debian: apt-get install ${packageOf(tool)})`)
        : e);
    });
    child.stdin.on('error', () => { /* reported through the exit status */ });
    child.on('close', (status, signal) => {
      if (status === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${tool} ${args.join(' ')} failed (${signal ?? `exit ${status}`}): ${Buffer.concat(err).toString().trim()}`));
    });
    child.stdin.end(input);
  });
}

function packageOf(tool: string): string {
  return tool === 'xz' ? 'xz-utils' : tool;
}

/**
 * The first recipe of the format that turns `image` into exactly `compressed`, or null when none does
 * (another tool, version or setting made the original).
 */
export async function findReproducingRecipe(kind: CompressKind, image: Buffer, compressed: Buffer): Promise<Recipe | null> {
  for (const recipe of RECIPES[kind]) {
    const again = await compress(image, recipe);
    if (again.equals(compressed)) return recipe;
  }
  return null;
}
