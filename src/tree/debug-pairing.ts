// Each installed object paired with its debug copy (tree → open): the same relative path with the same GNU
// build-id, else any debug file with that build-id, else the same path when a build-id is missing.
import type { DebugLink } from '../db/writer.js';
import { type FoundObject, walkTree } from './walk.js';

export interface PairingInput {
  readonly relPath: string;
  readonly buildId: string | null;
}

/** Installed `kernel/fs/x.ko.xz` and debug `kernel/fs/x.ko` are the same object. */
export function pairingKey(relPath: string): string {
  return relPath.replace(/\.ko\.(gz|xz|zst)$/, '.ko');
}

/**
 * Pairs each installed object with its debug copy: first the debug file at the same relative path when its
 * build-id agrees, then any debug file with that build-id, then (only when one side has no build-id) the
 * same relative path. Build-ids of debug files are read lazily, as few as possible; `known` are those read
 * already (by path; null: the file has none).
 */
export async function pairDebugCopies(
  objects: readonly PairingInput[],
  debugFiles: readonly FoundObject[],
  readBuildIds: (paths: string[]) => Promise<(string | null)[]>,
  known: Map<string, string | null> = new Map(),
): Promise<DebugLink[]> {
  const byKey = new Map(debugFiles.map((f) => [pairingKey(f.relPath), f.path]));
  const learn = async (paths: string[]) => {
    const todo = [...new Set(paths.filter((p) => !known.has(p)))];
    const ids = await readBuildIds(todo);
    todo.forEach((p, i) => known.set(p, ids[i]));
  };

  const candidates = objects.map((o) => byKey.get(pairingKey(o.relPath)) ?? null);
  await learn(candidates.filter((c, i): c is string => c !== null && objects[i].buildId !== null));
  const links: (DebugLink | null)[] = objects.map((o, i) => {
    const c = candidates[i];
    return c && o.buildId && known.get(c) === o.buildId ? { path: c, pairing: 'build-id' } : null;
  });

  if (links.some((l, i) => !l && objects[i].buildId)) {
    await learn(debugFiles.map((f) => f.path));
    const byBuildId = new Map<string, string>();
    for (const f of debugFiles) {
      const id = known.get(f.path);
      if (id && !byBuildId.has(id)) byBuildId.set(id, f.path);
    }
    objects.forEach((o, i) => {
      const found = o.buildId ? byBuildId.get(o.buildId) : undefined;
      if (!links[i] && found) links[i] = { path: found, pairing: 'build-id' };
    });
  }

  return objects.map((o, i) => {
    const link = links[i];
    if (link) return link;
    const c = candidates[i];
    const eitherLacksId = !o.buildId || (c !== null && !known.get(c));
    return c && eitherLacksId ? { path: c, pairing: 'path' } : { path: null, pairing: null };
  });
}

export function debugTreeObjects(debugDir: string): FoundObject[] {
  return walkTree(debugDir).objects;
}
