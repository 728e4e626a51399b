// piscina entry point: one task = one object whose symbols need definition sites; the work lives in src/sites.
import { findSites } from '../src/sites/find-sites.js';
import type { SiteRequest, SiteResult } from '../src/sites/types.js';

export interface SitesTask {
  readonly objectPath: string;
  readonly dwarfPath: string;
  readonly requests: SiteRequest[];
  readonly sourceRoot?: string;
  readonly all?: boolean;
}

export default function sites(task: SitesTask): Promise<SiteResult> {
  return findSites(task.objectPath, task.dwarfPath, task.requests, { sourceRoot: task.sourceRoot, all: task.all });
}
