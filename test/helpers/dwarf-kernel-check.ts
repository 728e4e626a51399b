// Real-kernel check of definition sites: every in-object duplicate of the given objects (approximated as
// FUNC/OBJECT symbols in allocated non-init sections), ours against llvm-dwarfdump-19's.
//   node dist/test/helpers/dwarf-kernel-check.js [--json] OBJECT...
// Modules are relocatable: the oracle reads a copy linked with each section at its own base (see
// linkForOracle), because llvm-dwarfdump leaves DW_OP_addr unrelocated in ET_REL files.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findSites } from '../../src/sites/find-sites.js';
import type { Site } from '../../src/sites/types.js';
import { inObjectDuplicates } from './dwarf-duplicates.js';
import { disagreement, type Expected, expectedSites, linkForOracle, type OracleSymbol } from './dwarf-oracle.js';

export interface ObjectCheck {
  readonly object: string;
  readonly duplicates: number;
  /** findSites alone, milliseconds (wall and CPU). */
  readonly ms: number;
  readonly cpuMs: number;
  readonly bySource: Record<string, number>;
  /** Symbols the oracle could say something about. */
  readonly compared: number;
  readonly agreeDecl: number;
  /** Of those, agreements with one of several DIEs at the same address (zero-size `__key.N`). */
  readonly agreeAmbiguous: number;
  readonly disagreements: { name: string; where: string; ours: Site; oracle: Expected | null; problem: string }[];
  /** Sites whose paths are not relative (a build directory or absolute path left in). */
  readonly unrelative: number;
  readonly errors: number;
}

export async function checkObject(path: string): Promise<ObjectCheck> {
  const dups = await inObjectDuplicates(path);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await findSites(path, path, dups.map((d) => ({ symtabIndex: d.index })));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const relocatable = execFileSync('readelf', ['-h', path], { encoding: 'utf8' }).includes('REL (Relocatable file)');
  let oracleFile = path;
  let bases: Map<string, bigint> | null = null;
  const tmp = mkdtempSync(join(tmpdir(), 'ksymtree-kcheck-'));
  try {
    if (relocatable) {
      oracleFile = join(tmp, `${basename(path)}.oracle`);
      bases = linkForOracle(path, oracleFile, 'ld');
    }
    const present = new Set<string>();
    if (bases) {
      for (const l of execFileSync('nm', ['--defined-only', oracleFile], { encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n')) {
        const m = /^([0-9a-f]+) \S (\S+)$/.exec(l);
        if (m) present.add(`${m[2]}@${BigInt(`0x${m[1]}`)}`);
      }
    }
    const symbols: OracleSymbol[] = dups.map((d) => {
      if (!bases) return { name: d.name, type: d.type, address: d.value };
      const base = bases.get(d.section);
      const address = base === undefined ? null : base + d.value;
      return { name: d.name, type: d.type, address: address !== null && present.has(`${d.name}@${address}`) ? address : null };
    });
    const expected = await expectedSites(oracleFile, symbols, { byNameFirst: true, concurrency: 2 });
    const bySource: Record<string, number> = {};
    const disagreements: ObjectCheck['disagreements'] = [];
    let compared = 0;
    let agreeDecl = 0;
    let agreeAmbiguous = 0;
    let unrelative = 0;
    result.sites.forEach((s, i) => {
      bySource[s.source] = (bySource[s.source] ?? 0) + 1;
      for (const p of [s.declFile, s.unit]) if (p && (p.startsWith('/') || p.startsWith('debian/') || p.startsWith('./'))) unrelative++;
      const e = expected[i];
      if (!e) return;
      compared++;
      const problem = disagreement(s, e);
      if (problem) disagreements.push({ name: dups[i].name, where: `${dups[i].section}+0x${dups[i].value.toString(16)}`, ours: s, oracle: e, problem });
      else if (s.source === 'decl') {
        agreeDecl++;
        if (e.kind === 'ambiguous') agreeAmbiguous++;
      }
    });
    return { object: path, duplicates: dups.length, ms, cpuMs: (cpu.user + cpu.system) / 1000, bySource, compared, agreeDecl, agreeAmbiguous, disagreements, unrelative, errors: result.errors.length };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function summarize(c: ObjectCheck): string {
  const lines = [`${c.object}: ${c.duplicates} duplicates, findSites ${c.ms.toFixed(0)} ms (cpu ${c.cpuMs.toFixed(0)} ms), ${JSON.stringify(c.bySource)}; `
    + `oracle compared ${c.compared}, decl agreements ${c.agreeDecl} (${c.agreeAmbiguous} among several DIEs at one address), disagreements ${c.disagreements.length}, unrelative paths ${c.unrelative}, errors ${c.errors}`];
  for (const d of c.disagreements) lines.push(`  ${d.name} ${d.where}: ${d.problem}`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const json = process.argv.includes('--json');
  for (const path of process.argv.slice(2).filter((a) => a !== '--json')) {
    const c = await checkObject(path);
    console.log(json ? JSON.stringify(c, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) : summarize(c));
  }
}
