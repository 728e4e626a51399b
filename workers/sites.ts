// piscina entry point: one task = one object whose symbols need definition sites; the work lives in src/sites.
import { findEntrySites } from '../src/sites/entry-sites.js';
import { findSites } from '../src/sites/find-sites.js';
import type { SiteResult, SitesTask } from '../src/sites/types.js';

export default function sites(task: SitesTask): Promise<SiteResult> {
  const options = { sourceRoot: task.sourceRoot, all: task.all };
  if (task.entries) {
    const entries = task.entries;
    return findEntrySites(task.dwarfPath, task.requests.map((r, k) => ({ symtabIndex: r.symtabIndex, ...entries[k] })), options);
  }
  return findSites(task.objectPath, task.dwarfPath, task.requests, options);
}
