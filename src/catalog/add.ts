/**
 * `catalog add`: merges one build's index into the catalogue, in one transaction (an interrupted add leaves
 * the catalogue as it was). Each object becomes an objset: its kallsyms names with their copy counts and, for
 * names with 2+ copies, each copy's alias and site in walk order; an objset already stored (same hash) is
 * shared, so unchanged modules cost one row per build.
 */
import { createHash } from 'node:crypto';
import { EM_386, EM_AARCH64, EM_ARM, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64 } from '../elf/constants.js';
import type { Db } from '../db/db.js';
import { type BuildIdentity, CatalogWriter } from '../db/catalog-rows.js';
import { CopyIndex, type IndexedObjectRef, type KallsymsCopy } from '../db/kallsyms-copies.js';
import { objectName } from '../db/alias-rows.js';
import { kernelRelease } from '../db/queries.js';

const ARCH: Record<number, string> = {
  [EM_X86_64]: 'x86_64', [EM_386]: 'i386', [EM_AARCH64]: 'aarch64', [EM_S390]: 's390x', [EM_PPC64]: 'ppc64', [EM_ARM]: 'arm', [EM_RISCV]: 'riscv',
};

export interface AddResult extends BuildIdentity { source: string; objects: number; newObjsets: number; replaced: boolean }

/** Release, flavour, architecture and vmlinux build-id of an index. */
export function buildIdentity(index: Db, objects: readonly IndexedObjectRef[]): BuildIdentity {
  const release = kernelRelease(index);
  const vmlinux = objects.find((o) => o.kind === 'vmlinux');
  const machine = (vmlinux ?? objects[0])?.machine;
  return {
    release,
    flavour: release ? /^\d+\.\d+[^-]*-(?:\d+-)?(.+)$/.exec(release)?.[1] ?? null : null,
    arch: machine == null ? null : ARCH[machine] ?? `EM_${machine}`,
    build_id: vmlinux?.build_id ?? null,
  };
}

const line = (c: KallsymsCopy) => [c.rank, c.alias ?? '', c.decl_file ?? '', c.decl_line ?? '', c.unit ?? '', c.section ?? '', c.letter].join('\t');

/** Merges the index `source` (opened as `index`) into `catalog`; a build already there (same identity) is replaced. */
export function addBuild(catalog: Db, index: Db, source: string): AddResult {
  const copies = new CopyIndex(index);
  const objects = copies.objects();
  const id = buildIdentity(index, objects);
  const rows = new CatalogWriter(catalog);
  const identity = id.build_id ?? source;
  let newObjsets = 0;
  let replaced = false;
  catalog.transaction(() => {
    replaced = rows.removeBuild(identity);
    const build = rows.addBuild(id, identity, source, objects.length);
    for (const o of objects) {
      const groups = [...copies.allCopies(o)];
      const hash = createHash('sha256');
      for (const [name, cs] of groups) hash.update(`${name}\t${cs.length}\n${cs.length > 1 ? `${cs.map(line).join('\n')}\n` : ''}`);
      const digest = hash.digest('hex');
      let objset = rows.objset(digest);
      if (objset === undefined) {
        objset = rows.addObjset(digest, groups);
        newObjsets++;
      }
      rows.addObject(build, objectName(o), objset);
    }
    if (replaced) rows.pruneObjsets();
  })();
  return { ...id, source, objects: objects.length, newObjsets, replaced };
}
