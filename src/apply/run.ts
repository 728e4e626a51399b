/**
 * `ksymtree apply` and `ksymtree verify` over an index and a tree: which files to change, running them a
 * few at a time, reporting, and recording the result in the index's `applied` table.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { sep } from 'node:path';
import { FatalError } from '../errors.js';
import { type Db, openIndexDb } from '../db/db.js';
import { type ApplyObject, AppliedTable, aliasesToApply, appliedFiles, modulePaths, modulesWithAliases, openIndexForWriting, readObjects } from '../db/applied.js';
import { indexPathToRead } from '../db/location.js';
import { type Lock, acquireLock } from '../db/lock.js';
import { Progress } from '../io/progress.js';
import { walkTree } from '../tree/walk.js';
import { type ApplyOptions, type ModuleTask, type Outcome, type SignaturePolicy, applyModule, carriesAliases, revertModule } from './module-file.js';
import { Signer, findSignFile } from './signing.js';
import { indexedConfig } from '../db/queries.js';
import { describeConfig } from '../config/kernel-config.js';

export interface ApplyRunOptions {
  readonly tree?: string;
  readonly db?: string;
  readonly dryRun: boolean;
  readonly revert: boolean;
  readonly jobs: number;
  readonly quiet: boolean;
  readonly resign?: readonly [string, string];
  readonly signFile?: string;
  readonly signHash?: string;
  readonly stripSignature: boolean;
}

export interface RunReport {
  /** One TSV line per module: action, alias count, path, reason. */
  readonly lines: string[];
  /** Summary and notes for stderr (each printed as `ksymtree: NOTE`). */
  readonly notes: string[];
  /** True when some module was refused or failed. */
  readonly incomplete: boolean;
  readonly outcomes: Outcome[];
}

/**
 * Where each indexed object is now. Without TREE, the path the index recorded. With TREE (for example a
 * copy of the indexed tree), the file of TREE whose path relative to TREE is the longest tail of the
 * indexed path; objects with none are not under TREE.
 */
