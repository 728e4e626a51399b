import { readFileSync, copyFileSync } from 'node:fs';
import target from './dist/test/fuzz/targets/dwarf.js';
const f = process.argv[2];
copyFileSync(f, '/tmp/dr-fuzz2.ko');
const input = readFileSync(f);
const t = process.cpuUsage();
try { await target.run('/tmp/dr-fuzz2.ko', input); console.log('ok'); } catch (e) { console.log('err', e.message.slice(0, 300)); }
const u = process.cpuUsage(t); console.log('cpu ms', (u.user + u.system) / 1000, 'len', input.length, 'all', input.length % 2 === 1);
