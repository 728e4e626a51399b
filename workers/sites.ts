// piscina entry point: one task = one object whose symbols need definition sites; the work lives in src/sites.
import { findSites } from '../src/sites/find-sites.js';
import type { SiteResult, SitesTask } from '../src/sites/types.js';

export default function sites(task: SitesTask): Promise<SiteResult> {
  return findSites(task.objectPath, task.dwarfPath, task.requests, { sourceRoot: task.sourceRoot, all: task.all });
}
