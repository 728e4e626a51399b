/**
 * `catalog add`: merges one build's index into the catalogue, in one transaction (an interrupted add leaves
 * the catalogue as it was). Each object becomes an objset: its kallsyms names with their copy counts and, for
 * names with 2+ copies, each copy's alias and site in walk order; an objset already stored (same hash) is
 * shared, so unchanged modules cost one row per build.
 */
import { createHash } from 'node:crypto';
import { EM_386, EM_AARCH64, EM_ARM, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64 } from '../elf/constants.js';
import type { Db } from '../db/db.js';
import { CopyIndex, type IndexedObjectRef, type KallsymsCopy } from '../db/kallsyms-copies.js';
import { objectName } from '../db/alias-rows.js';

const ARCH: Record<number, string> = {
  [EM_X86_64]: 'x86_64', [EM_386]: 'i386', [EM_AARCH64]: 'aarch64', [EM_S390]: 's390x', [EM_PPC64]: 'ppc64', [EM_ARM]: 'arm', [EM_RISCV]: 'riscv',
};

export interface BuildIdentity { release: string | null; flavour: string | null; arch: string | null; build_id: string | null }

export interface AddResult extends BuildIdentity { source: string; objects: number; newObjsets: number; replaced: boolean }

/** Release, flavour, architecture and vmlinux build-id of an index. */
export function buildIdentity(index: Db, objects: readonly IndexedObjectRef[]): BuildIdentity {
  const vermagic = index.prepare('SELECT vermagic FROM objects WHERE vermagic IS NOT NULL ORDER BY id LIMIT 1').pluck().get() as string | undefined;
  const release = vermagic?.split(' ')[0] || null;
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
  const nameId = catalog.prepare('INSERT INTO names (name) VALUES (?) ON CONFLICT (name) DO UPDATE SET name = name RETURNING id').pluck();
  const findObjset = catalog.prepare('SELECT id FROM objsets WHERE hash = ?').pluck();
  const newObjset = catalog.prepare('INSERT INTO objsets (hash) VALUES (?)');
  const insName = catalog.prepare('INSERT INTO objset_names VALUES (?, ?, ?)');
  const insCopy = catalog.prepare('INSERT INTO objset_copies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const insObject = catalog.prepare('INSERT INTO build_objects VALUES (?, ?, ?)');
  const identity = id.build_id ?? source;
  let newObjsets = 0;
  let replaced = false;
  catalog.transaction(() => {
    const old = catalog.prepare('SELECT id FROM builds WHERE identity = ?').pluck().get(identity) as number | undefined;
    if (old !== undefined) {
      replaced = true;
      catalog.prepare('DELETE FROM build_objects WHERE build_id = ?').run(old);
      catalog.prepare('DELETE FROM builds WHERE id = ?').run(old);
    }
    const build = Number(catalog.prepare('INSERT INTO builds (release, flavour, arch, build_id, identity, source, objects) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id.release, id.flavour, id.arch, id.build_id, identity, source, objects.length).lastInsertRowid);
    for (const o of objects) {
      const groups = [...copies.allCopies(o)];
      const hash = createHash('sha256');
      for (const [name, cs] of groups) hash.update(`${name}\t${cs.length}\n${cs.length > 1 ? `${cs.map(line).join('\n')}\n` : ''}`);
      const digest = hash.digest('hex');
      let objset = findObjset.get(digest) as number | undefined;
      if (objset === undefined) {
        objset = Number(newObjset.run(digest).lastInsertRowid);
        newObjsets++;
        for (const [name, cs] of groups) {
          const n = nameId.get(name) as number;
          insName.run(objset, n, cs.length);
          if (cs.length > 1) for (const c of cs) insCopy.run(objset, n, c.rank, c.alias, c.decl_file, c.decl_line, c.unit, c.section, c.letter);
        }
      }
      insObject.run(build, objectName(o), objset);
    }
    // Objsets no build uses any more (a replaced build's changed objects).
    if (replaced) catalog.exec(`DELETE FROM objset_copies WHERE objset_id NOT IN (SELECT objset_id FROM build_objects);
      DELETE FROM objset_names WHERE objset_id NOT IN (SELECT objset_id FROM build_objects);
      DELETE FROM objsets WHERE id NOT IN (SELECT objset_id FROM build_objects);`);
  })();
  return { ...id, source, objects: objects.length, newObjsets, replaced };
}
