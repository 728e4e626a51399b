// Manual use: node dist/test/e2e/harness/cli.js KERNEL MODULES_DIR MODULE... [--fresh] [--compressed=kernel|busybox|host]
// [--busybox=STATIC_BUSYBOX] (a foreign architecture's kernel needs one: its corpus's) boots, prints the capture
// directory (kallsyms, modules, sys/module, console.log, meta.json) and the insmod results.
import { bootCapture } from './boot.js';

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const compressed = option('compressed') as 'kernel' | 'busybox' | 'host' | undefined;
const busybox = option('busybox');
const [kernel, modulesDir, ...modules] = args.filter((a) => !a.startsWith('--'));
if (!kernel || !modulesDir || !modules.length) {
  console.error('usage: cli.js KERNEL MODULES_DIR MODULE... [--fresh] [--compressed=kernel|busybox|host] [--busybox=FILE]');
  process.exit(2);
}
const c = await bootCapture({ kernel, modulesDir, modules, fresh: flags.has('--fresh'), compressed, busybox, log: (l) => console.error(l) });
for (const i of c.insmod) console.log(`${i.loader} ${i.name} (${i.reason}): ${i.status}${i.message ? ` ${i.message}` : ''}`);
console.log(`release ${c.release}, boot ${c.bootSeconds} s${c.cached ? ' (cached)' : ''}`);
console.log(c.dir);
