// piscina entry points: thin wrappers, the work itself lives in src/scan (reading), src/sites (definition sites)
// and src/db/shard.ts (rows).
import { readBuildId } from '../src/scan/build-id.js';
import { scanObject } from '../src/scan/scan-object.js';
import type { ScannedElf } from '../src/scan/result.js';
import { entriesOf, siteRequests } from '../src/analyse/duplicates.js';
import { findSites } from '../src/sites/find-sites.js';
import { openedFrom } from '../src/sites/object.js';
import type { SiteResult } from '../src/sites/types.js';
import { Shard } from '../src/db/shard.js';
import type { ByteSource } from '../src/io/source.js';
import type { IndexTask, IndexedObject } from '../src/scan/result.js';

/**
 * One object of an index run, opened once: its rows go to this thread's shard, its facts back to the main
 * thread; the sites of its duplicates are found in the same visit when its DWARF is known now.
 */
export default async function scan(task: IndexTask): Promise<IndexedObject> {
  let requests: number[] = [];
  let found: { dwarfPath: string; result: SiteResult } | null = null;
  let debugCopyBuildId: string | null | undefined;
  const { elf, ...object } = await scanObject(task.path, task.rules, false, async (image, scanned) => {
    requests = siteRequests(scanned.symbols, task.allSites);
    // Read here once, the pairing after the scan uses it too (it is its first question).
    if (task.debugCopy && scanned.buildId) debugCopyBuildId = await readBuildId(task.debugCopy);
    const dwarfPath = task.sites && requests.length ? dwarfNow(task, scanned, debugCopyBuildId ?? null) : null;
    if (dwarfPath) found = { dwarfPath, result: await sitesInVisit(task, image, dwarfPath, requests) };
  });
  if (!elf) return { ...object, elf: null, shard: null, siteRequests: [], siteEntries: null, sitesFound: null };
  const shard = Shard.in(task.shardDir);
  shard.addScanned(task.objectId, elf);
  let sitesFound: IndexedObject['sitesFound'] = null;
  if (found) {
    const { dwarfPath, result } = found as { dwarfPath: string; result: SiteResult };
    shard.addSites(task.objectId, result.sites);
    sitesFound = { dwarfPath, sites: result.sites.length, shard: shard.file, errors: result.errors };
  }
  const { sections, symbols, kallsyms, ...facts } = elf;
  return {
    ...object, elf: { ...facts, symbolCount: symbols.count }, shard: shard.file, siteRequests: requests,
    siteEntries: elf.hasSymtab ? null : entriesOf(symbols, requests), sitesFound, ...(debugCopyBuildId === undefined ? {} : { debugCopyBuildId }),
  };
}

/**
 * The DWARF to find the sites in while the object is open: its own, without a debug tree; with one, the
 * debug copy at the same path when the build-ids agree (the first rule of tree/debug-pairing.ts). Otherwise
 * null: the main thread pairs the object after the scan and sends a site task.
 */
function dwarfNow(task: IndexTask, elf: ScannedElf, debugCopyBuildId: string | null): string | null {
  if (!elf.hasSymtab) return null;
  if (!task.debugCopy) return task.debugTree ? null : elf.hasDwarf ? task.path : null;
  return elf.buildId && debugCopyBuildId === elf.buildId ? task.debugCopy : null;
}

async function sitesInVisit(task: IndexTask, image: ByteSource, dwarfPath: string, requests: readonly number[]): Promise<SiteResult> {
  const asked = requests.map((symtabIndex) => ({ symtabIndex }));
  let opened;
  try {
    opened = openedFrom(task.path, image);
  } catch {
    // A .symtab the scan read only in part: the site finder opens the file itself and records why it fails.
    return findSites(task.path, dwarfPath, asked, task.sites!);
  }
  return findSites(opened, dwarfPath, asked, task.sites!);
}

export function buildId(path: string): Promise<string | null> {
  return readBuildId(path);
}
