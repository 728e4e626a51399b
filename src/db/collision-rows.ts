// Collision classes of the duplicated names of indexed objects (every copy with an alias), by object and name.
import { type CollisionClass, type CollisionCopy, collisionClass } from '../alias/collision.js';
import type { Db } from './db.js';

/** `${object_id}\0${name}` → class, for the given objects (all objects when none are given). */
export function collisionClasses(db: Db, objectIds?: readonly number[]): Map<string, CollisionClass> {
  const sql = `SELECT a.object_id AS objectId, s.name, s.bind, t.decl_file AS declFile, t.decl_line AS declLine
    FROM aliases a JOIN symbols s ON s.object_id = a.object_id AND s.idx = a.idx
    LEFT JOIN sites t ON t.object_id = a.object_id AND t.idx = a.idx`;
  const rows = (objectIds
    ? objectIds.flatMap((id) => db.prepare(`${sql} WHERE a.object_id = ?`).all(id))
    : db.prepare(sql).all()) as (CollisionCopy & { objectId: number })[];
  const groups = new Map<string, CollisionCopy[]>();
  for (const r of rows) {
    const key = classKey(r.objectId, r.name);
    const list = groups.get(key);
    if (list) list.push(r);
    else groups.set(key, [r]);
  }
  return new Map([...groups].map(([k, copies]) => [k, collisionClass(copies)]));
}

export function classKey(objectId: number, name: string): string {
  return `${objectId}\0${name}`;
}
