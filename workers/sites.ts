// piscina entry point: one task = one object whose symbols need definition sites; the work lives in src/sites,
// the rows go to this thread's shard (src/index/shard.ts).
import { findSites } from '../src/sites/find-sites.js';
import { Shard } from '../src/index/shard.js';
import type { SitesTask, SitesDone } from '../src/sites/types.js';

export default async function sites(task: SitesTask): Promise<SitesDone> {
  const r = await findSites(task.objectPath, task.dwarfPath, task.requests, { sourceRoot: task.sourceRoot, all: task.all });
  Shard.in(task.shardDir).addSites(task.objectId, r.sites);
  return { sites: r.sites.length, errors: r.errors };
}
