// One visit per object: the scan worker finds the sites of an object's duplicates while the object is open, from
// its own DWARF or from its debug copy at the same path with the same build-id, and leaves the rest to pairing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import test from 'ava';
import { pairDebugCopies, pairingKey } from '../src/tree/debug-pairing.js';
import { findSites } from '../src/sites/find-sites.js';
import type { IndexTask } from '../src/scan/result.js';
import { openDatabase } from '../src/db/sqlite.js';
import scan from '../workers/scan.js';
import { buildFixtures } from './helpers/build-fixtures.js';

const fixtures = buildFixtures();
const shardDir = mkdtempSync(join(tmpdir(), 'ksymtree-visit-'));
let nextId = 1;

function task(path: string, debugTree: boolean, debugCopy: string | null): IndexTask {
  return { path, rules: null, objectId: nextId++, shardDir, allSites: false, sites: { all: false }, debugTree, debugCopy };
}

/** Each installed module with its debug copy (same relative path, same build-id), from the fixture tree. */
async function pairs(): Promise<{ installed: string; debug: string }[]> {
  const fx = await fixtures;
  const debugByKey = new Map(fx.debug.modules.map((d) => [pairingKey(relative(fx.debug.root, d)), d]));
  return fx.installed.modules.map((m) => ({ installed: m, debug: debugByKey.get(pairingKey(relative(fx.installed.root, m)))! }));
}

test('an installed module with duplicates gets its sites from the debug copy at its path, in the scan, as a site task would', async (t) => {
  let withDuplicates = 0;
  for (const { installed, debug } of await pairs()) {
    t.truthy(debug, `${installed}: no debug copy in the fixture tree`);
    const id = nextId;
    const r = await scan(task(installed, true, debug));
    t.is(r.errors.length, 0, `${installed}: ${r.errors.map((e) => e.message).join('; ')}`);
    t.is(r.debugCopyBuildId, readelfBuildId(debug), `${installed}: the debug copy's build-id, read in the visit`);
    if (!r.siteRequests.length) {
      t.is(r.sitesFound, null, `${installed}: nothing to find, nothing found`);
      continue;
    }
    withDuplicates++;
    t.truthy(r.sitesFound, `${installed}: ${r.siteRequests.length} duplicates, no sites in the scan`);
    t.is(r.sitesFound!.dwarfPath, debug);
    // The separate site task opens both files itself: the same visit must find the same sites.
    const separate = await findSites(installed, debug, r.siteRequests.map((symtabIndex) => ({ symtabIndex })), { all: false });
    const db = openDatabase(r.sitesFound!.shard, { readonly: true });
    const rows = db.prepare('SELECT idx, decl_file, decl_line, unit, source FROM sites WHERE object_id = ? ORDER BY idx').raw().all(id);
    db.close();
    t.deepEqual(rows, separate.sites.map((s) => [s.symtabIndex, s.declFile, s.declLine, s.unit, s.source]).sort((a, b) => Number(a[0]) - Number(b[0])));
    t.true(separate.sites.some((s) => s.source === 'decl'), `${installed}: no decl site at all`);
  }
  t.true(withDuplicates > 0, 'no fixture module has in-object duplicates');
});

test('a debug copy of another build-id, or none at the path, leaves the sites to pairing; without a debug tree a module with DWARF serves itself', async (t) => {
  const all = await pairs();
  const { installed, debug } = all.find((p) => p.installed !== all[0].installed && p.installed.endsWith('.ko')) ?? all[0];
  const other = all.find((p) => p.debug !== debug)!.debug;
  const own = await scan(task(debug, false, null));
  t.true(own.siteRequests.length > 0, `${debug}: the fixture has no duplicates`);
  t.is(own.sitesFound?.dwarfPath, debug);

  const mismatched = await scan(task(installed, true, other));
  t.true(mismatched.siteRequests.length > 0);
  t.is(mismatched.sitesFound, null, 'a debug copy of another build-id must not serve');
  t.is(mismatched.debugCopyBuildId, readelfBuildId(other), 'the other copy\'s build-id goes to pairing');
  const missing = await scan(task(installed, true, null));
  t.is(missing.sitesFound, null, 'with a debug tree and no copy at the path, pairing decides');
  t.false('debugCopyBuildId' in missing, 'no copy at the path: nothing read');
  const stripped = await scan(task(installed, false, null));
  t.is(stripped.sitesFound, null, 'a stripped module without a debug tree has no DWARF of its own');
});

test('pairing reads no build-id the scan already read: same-path copies whose ids agree need no read at all', async (t) => {
  const fx = await fixtures;
  const all = await pairs();
  const objects = all.map((p) => ({ relPath: relative(fx.installed.root, p.installed), buildId: readelfBuildId(p.debug) }));
  const debugFiles = fx.debug.modules.map((path) => ({ path, relPath: relative(fx.debug.root, path) }));
  const asked: string[] = [];
  const read = async (paths: string[]) => {
    asked.push(...paths);
    return paths.map(readelfBuildId);
  };
  const known = new Map(all.map((p) => [p.debug, readelfBuildId(p.debug)]));
  const links = await pairDebugCopies(objects, debugFiles, read, known);
  t.deepEqual(asked, []);
  t.deepEqual(links.map((l) => l.path), all.map((p) => p.debug));
  t.true(links.every((l) => l.pairing === 'build-id'));
  // Without them, each same-path copy is read once.
  const again = await pairDebugCopies(objects, debugFiles, read, new Map());
  t.deepEqual(asked.sort(), all.map((p) => p.debug).sort());
  t.deepEqual(again, links);
});

/** The GNU build-id as binutils' readelf prints it (the oracle), or null. */
function readelfBuildId(path: string): string | null {
  return /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', path], { encoding: 'utf8' }))?.[1] ?? null;
}
