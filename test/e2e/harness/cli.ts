// Manual use: node dist/test/e2e/harness/cli.js KERNEL MODULES_DIR MODULE... [--fresh] [--host-decompress]
// boots, prints the capture directory (kallsyms, modules, sys/module, console.log, meta.json) and the insmod results.
import { bootCapture } from './boot.js';

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const [kernel, modulesDir, ...modules] = args.filter((a) => !a.startsWith('--'));
if (!kernel || !modulesDir || !modules.length) {
  console.error('usage: cli.js KERNEL MODULES_DIR MODULE... [--fresh] [--host-decompress]');
  process.exit(2);
}
const c = await bootCapture({ kernel, modulesDir, modules, fresh: flags.has('--fresh'), decompressOnHost: flags.has('--host-decompress'), log: (l) => console.error(l) });
for (const i of c.insmod) console.log(`insmod ${i.name} (${i.reason}): ${i.status}${i.message ? ` ${i.message}` : ''}`);
console.log(`release ${c.release}, boot ${c.bootSeconds} s${c.cached ? ' (cached)' : ''}`);
console.log(c.dir);
