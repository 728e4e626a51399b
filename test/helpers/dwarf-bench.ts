// Times findSites on a kernel tree, one thread, the way pass 2 calls it (one call per object).
//   node dist/test/helpers/dwarf-bench.js TREE [--all] [--only vmlinux|modules]
// TREE is a debug tree (vmlinux + kernel/**/*.ko*). Default requests: the in-object duplicates (as
// approximated in dwarf-duplicates.ts); --all: every FUNC/OBJECT symbol of allocated sections (--all-sites).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findSites } from '../../src/sites/find-sites.js';
import { inObjectDuplicates } from './dwarf-duplicates.js';
import { siteSymbols } from './dwarf-symbols.js';

function modulesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() || (e.isSymbolicLink() && statSync(p).isDirectory())) out.push(...modulesUnder(p));
    else if (/\.ko(\.xz|\.zst|\.gz)?$/.test(e.name)) out.push(p);
  }
  return out;
}

interface Totals {
  objects: number;
  requests: number;
  wallMs: number;
  cpuMs: number;
  bySource: Record<string, number>;
  errors: number;
}

async function time(paths: string[], all: boolean): Promise<Totals> {
  const t: Totals = { objects: 0, requests: 0, wallMs: 0, cpuMs: 0, bySource: {}, errors: 0 };
  for (const p of paths) {
    const requests = all ? (await siteSymbols(p)).map((s) => ({ symtabIndex: s.index })) : (await inObjectDuplicates(p)).map((d) => ({ symtabIndex: d.index }));
    if (requests.length === 0) continue;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await findSites(p, p, requests, { all });
    t.wallMs += performance.now() - t0;
    const c = process.cpuUsage(c0);
    t.cpuMs += (c.user + c.system) / 1000;
    t.objects++;
    t.requests += requests.length;
    t.errors += r.errors.length;
    for (const s of r.sites) t.bySource[s.source] = (t.bySource[s.source] ?? 0) + 1;
  }
  return t;
}

const args = process.argv.slice(2);
const tree = args.find((a) => !a.startsWith('--'))!;
const all = args.includes('--all');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const fmt = (name: string, x: Totals) => `${name}: ${x.objects} objects, ${x.requests} requests, wall ${x.wallMs.toFixed(0)} ms, cpu ${x.cpuMs.toFixed(0)} ms, `
  + `${JSON.stringify(x.bySource)}, errors ${x.errors}, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`;
if (only !== 'modules') console.log(fmt(`vmlinux${all ? ' --all' : ''}`, await time([join(tree, 'vmlinux')], all)));
if (only !== 'vmlinux') console.log(fmt(`modules${all ? ' --all' : ''}`, await time(modulesUnder(join(tree, 'kernel')), all)));
