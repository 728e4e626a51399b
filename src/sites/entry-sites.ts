// Sites of a vmlinux known only from its kallsyms entries (a vmlinuz): each copy is found in its debug file's
// .symtab by name and address (the kallsyms table's own twins), then searched as that symbol.
import { ObjectError } from '../errors.js';
import { matchSymtab } from '../kallsyms/symtab-match.js';
import { findSites, type FindSitesOptions } from './find-sites.js';
import { openObject } from './object.js';
import type { SiteResult } from './types.js';

export interface EntryCopy {
  /** The copy's row index in the object (its kallsyms position + 1). */
  readonly symtabIndex: number;
  readonly name: string;
  /** 16 hex digits. */
  readonly address: string;
}

export async function findEntrySites(dwarfPath: string, copies: readonly EntryCopy[], options: FindSitesOptions = {}): Promise<SiteResult> {
  let twins: Int32Array;
  try {
    const dbg = await openObject(dwarfPath);
    try {
      if (!dbg.symtab) throw new ObjectError(dwarfPath, dbg.h.shoff, 'expected a SHT_SYMTAB section in the debug file, it has none');
      twins = matchSymtab(copies.map((c) => ({ name: c.name, letter: '', address: c.address })), dbg.symtab).symbolIndex;
    } finally {
      dbg.close();
    }
  } catch (e) {
    if (!(e instanceof ObjectError)) throw e;
    return { sites: copies.map(noSite), errors: [{ offset: e.offset, kind: e.kind, message: e.message }] };
  }
  const matched = copies.map((_, k) => k).filter((k) => twins[k] >= 0);
  // findSites answers in request order.
  const found = await findSites(dwarfPath, dwarfPath, matched.map((k) => ({ symtabIndex: twins[k] })), options);
  const sites = copies.map(noSite);
  matched.forEach((k, j) => {
    sites[k] = { ...found.sites[j], symtabIndex: copies[k].symtabIndex };
  });
  const errors = [...found.errors];
  const missing = copies.length - matched.length;
  if (missing) {
    const first = copies[twins.findIndex((i) => i < 0)].name;
    errors.push({ offset: 0, kind: 'format', message: `${dwarfPath}: ${missing} kallsyms entries have no symbol of the same name and address in the debug file (first: ${first})` });
  }
  return { sites, errors };
}

function noSite(c: EntryCopy): SiteResult['sites'][number] {
  return { symtabIndex: c.symtabIndex, declFile: null, declLine: null, unit: null, source: 'none' };
}
