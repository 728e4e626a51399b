import { findSites } from './dist/src/sites/find-sites.js';
import { execFileSync } from 'node:child_process';
const path = process.argv[2];
const names = process.argv.slice(3);
const out = execFileSync('readelf', ['-sW', path], { encoding: 'utf8', maxBuffer: 1 << 30 });
const idx = [];
for (const l of out.split('\n')) { const m = /^\s*(\d+):\s+\S+\s+\d+\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)$/.exec(l); if (m && names.includes(m[2])) idx.push(Number(m[1])); }
const t0 = performance.now();
const r = await findSites(path, path, idx.map((symtabIndex) => ({ symtabIndex })), {});
console.log((performance.now() - t0).toFixed(0), 'ms', JSON.stringify(r, null, 0));