function locate(objects: readonly ApplyObject[], tree: string | undefined): Map<number, string> {
  const found = new Map<number, string>();
  if (!tree) {
    for (const o of objects) found.set(o.id, o.path);
    return found;
  }
  if (!existsSync(tree) || !statSync(tree).isDirectory()) throw new FatalError(`${tree}: not a directory`);
  const files = new Map<string, string>();
  for (const f of walkTree(tree).objects) files.set(f.relPath.split(sep).join('/'), f.path);
  for (const o of objects) {
    const parts = o.path.split(/[\\/]+/).filter((p) => p && p !== '.');
    for (let k = 0; k < parts.length; k++) {
      const hit = files.get(parts.slice(k).join('/'));
      if (hit) {
        found.set(o.id, hit);
        break;
      }
    }
  }
  return found;
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Runs `work` over `items` with at most `jobs` in flight; results in item order. */
async function pool<T, R>(items: readonly T[], jobs: number, work: (item: T) => Promise<R>, done: (item: T) => void): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
      done(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  return results;
}

function line(o: Outcome): string {
  return [o.action, String(o.aliases), o.path, ...(o.reason ? [o.reason] : [])].join('\t');
}

const VMLINUX_NOTE = 'vmlinux cannot be changed after linking: its aliases come from the kernel build (`make KSYMTREE=ksymtree` with contrib/kbuild\'s patch)';

export async function applyTree(opts: ApplyRunOptions): Promise<RunReport> {
  if (opts.resign && opts.stripSignature) throw new FatalError('--resign and --strip-signature exclude each other');
  if (opts.revert && (opts.resign || opts.stripSignature)) {
    throw new FatalError('--revert restores the original file, signature included: it takes neither --resign nor --strip-signature');
  }
  if (opts.revert) return runRevert(opts);
  const dbPath = indexPathToRead(opts.db, opts.tree);
  const lock = opts.dryRun ? null : lockIndex(dbPath);
  let db: Db;
  try {
    db = opts.dryRun ? openIndexDb(dbPath) : openIndexForWriting(dbPath);
  } catch (e) {
    lock?.release();
    throw e;
  }
  let signer: Signer | null = null;
  try {
    const objects = readObjects(db);
    const aliases = aliasesToApply(db);
    const where = locate(objects, opts.tree);
    const lines: string[] = [];
    const notes: string[] = [];
    const tasks: (ModuleTask & { id: number })[] = [];
    let elsewhere = 0;
    const seenFiles = new Set<string>();
    for (const o of objects) {
      const list = aliases.get(o.id) ?? [];
      if (o.kind === 'vmlinux') {
        if (list.length) lines.push(['skipped', String(list.length), o.path, VMLINUX_NOTE].join('\t'));
        continue;
      }
      const path = where.get(o.id);
      if (!path) {
        if (list.length) elsewhere++;
        continue;
      }
      // Two paths to one file (a symlink beside its target) must not be rewritten twice at once.
      const real = realOrSelf(path);
      if (seenFiles.has(real)) continue;
      seenFiles.add(real);
      tasks.push({ id: o.id, path, aliases: list, buildId: o.build_id });
    }
    const policy: SignaturePolicy = opts.resign ? 'resign' : opts.stripSignature ? 'strip' : 'refuse';
    const config = indexedConfig(db);
    if (policy === 'strip' && config?.options.CONFIG_MODULE_SIG_FORCE === 'y') {
      throw new FatalError(`--strip-signature: the kernel is built with CONFIG_MODULE_SIG_FORCE=y (${describeConfig(config)}): `
        + 'it refuses unsigned modules; give --resign KEY CERT with a key the kernel trusts');
    }
    if (opts.resign && !opts.dryRun) {
      signer = new Signer({ signFile: findSignFile(opts.signFile), key: opts.resign[0], cert: opts.resign[1], hash: opts.signHash ?? null });
    }
    const applyOpts: ApplyOptions = { dryRun: opts.dryRun, policy, signer };
    const progress = new Progress(tasks.length, opts.dryRun ? 'apply --dry-run' : 'apply', opts.quiet);
    // Each module is recorded as soon as it is written: a run killed half-way leaves an index that knows
    // every module it rewrote (verify and a re-run start from the truth).
    const recordOne = opts.dryRun ? null : recorder(db);
    const outcomes = await pool(tasks, opts.jobs, async (t) => {
      const o = await applyModule(t, applyOpts);
      recordOne?.(t, o);
      return o;
    }, (t) => progress.tick(t.path));
    progress.clear();
    const shown = outcomes.filter((o) => o.aliases > 0 || o.action !== 'unchanged');
    for (const o of shown) lines.push(line(o));
    const count = (a: string) => shown.filter((o) => o.action === a).length;
    const totalAliases = shown.filter((o) => o.action === 'applied' || o.action === 'would-apply' || o.action === 'unchanged')
      .reduce((n, o) => n + o.aliases, 0);
    const parts = opts.dryRun
      ? [`${count('would-apply')} would be rewritten`, `${count('unchanged')} already applied`, `${count('would-revert')} would be reverted (no aliases left in the index)`]
      : [`${count('applied')} rewritten`, `${count('unchanged')} already applied`, `${count('reverted')} reverted (no aliases left in the index)`];
    notes.push(`${shown.length} modules with aliases or applied: ${parts.join(', ')}, ${count('refused')} refused, ${count('failed')} failed; `
      + `${totalAliases} aliases${opts.dryRun ? ' (dry run: nothing written)' : ''} -> index ${dbPath}`);
    if (elsewhere) notes.push(`${elsewhere} indexed modules with aliases are not under ${opts.tree}; left out`);
    const refusedSigned = outcomes.filter((o) => o.action === 'refused' && o.reason?.startsWith('signed module')).length;
    if (refusedSigned) notes.push(`${refusedSigned} signed modules refused: give --resign KEY CERT or --strip-signature`);
    return { lines, notes, outcomes, incomplete: outcomes.some((o) => o.action === 'refused' || o.action === 'failed') };
  } finally {
    signer?.close();
    db.close();
    lock?.release();
  }
}

/**
 * The lock `index` takes too: one run at a time writes an index and the modules it lists (two `apply` on
 * one tree, or `index` while `apply` rewrites it, get a clear error instead of interleaving).
 */
function lockIndex(dbPath: string): Lock | null {
  return existsSync(dbPath) ? acquireLock(`${dbPath}.lock`, `the index ${dbPath} and its modules`) : null;
}

/** Records one module's outcome in the `applied` table (its own transaction). */
function recorder(db: Db): (task: ModuleTask & { id: number }, o: Outcome) => void {
  const applied = new AppliedTable(db);
  return (task, o) => {
    if ((o.action === 'applied' || o.action === 'unchanged') && o.aliases > 0 && o.newSha256 && o.originalSha256) {
      const signature = o.signature === 'kept' ? 'none' : o.signature ?? 'none';
      applied.record({ path: o.realPath, objectId: task.id, aliasCount: o.aliases, compression: o.compression ?? 'none', signature,
        originalSha256: o.originalSha256, newSha256: o.newSha256 }, new Date().toISOString());
    } else if (o.action === 'reverted' || (o.action === 'unchanged' && o.aliases === 0)) {
      applied.forget(o.realPath);
    }
  };
}

/** `apply --revert`: every module of TREE (or of the index) that carries aliases gets its original bytes back. */
async function runRevert(opts: ApplyRunOptions): Promise<RunReport> {
  // With a TREE the files' own markers suffice: the index is updated when there is one.
  let dbPath = '';
  try {
    dbPath = indexPathToRead(opts.db, opts.tree);
  } catch (e) {
    if (!opts.tree) throw e;
  }
  const haveDb = dbPath !== '';
  const lock = opts.dryRun || !haveDb ? null : lockIndex(dbPath);
  try {
    return await revertAll(opts, dbPath, haveDb);
  } finally {
    lock?.release();
  }
}

async function revertAll(opts: ApplyRunOptions, dbPath: string, haveDb: boolean): Promise<RunReport> {
  let paths: string[];
  if (opts.tree) {
    if (!existsSync(opts.tree) || !statSync(opts.tree).isDirectory()) throw new FatalError(`${opts.tree}: not a directory`);
    paths = walkTree(opts.tree).objects.map((o) => o.path).filter((p) => !p.endsWith('/vmlinux') && p !== 'vmlinux');
  } else {
    const db = openIndexDb(dbPath);
    try {
      paths = modulePaths(db);
    } finally {
      db.close();
    }
  }
  const unique = new Set<string>();
  paths = paths.filter((p) => {
    const real = realOrSelf(p);
    if (unique.has(real)) return false;
    unique.add(real);
    return true;
  });
  const progress = new Progress(paths.length, opts.dryRun ? 'revert --dry-run' : 'revert', opts.quiet);
  // Each reverted module leaves the `applied` table as soon as it is written back (see applyTree).
  const db = !opts.dryRun && haveDb ? openIndexForWriting(dbPath) : null;
  let outcomes: Outcome[];
  try {
    const applied = db && new AppliedTable(db);
    outcomes = await pool(paths, opts.jobs, async (p) => {
      const o = await revertModule(p, opts.dryRun);
      if (o.action === 'reverted' || o.action === 'not-applied') applied?.forget(o.realPath);
      return o;
    }, (p) => progress.tick(p));
  } finally {
    db?.close();
  }
  progress.clear();
  const shown = outcomes.filter((o) => o.action !== 'not-applied');
  const count = (a: string) => shown.filter((o) => o.action === a).length;
  const notes = [`${paths.length} modules looked at: ${opts.dryRun ? `${count('would-revert')} would be reverted` : `${count('reverted')} reverted`}, `
    + `${count('refused')} refused, ${count('failed')} failed${opts.dryRun ? ' (dry run: nothing written)' : ''}${haveDb && !opts.dryRun ? ` -> index ${dbPath}` : ''}`];
  return { lines: shown.map(line), notes, outcomes, incomplete: shown.some((o) => o.action === 'refused' || o.action === 'failed') };
}

export interface VerifyOptions {
  readonly tree?: string;
  readonly db?: string;
}

/**
 * `ksymtree verify`: every module the index gives aliases (under TREE when given) must have been applied
 * and still hash to what apply wrote. Lines: `changed`, `missing`, `not-applied`, `unrecorded`.
 */
export async function verifyTree(opts: VerifyOptions): Promise<RunReport> {
  const dbPath = indexPathToRead(opts.db, opts.tree);
  const db = openIndexDb(dbPath);
  try {
    const objects = modulesWithAliases(db);
    const applied = appliedFiles(db);
    const where = locate(objects, opts.tree);
    const lines: string[] = [];
    let ok = 0;
    for (const o of objects) {
      const path = where.get(o.id);
      if (!path) continue;
      let real: string;
      try {
        real = realpathSync(path);
      } catch {
        lines.push(`missing\t${path}`);
        continue;
      }
      const row = applied.get(real);
      if (!row) {
        // A module written by an apply that was killed before it could record it.
        if (await carriesAliases(real)) lines.push(`unrecorded\t${path}\tcarries aliases from an interrupted apply: run apply again to record it`);
        else lines.push(`not-applied\t${path}`);
        continue;
      }
      const sha = createHash('sha256').update(readFileSync(real)).digest('hex');
      if (sha !== row.new_sha256) lines.push(`changed\t${path}\tsha256 ${sha}, apply wrote ${row.new_sha256}`);
      else ok++;
    }
    const count = (s: string) => lines.filter((l) => l.startsWith(`${s}\t`)).length;
    const notes = [`${ok + lines.length} modules with aliases: ${ok} match the index, ${count('changed')} changed since apply, `
      + `${count('missing')} missing, ${count('not-applied')} not applied, ${count('unrecorded')} applied but not recorded (index ${dbPath})`];
    return { lines, notes, outcomes: [], incomplete: lines.length > 0 };
  } finally {
    db.close();
  }
}
