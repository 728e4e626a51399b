// The index pipeline (tree → scan → sites → db → aliases): scan every object in the worker pool, pair debug copies
// by build-id, find the duplicates' DWARF sites, copy the shards' rows and name aliases, committed atomically.
import { mkdirSync, rmSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { FatalError, environmentProblem } from '../errors.js';
import { commitTemp, removeStaleTemps, tempPathFor } from '../io/atomic.js';
import { Progress } from '../io/progress.js';
import { createIndexDb, type Db, normalizeHeader } from '../db/db.js';
import { firstErrorPerFile, kernelRelease } from '../db/queries.js';
import { type DebugLink, IndexWriter } from '../db/writer.js';
import { type AliasSummary, writeAliases } from '../analyse/alias-pass.js';
import { DebuginfodClient, type DebuginfodConfig, type DebuginfodSummary, found } from '../debuginfod/client.js';
import { SitesPass } from './sites-pass.js';
import { maxSymbolLength } from '../alias/naming.js';
import { WorkerPool } from './pool.js';
import type { IndexTask, IndexedObject } from '../scan/result.js';
import { pairDebugCopies, pairingKey } from '../tree/debug-pairing.js';
import type { FoundObject, WalkProblem } from '../tree/walk.js';
import { TOOL_VERSION } from '../version.js';
import { ASSUMED_CONFIG, type KallsymsRules, type KernelConfig, configMeta, kallsymsRules } from '../config/kernel-config.js';
import { acquireLock } from '../db/lock.js';

/** One index run, its inputs resolved by the command (src/commands/index.ts). */
export interface IndexPlan {
  /** The trees and files given (recorded in the index's meta). */
  readonly trees: readonly string[];
  /** The objects to index, in walk order: object i gets id i + 1. */
  readonly objects: FoundObject[];
  readonly problems: readonly WalkProblem[];
  /** The debug tree whose copies give installed objects their DWARF, and its objects. */
  readonly debugDir: string | null;
  readonly debugFiles: readonly FoundObject[];
  readonly dbPath: string;
  /** The kernel's configuration, when given or found; null: vmlinux (scanned first) tells its own. */
  readonly config: KernelConfig | null;
  readonly jobs: number;
  readonly quiet: boolean;
  /** Pass 2 (sites of in-object duplicates, sympos, aliases); off with --no-aliases. */
  readonly aliases: boolean;
  /** A site for every function and variable, not only for duplicates. */
  readonly allSites: boolean;
  readonly sourceRoot?: string;
  /** Servers to fetch the debug files of objects without local DWARF from (null: no network at all). */
  readonly debuginfod?: DebuginfodConfig | null;
  /** When the run began (process.hrtime.bigint()), for its phase times. */
  readonly started: bigint;
}

export interface IndexSummary {
  readonly dbPath: string;
  readonly objects: number;
  readonly symbols: number;
  readonly errors: number;
  /** The first error of each failed file, as `ksymtree errors` words it. */
  readonly failures: readonly string[];
  readonly sites: number;
  readonly aliases: number;
  readonly shortened: AliasSummary['shortened'];
  /** The configuration whose kallsyms rules were applied, and where it came from. */
  readonly config: KernelConfig;
  readonly seconds: number;
  /** Wall seconds of each phase, in run order (printed by `index --timings`, read by the bench). */
  readonly phases: readonly { phase: string; seconds: number }[];
  /** What the debuginfod servers gave, and the objects none of them had a debug file for. */
  readonly debuginfod: (DebuginfodSummary & { readonly notFoundPaths: readonly string[] }) | null;
}

/** The site work of one scanned object; `entries` for a vmlinux whose rows are its kallsyms entries. */
interface SiteWork {
  readonly path: string;
  readonly buildId: string | null;
  /** The object carries its own DWARF. */
  readonly ownDwarf: boolean;
  readonly indexes: readonly number[];
  readonly entries: IndexedObject['siteEntries'];
}

/**
 * The order to start scans in: vmlinux first, then walk order. vmlinux is the longest scan and site task
 * and sorts last in a tree; started last it would be the tail of the run. (Largest-first over every object
 * measured slower: the big modules' site tasks then run before the workers' code is warmed up.)
 */
function scanOrder(objects: readonly FoundObject[]): number[] {
  const isVmlinux = (i: number) => (isKernelImage(objects[i]) ? 0 : 1);
  return objects.map((_, i) => i).sort((a, b) => isVmlinux(a) - isVmlinux(b) || a - b);
}

/** vmlinux, or a boot image given as a file (`vmlinuz-<release>`). */
function isKernelImage(o: FoundObject): boolean {
  return o.relPath === 'vmlinux' || /^vmlinuz(-|$)/.test(basename(o.relPath));
}

function selfLink(o: IndexedObject): DebugLink {
  return o.elf?.hasDwarf ? { path: o.path, pairing: 'self' } : { path: null, pairing: null };
}

export async function buildIndex(opts: IndexPlan): Promise<IndexSummary> {
  const { started, objects, problems, debugDir, debugFiles, dbPath } = opts;
  const phases: { phase: string; seconds: number }[] = [];
  let phaseStart = started;
  const endPhase = (phase: string) => {
    const now = process.hrtime.bigint();
    phases.push({ phase, seconds: Number(now - phaseStart) / 1e9 });
    phaseStart = now;
  };
  const lock = acquireLock(`${dbPath}.lock`, `the index ${dbPath}`);
  const tmp = tempPathFor(dbPath);
  /** The workers' shards (src/db/shard.ts): rows on their way into the index. */
  const shardDir = `${tmp}-shards`;
  /** The index being written, its SQLite files, and (unless the index is about to be committed) the shards. */
  const removeTemp = (withIndex = true) => {
    rmSync(shardDir, { recursive: true, force: true });
    if (withIndex) for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${tmp}${suffix}`, { force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    removeTemp();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let db: Db;
  try {
    removeTemp();
    removeStaleTemps(dbPath);
    db = createIndexDb(tmp);
    mkdirSync(shardDir);
  } catch (e) {
    lock.release();
    const problem = environmentProblem(e);
    throw problem ? new FatalError(`cannot create the new index beside ${dbPath}: ${problem}`) : e;
  }
  const pool = new WorkerPool(opts.jobs);
  let sitesPass: SitesPass | null = null;
  try {
    const writer = new IndexWriter(db);
    const siteOptions = opts.aliases || opts.allSites ? { all: opts.allSites, sourceRoot: opts.sourceRoot } : null;
    const debugCopies = new Map(debugFiles.map((f) => [pairingKey(f.relPath), f.path]));
    const task = (i: number, rules: KallsymsRules | null): IndexTask => ({
      path: objects[i].path, rules, objectId: i + 1, shardDir, allSites: opts.allSites, sites: siteOptions,
      debugTree: debugDir !== null, debugCopy: debugCopies.get(pairingKey(objects[i].relPath)) ?? null,
    });
    const progress = new Progress(objects.length, 'index', opts.quiet);
    const pairing: { relPath: string; buildId: string | null }[] = new Array(objects.length);
    /** Debug copies' build-ids the workers read while visiting their objects. */
    const debugCopyIds = new Map<string, string | null>();
    sitesPass = siteOptions ? new SitesPass(pool, writer, shardDir, { ...siteOptions, quiet: opts.quiet }) : null;
    const debuginfod = sitesPass && opts.debuginfod ? new DebuginfodClient(opts.debuginfod) : null;
    if (debuginfod) progress.note = () => debuginfod.status();
    const fetches: Promise<void>[] = [];
    let fetchFailure: unknown = null;
    const notFoundPaths: string[] = [];
    // With a debug tree, an object's DWARF is known only after pairing; its requests wait until then.
    const waiting: SiteWork[] = [];
    /** Sites of object i from `dwarf` (its own path, or a debug copy), or with none from what the object has. */
    const submitSites = (i: number, w: SiteWork, dwarf: string | null) => {
      // A vmlinux known only from its kallsyms entries has nothing to search without a debug file; a stripped
      // object still names its units from its STT_FILE symbols.
      if (w.entries && !dwarf) return;
      sitesPass!.submit(i + 1, w.path, dwarf ?? w.path, w.indexes, w.entries ?? undefined);
    };
    /** No DWARF on disk: the debuginfod servers are asked by build-id, when there are any. */
    const withoutLocalDwarf = (i: number, w: SiteWork) => {
      if (!debuginfod || !w.buildId) return submitSites(i, w, null);
      const buildId = w.buildId;
      fetches.push(debuginfod.debuginfo(buildId, basename(w.path)).then((r) => {
        if (found(r)) {
          writer.setDebugLink(i + 1, { path: r.path, pairing: 'build-id' });
          return submitSites(i, w, r.path);
        }
        if (r.status === 'not-found') notFoundPaths.push(w.path);
        else writer.addError(i + 1, w.path, { offset: 0, kind: 'debuginfod', message: `${w.path}: debuginfod: debug file of build-id ${buildId}: ${r.message}` });
        submitSites(i, w, null);
      }).catch((e: unknown) => {
        fetchFailure ??= e;
      }));
    };
    // Object ids follow the sorted walk order, whatever order the workers finish in.
    const onScanned = (i: number, scanned: IndexedObject) => {
      const self = selfLink(scanned);
      writer.addObject(i + 1, scanned, self);
      pairing[i] = { relPath: objects[i].relPath, buildId: scanned.elf?.buildId ?? null };
      const copy = debugCopies.get(pairingKey(objects[i].relPath));
      if (copy && scanned.debugCopyBuildId !== undefined) debugCopyIds.set(copy, scanned.debugCopyBuildId);
      const indexes = sitesPass ? scanned.siteRequests : [];
      if (scanned.sitesFound) sitesPass!.found(i + 1, scanned.sitesFound.dwarfPath, scanned.sitesFound);
      else if (indexes.length) {
        const elf = scanned.elf!;
        const w = { path: scanned.path, buildId: elf.buildId, ownDwarf: elf.hasDwarf, indexes, entries: scanned.siteEntries };
        if (debugDir) waiting[i] = w;
        else if (w.ownDwarf) submitSites(i, w, w.path);
        else withoutLocalDwarf(i, w);
      }
      progress.tick(scanned.path);
    };
    let order = scanOrder(objects);
    let config = opts.config;
    // No .config anywhere: vmlinux (scanned first) tells its own before any module is read by its rules.
    if (!config && objects.length && isKernelImage(objects[order[0]])) {
      await pool.scanAll([task(order[0], null)], (_, scanned) => {
        onScanned(order[0], scanned);
        config = scanned.elf?.config ?? null;
      }, [0]);
      order = order.slice(1);
    }
    const kernelConfig: KernelConfig = config ?? ASSUMED_CONFIG;
    const rules = kallsymsRules(kernelConfig);
    await pool.scanAll(objects.map((_, i) => task(i, rules)), onScanned, order);
    progress.clear();
    endPhase('scan');
    for (const p of problems) writer.addError(null, p.path, { offset: 0, kind: 'walk', message: p.message });
    if (debugDir) {
      const links = await pairDebugCopies(pairing, debugFiles, (paths) => pool.buildIds(paths), debugCopyIds);
      links.forEach((link, i) => {
        if (link.path) writer.setDebugLink(i + 1, link);
        const w = waiting[i];
        if (!w) return;
        if (link.path || w.ownDwarf) submitSites(i, w, link.path ?? w.path);
        else withoutLocalDwarf(i, w);
      });
      endPhase('debug pairing');
    }
    if (fetches.length) {
      const downloads = new Progress(0, 'debuginfod', opts.quiet);
      const timer = setInterval(() => downloads.show(debuginfod!.status()), 250);
      try {
        await Promise.all(fetches);
      } finally {
        clearInterval(timer);
        downloads.clear();
      }
      if (fetchFailure) throw fetchFailure;
      endPhase('debuginfod');
    }
    // The merge (and the query indexes after it) starts after the last site task: it blocks this thread,
    // which also hands the workers their tasks.
    const sites = sitesPass ? await sitesPass.done() : 0;
    if (sitesPass) endPhase('sites');
    writer.finishRows();
    removeTemp(false);
    endPhase('merge');
    const aliases = opts.aliases ? writeAliases(db, maxSymbolLength(kernelRelease(db) ?? kernelConfig.version)) : { aliases: 0, shortened: [] };
    if (opts.aliases) endPhase('aliases');
    writer.setMeta({
      tool_version: TOOL_VERSION,
      inputs: JSON.stringify(opts.trees.map((t) => resolve(t))),
      debug_dir: debugDir ? resolve(debugDir) : '',
      passes: opts.aliases ? 'scan,sites,aliases' : opts.allSites ? 'scan,sites' : 'scan',
      all_sites: opts.allSites ? '1' : '0',
      ...configMeta(kernelConfig),
    });
    const failures = writer.errorCount ? firstErrorPerFile(db) : [];
    db.close();
    normalizeHeader(tmp);
    commitTemp(tmp, dbPath);
    endPhase('commit');
    return {
      dbPath, objects: objects.length, symbols: writer.symbolCount, errors: writer.errorCount, failures, sites,
      aliases: aliases.aliases, shortened: aliases.shortened, config: kernelConfig, seconds: Number(process.hrtime.bigint() - started) / 1e9, phases,
      debuginfod: debuginfod ? { ...debuginfod.summary(), notFoundPaths: notFoundPaths.sort() } : null,
    };
  } catch (e) {
    if (db.open) db.close();
    removeTemp();
    const problem = environmentProblem(e);
    if (problem) throw new FatalError(`cannot write the new index beside ${dbPath}: ${problem}; the previous index is unchanged`);
    throw e;
  } finally {
    await sitesPass?.settle();
    await pool.close();
    lock.release();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
