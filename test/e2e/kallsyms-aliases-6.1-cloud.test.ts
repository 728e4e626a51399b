// `ksymtree kallsyms-aliases` on vmlinux images of Debian's size (6.1 cloud-amd64, and cloud-arm64 whose
// CONFIG_KALLSYMS_ALL is unset: text only), each debug vmlinux read as a link pass would read it (by the
// .config's rules, its own kallsyms tables ignored), against the booted kernel: the names it aliases are exactly
// the names /proc/kallsyms lists more than once, one alias per listed copy, each at an address where the kernel
// lists that name; mksysmap's lines (the kernel's own script) stay as they are.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ksymtree } from '../helpers/cli.js';
import { bootCapture, bootTimeoutMs } from './harness/boot.js';
import { byObject, parseKallsyms } from './harness/compare.js';
import { kernelCorpus, KERNELS, LINUX_SOURCE_61, linuxSource61File } from './harness/kernels.js';
import { e2eUnavailable } from './harness/suite.js';

const mksysmap = () => linuxSource61File('scripts/mksysmap');

for (const spec of KERNELS.filter((k) => k.id === '6.1-cloud-amd64' || k.id === '6.1-cloud-arm64')) {
  const unavailable = e2eUnavailable(spec) ?? (mksysmap() ? null : `no ${LINUX_SOURCE_61} (apt-get install linux-source-6.1)`);
  const title = `e2e ${spec.id}: kallsyms-aliases aliases exactly the names the booted kernel lists more than once, one alias per copy`;

  (unavailable ? test.skip : test.serial)(unavailable ? `${title} (SKIPPED: ${unavailable})` : title, async (t) => {
    t.timeout(4 * bootTimeoutMs() + 10 * 60_000, 'boot lock, boot, two passes');
    const corpus = kernelCorpus(spec);
    if (typeof corpus === 'string') throw new Error(corpus);
    const capture = await bootCapture({ kernel: corpus.kernel, busybox: corpus.busybox, modulesDir: corpus.installed, modules: spec.modules, log: (l) => t.log(l) });
    const work = mkdtempSync(join(tmpdir(), 'ksymtree-e2e-link-'));
    try {
      const vmlinux = join(corpus.debug, 'vmlinux');
      const sysmap = join(work, 'vmlinux.syms');
      execFileSync('sh', [mksysmap()!, vmlinux, sysmap], { env: { ...process.env, NM: 'nm' } });
      const run = () => ksymtree(['kallsyms-aliases', '--config', corpus.config, '--sysmap', sysmap, vmlinux]);
      const started = process.hrtime.bigint();
      const r = await run();
      t.log(`one pass: ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(2)} s wall (machine load ${readFileSync('/proc/loadavg', 'latin1').split(' ')[0]})`);
      t.is(r.status, 0, r.stderr);
      t.is(r.stderr, '', 'no alias left out, no unreadable unit');
      t.is((await run()).stdout, r.stdout, 'deterministic');

      const input = readFileSync(sysmap, 'latin1').split('\n');
      const inputLines = new Set(input);
      const output = r.stdout.split('\n');
      t.deepEqual(output.filter((l) => inputLines.has(l)), input, 'every line of mksysmap kept, in order');
      const aliases = parseKallsyms(output.filter((l) => !inputLines.has(l)).join('\n'));

      const kernel = byObject(parseKallsyms(capture.kallsyms)).get('')!;
      const copies = new Map<string, bigint[]>();
      for (const l of kernel) copies.set(l.name, [...(copies.get(l.name) ?? []), l.address]);
      const duplicated = new Map([...copies].filter(([, a]) => a.length > 1));
      const perName = new Map<string, bigint[]>();
      for (const a of aliases) {
        const name = a.name.slice(0, a.name.indexOf('@', 1));
        perName.set(name, [...(perName.get(name) ?? []), a.address]);
      }
      t.deepEqual([...perName.keys()].sort(), [...duplicated.keys()].sort(), 'aliased names = names the kernel lists more than once');
      const problems: string[] = [];
      for (const [name, addresses] of duplicated) {
        const ours = (perName.get(name) ?? []).map(String).sort();
        if (JSON.stringify(ours) !== JSON.stringify(addresses.map(String).sort())) problems.push(`${name}: aliases at ${ours.join(',')}, kernel copies at ${addresses.join(',')}`);
      }
      t.log(`${aliases.length} aliases for ${perName.size} names; ${problems.length} problems`);
      for (const p of problems.slice(0, 20)) t.log(p);
      t.is(problems.length, 0);
      t.is(new Set(aliases.map((a) => a.name)).size, aliases.length, 'aliases are distinct');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}
