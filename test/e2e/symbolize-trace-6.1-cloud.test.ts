// A real trace: Debian's 6.1 cloud-amd64 kernel booted under qemu prints stack traces (sysrq l and t, with
// bridge loaded); `ksymtree symbolize` annotates that dmesg, and every frame's whole file:line chain must
// equal what scripts/decode_stacktrace.sh (Debian's linux-source-6.1) prints with binutils and with LLVM=-19.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { CLI, ksymtree } from '../helpers/cli.js';
import { bootCapture, bootTimeoutMs } from './harness/boot.js';
import { kernelCorpus, KERNELS, LINUX_SOURCE_61, linuxSource61File } from './harness/kernels.js';
import { e2eUnavailable } from './harness/suite.js';

const spec = KERNELS.find((k) => k.id === '6.1-cloud-amd64')!;

/** decode_stacktrace.sh of Debian's linux-source-6.1 (KSYMTREE_DECODE_STACKTRACE overrides). */
function decodeStacktrace(): string | null {
  return process.env.KSYMTREE_DECODE_STACKTRACE ?? linuxSource61File('scripts/decode_stacktrace.sh');
}

const unavailable = e2eUnavailable(spec) ?? (decodeStacktrace() ? null : `no ${LINUX_SOURCE_61} (apt-get install linux-source-6.1)`);
const title = 'e2e 6.1-cloud-amd64: a sysrq l/t trace decoded by symbolize equals decode_stacktrace.sh (binutils and LLVM=-19), frame by frame';

interface Chain {
  /** Timestamp and function name: decode_stacktrace.sh drops some lines, so frames are matched by these. */
  readonly key: string;
  readonly positions: string[];
}

/** Each frame's positions, innermost first, from ksymtree's annotation (main line + `inlined into` lines). */
function ourChains(text: string): Chain[] {
  const out: Chain[] = [];
  let current: string[] | null = null;
  for (const line of text.split('\n')) {
    const inl = / inlined into \S+ at (\S+:\d+)$/.exec(line);
    if (inl && current) {
      current.push(inl[1]);
      continue;
    }
    // A candidate of an ambiguous frame (`  ALIAS: file:line`) continues the line above it.
    if (/^\[\s*[\d.]+\]\s{3,}\S+: /.test(line)) continue;
    const m = /^(\[\s*[\d.]+\])\s+(?:\? )?([\w.$]+)\+0x[0-9a-f]+\/0x[0-9a-f]+(?: \[\w+\])? (?:\S+@\S+ )?(\S+:\d+)/.exec(line);
    current = m ? [m[3]] : null;
    if (m) out.push({ key: `${m[1]} ${m[2]}`, positions: current! });
  }
  return out;
}

/** decode_stacktrace.sh's `[ts] name (file:line file:line ...)` lines, build root stripped. */
function scriptChains(text: string, root: string): Map<string, string[][]> {
  const out = new Map<string, string[][]>();
  for (const line of text.split('\n')) {
    const m = /^(\[\s*[\d.]+\])\s+(?:\? )?([\w.$]+) \(([^()]*)\)/.exec(line.replace(/ \(discriminator \d+\)/g, ''));
    if (!m || !/:\d+/.test(m[3])) continue;
    const key = `${m[1].replace(/\[\s+/, '[')} ${m[2]}`;
    out.set(key, [...(out.get(key) ?? []), m[3].split(' ').map((p) => p.replace(root, ''))]);
  }
  return out;
}

(unavailable ? test.skip : test.serial)(unavailable ? `${title} (SKIPPED: ${unavailable})` : title, async (t) => {
  t.timeout(4 * bootTimeoutMs() + 15 * 60_000, 'boot lock, boot, index');
  const corpus = kernelCorpus(spec);
  if (typeof corpus === 'string') throw new Error(corpus);
  const capture = await bootCapture({ kernel: corpus.kernel, modulesDir: corpus.installed, modules: ['bridge'], traces: true, log: (l) => t.log(l) });
  const dmesg = join(capture.dir, 'dmesg');
  const db = join(mkdtempSync(join(tmpdir(), 'ksymtree-e2e-trace-')), 'index.db');
  const idx = await ksymtree(['index', corpus.installed, '--debug-dir', corpus.debug, '--db', db, '--quiet']);
  t.is(idx.status, 0, idx.stderr);
  const input = readFileSync(dmesg, 'latin1');
  const ours = ourChains(execFileSync(process.execPath, [CLI, 'symbolize', '--db', db, '--kallsyms', join(capture.dir, 'kallsyms')], { input, encoding: 'latin1' }));
  const vmlinux = join(corpus.debug, 'vmlinux');
  const script = decodeStacktrace()!;
  for (const env of [{}, { LLVM: '-19' }]) {
    const text = execFileSync('bash', [script, vmlinux, 'auto', join(corpus.debug, 'kernel')], { input, encoding: 'latin1', env: { ...process.env, ...env } });
    const theirs = scriptChains(text, /\/build\/reproducible-path\/linux-[\d.]+\//.exec(text)?.[0] ?? '\0');
    const differ: string[] = [];
    for (const f of ours) {
      // decode_stacktrace.sh reformats the timestamp ("[%13s"): keys are compared without its padding.
      const mine = theirs.get(f.key.replace(/\[\s+/, '['))?.shift();
      if (JSON.stringify(mine) !== JSON.stringify(f.positions)) differ.push(`${f.key}: ours ${f.positions.join(' ')}; decode_stacktrace.sh ${mine?.join(' ') ?? '(nothing)'}`);
    }
    t.log(`${'LLVM' in env ? 'LLVM=-19' : 'binutils'}: ${ours.length} frames, ${ours.filter((f) => f.positions.length > 1).length} with inlined callers, ${differ.length} differ`);
    for (const d of differ) t.log(d);
    t.true(ours.length >= 100);
    t.deepEqual(differ, []);
  }
});
