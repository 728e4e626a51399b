// piscina entry point: one task = one object whose symbols need definition sites; the work lives in src/sites,
// the rows go to this thread's shard (src/db/shard.ts).
import { findEntrySites } from '../src/sites/entry-sites.js';
import { findSites } from '../src/sites/find-sites.js';
import { Shard } from '../src/db/shard.js';
import type { SiteResult, SitesTask, SitesDone } from '../src/sites/types.js';

function find(task: SitesTask): Promise<SiteResult> {
  const options = { sourceRoot: task.sourceRoot, all: task.all };
  if (task.entries) {
    const entries = task.entries;
    return findEntrySites(task.dwarfPath, task.requests.map((r, k) => ({ symtabIndex: r.symtabIndex, ...entries[k] })), options);
  }
  return findSites(task.objectPath, task.dwarfPath, task.requests, options);
}

export default async function sites(task: SitesTask): Promise<SitesDone> {
  const r = await find(task);
  const shard = Shard.in(task.shardDir);
  shard.addSites(task.objectId, r.sites);
  return { sites: r.sites.length, shard: shard.file, errors: r.errors };
}
