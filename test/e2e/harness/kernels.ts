// The kernels the e2e tier boots: Debian corpora fetched by ../shared/corpus/fetch-debian-kernel (amd64) and
// scripts/fetch-debian-kernel-foreign (arm64, with the static busybox of that architecture); files of linux-source-6.1.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ImageArch } from './image.js';

export interface KernelSpec {
  /** `<series>-<flavour>`, as the corpus directory is named. */
  readonly id: string;
  readonly series: string;
  readonly flavour: string;
  /** The guest's architecture (Debian's name, the flavour's last word). */
  readonly arch: ImageArch;
  /** Modules with in-object duplicate names to insmod (their dependencies are added). */
  readonly modules: readonly string[];
  /** Why this module set (the issue's set is bridge, nfc_digital, libceph, mac80211). */
  readonly note: string;
}

export interface KernelCorpus {
  readonly base: string;
  /** vmlinuz: a bzImage, or an arm64 Image. */
  readonly kernel: string;
  readonly config: string;
  /** /lib/modules/<ver>: the files that are loaded and indexed. */
  readonly installed: string;
  /** /usr/lib/debug/lib/modules/<ver>: vmlinux and DWARF. */
  readonly debug: string;
  /** The static busybox of a foreign architecture, fetched beside the corpus (undefined: the host's). */
  readonly busybox?: string;
}

/** The issue's module set; the generic amd64 flavour builds all four. */
export const ISSUE_MODULES = ['bridge', 'nfc_digital', 'libceph', 'mac80211'] as const;

/**
 * cloud-amd64 has no NFC and no wireless (CONFIG_NFC, CONFIG_CFG80211 unset): bridge and libceph from the issue's
 * set, plus cloud modules with many in-object duplicates that load without hardware (cifs: ~550 duplicated
 * names, btrfs, ceph, overlay, wireguard, sctp), and br_netfilter and sctp for their per-cpu variables.
 */
export const CLOUD_MODULES = ['bridge', 'br_netfilter', 'libceph', 'ceph', 'cifs', 'btrfs', 'overlay', 'wireguard', 'sctp'] as const;

/**
 * Issue 18's arm64 set: modules rich in in-object duplicates that load without hardware, and two arm64 crypto
 * drivers (their text holds `$d` literal pools among the `$x` mapping symbols).
 */
export const ARM64_MODULES = [
  'bridge', 'ceph', 'overlay', 'btrfs', 'cifs', 'nfsd', 'xfs', 'dm_persistent_data', 'nf_tables', 'sctp', 'openvswitch',
  'bonding', '8021q', 'fuse', 'sha256_arm64', 'aes_neon_bs',
] as const;

export const KERNELS: readonly KernelSpec[] = [
  { id: '6.1-cloud-amd64', series: '6.1', flavour: 'cloud-amd64', arch: 'amd64', modules: CLOUD_MODULES, note: 'cloud flavour: no nfc_digital/mac80211, see CLOUD_MODULES' },
  { id: '6.1-amd64', series: '6.1', flavour: 'amd64', arch: 'amd64', modules: ISSUE_MODULES, note: "the issue's module set" },
  { id: '6.12-cloud-amd64', series: '6.12', flavour: 'cloud-amd64', arch: 'amd64', modules: CLOUD_MODULES, note: '.ko.xz modules, loaded as they are' },
  { id: '6.1-cloud-arm64', series: '6.1', flavour: 'cloud-arm64', arch: 'arm64', modules: ARM64_MODULES, note: 'second architecture; CONFIG_KALLSYMS_ALL unset' },
];

/** The command that fetches a spec's corpus. */
function fetchCommand(spec: KernelSpec): string {
  const script = spec.arch === 'amd64' ? '../shared/corpus/fetch-debian-kernel' : 'scripts/fetch-debian-kernel-foreign';
  return `${script} ${spec.flavour} ${spec.series}`;
}

/** The corpus of one kernel, or a reason why it is not there. KSYMTREE_CORPUS_61 (scripts/test.sh) names 6.1 cloud's. */
export function kernelCorpus(spec: KernelSpec): KernelCorpus | string {
  const root = process.env.KSYMTREE_CORPUS ?? join(homedir(), '.cache/ksymtree-corpus');
  const base = spec.id === '6.1-cloud-amd64' && process.env.KSYMTREE_CORPUS_61 ? process.env.KSYMTREE_CORPUS_61 : join(root, spec.id);
  const boot = join(base, 'boot');
  const installed = join(base, 'installed');
  const debug = join(base, 'debug');
  const find = (prefix: string) => (existsSync(boot) ? readdirSync(boot).find((f) => f.startsWith(prefix)) : undefined);
  const kernel = find('vmlinuz-');
  const config = find('config-');
  const busybox = spec.arch === 'amd64' ? undefined : join(base, 'busybox');
  if (!kernel || !config || !existsSync(join(debug, 'vmlinux')) || !existsSync(join(installed, 'kernel')) || (busybox && !existsSync(busybox))) {
    return `no ${spec.id} corpus at ${base} (run ${fetchCommand(spec)})`;
  }
  return { base, kernel: join(boot, kernel), config: join(boot, config), installed, debug, busybox };
}

export const LINUX_SOURCE_61 = '/usr/src/linux-source-6.1.tar.xz';

/**
 * One file of Debian's linux-source-6.1 (a script the tests run as their oracle), extracted once into
 * ~/.cache/ksymtree-corpus/tools/; null when the package is not installed.
 */
export function linuxSource61File(relPath: string): string | null {
  const cached = join(homedir(), '.cache/ksymtree-corpus/tools/6.1', relPath);
  if (existsSync(cached)) return cached;
  if (!existsSync(LINUX_SOURCE_61)) return null;
  const text = execFileSync('tar', ['-xJOf', LINUX_SOURCE_61, `linux-source-6.1/${relPath}`], { maxBuffer: 1 << 22 });
  mkdirSync(dirname(cached), { recursive: true });
  writeFileSync(`${cached}.${process.pid}`, text, { mode: 0o755 });
  renameSync(`${cached}.${process.pid}`, cached);
  return cached;
}
