// piscina entry points: thin wrappers, the work itself lives in src/scan (reading) and src/db/shard.ts (rows).
import { readBuildId } from '../src/scan/build-id.js';
import { scanObject } from '../src/scan/scan-object.js';
import { entriesOf, siteRequests } from '../src/analyse/duplicates.js';
import { Shard } from '../src/db/shard.js';
import type { IndexTask, IndexedObject } from '../src/scan/result.js';

/** One object of an index run: its rows go to this thread's shard, its facts back to the main thread. */
export default async function scan(task: IndexTask): Promise<IndexedObject> {
  const { elf, ...object } = await scanObject(task.path, task.rules);
  if (!elf) return { ...object, elf: null, shard: null, siteRequests: [], siteEntries: null };
  const shard = Shard.in(task.shardDir);
  shard.addScanned(task.objectId, elf);
  const { sections, symbols, kallsyms, ...facts } = elf;
  const requests = siteRequests(symbols, task.allSites);
  return { ...object, elf: { ...facts, symbolCount: symbols.count }, shard: shard.file, siteRequests: requests, siteEntries: elf.hasSymtab ? null : entriesOf(symbols, requests) };
}

export function buildId(path: string): Promise<string | null> {
  return readBuildId(path);
}
