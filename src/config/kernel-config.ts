/**
 * The kernel configuration options that change ksymtree's answers, where their values came from, and the
 * kallsyms rules they select. Parsing of `.config` text lives here; finding it lives in find-config.ts.
 */

/**
 * The options recorded in the index. CONFIG_KALLSYMS and CONFIG_KALLSYMS_ALL decide what kallsyms lists
 * (hence aliases and sympos); LIVEPATCH depends on KALLSYMS_ALL; KPROBE_EVENTS_ON_NOTRACE decides whether a
 * copy without an ftrace entry can be probed; MODULE_SIG* decide whether a module `apply` rewrote still loads.
 */
export const RECORDED_OPTIONS = [
  'CONFIG_KALLSYMS', 'CONFIG_KALLSYMS_ALL', 'CONFIG_KALLSYMS_ABSOLUTE_PERCPU', 'CONFIG_LIVEPATCH',
  'CONFIG_KPROBE_EVENTS_ON_NOTRACE', 'CONFIG_MODULE_SIG', 'CONFIG_MODULE_SIG_FORCE', 'CONFIG_MODULE_SIG_ALL',
  'CONFIG_MODULE_SIG_HASH', 'CONFIG_IKCONFIG',
] as const;

export type RecordedOption = (typeof RECORDED_OPTIONS)[number];

/**
 * Which source decided: a `.config` file, the IKCONFIG copy inside vmlinux, the shape of vmlinux's decoded
 * kallsyms table (tells only CONFIG_KALLSYMS and CONFIG_KALLSYMS_ALL), or nothing (Debian's settings assumed).
 */
export type ConfigSource = 'file' | 'ikconfig' | 'kallsyms-table' | 'assumed';

export interface KernelConfig {
  readonly source: ConfigSource;
  /** The file, or the vmlinux the configuration was read from; null when assumed. */
  readonly from: string | null;
  /** The release in the configuration's header (`# Linux/x86 6.1.176 Kernel Configuration`), when it has one. */
  readonly version: string | null;
  /** Value of each recorded option the source tells ('y', 'm', 'n' or the string); absent when it does not. */
  readonly options: Readonly<Partial<Record<RecordedOption, string>>>;
}

/** What kallsyms lists, as kernel/module/kallsyms.c and scripts/kallsyms.c decide it from the configuration. */
export interface KallsymsRules {
  /** CONFIG_KALLSYMS: without it there is no /proc/kallsyms, no kprobe by name and no livepatch. */
  readonly kallsyms: boolean;
  /** CONFIG_KALLSYMS_ALL: data symbols too; without it only code (executable sections, vmlinux's text ranges). */
  readonly all: boolean;
  /** scripts/kallsyms keeps `__start_*`/`__stop_*` outside the text ranges (from 6.10). */
  readonly keepStartStop: boolean;
}

/** Debian's x86 and generic kernels: kallsyms with data symbols. Used when nothing tells otherwise. */
export const ASSUMED_CONFIG: KernelConfig = {
  source: 'assumed', from: null, version: null, options: { CONFIG_KALLSYMS: 'y', CONFIG_KALLSYMS_ALL: 'y' },
};

/** Reads `.config` text: `CONFIG_X=value` and `# CONFIG_X is not set`; a recorded option not mentioned is off. */
export function parseKconfig(text: string, source: 'file' | 'ikconfig', from: string): KernelConfig {
  const values = new Map<string, string>();
  let version: string | null = null;
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (set) {
      values.set(set[1], set[2].replace(/^"(.*)"$/, '$1'));
      continue;
    }
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (unset) values.set(unset[1], 'n');
    else version ??= /^# Linux\/\S+ (\S+) Kernel Configuration$/.exec(line)?.[1] ?? null;
  }
  const options: Partial<Record<RecordedOption, string>> = {};
  for (const name of RECORDED_OPTIONS) options[name] = values.get(name) ?? 'n';
  return { source, from, version, options };
}

/** True when `text` looks like a kernel `.config` (a file named by --config is checked before use). */
export function looksLikeKconfig(text: string): boolean {
  return /^(CONFIG_\w+=|# CONFIG_\w+ is not set)/m.test(text);
}

export function kallsymsRules(config: KernelConfig): KallsymsRules {
  return {
    kallsyms: config.options.CONFIG_KALLSYMS !== 'n',
    all: config.options.CONFIG_KALLSYMS_ALL !== 'n',
    keepStartStop: config.version === null || versionAtLeast(config.version, 6, 10),
  };
}

/** `6.1.0-50-cloud-amd64` ≥ 6.1 and the like; false for text that is not a release. */
export function versionAtLeast(release: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  return Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor);
}

/** One line for people: `CONFIG_KALLSYMS_ALL=n, … (from /boot/config-6.1.0-50-cloud-arm64)`. */
export function describeConfig(config: KernelConfig): string {
  const set = RECORDED_OPTIONS.filter((o) => config.options[o] !== undefined).map((o) => `${o}=${config.options[o]}`);
  const from = config.source === 'assumed' ? 'assumed: no configuration found, give --config FILE'
    : config.source === 'file' ? `from ${config.from}`
      : config.source === 'ikconfig' ? `from IKCONFIG in ${config.from}`
        : `inferred from the kallsyms table of ${config.from}`;
  return `${set.join(', ')} (${from})`;
}

/** The index's `meta` rows for a configuration, and back. */
export function configMeta(config: KernelConfig): Record<string, string> {
  const meta: Record<string, string> = { config_source: config.source, config_from: config.from ?? '', config_version: config.version ?? '' };
  for (const o of RECORDED_OPTIONS) if (config.options[o] !== undefined) meta[`config.${o}`] = config.options[o]!;
  return meta;
}

export function configFromMeta(meta: ReadonlyMap<string, string>): KernelConfig | null {
  const source = meta.get('config_source') as ConfigSource | undefined;
  if (!source) return null;
  const options: Partial<Record<RecordedOption, string>> = {};
  for (const o of RECORDED_OPTIONS) {
    const v = meta.get(`config.${o}`);
    if (v !== undefined) options[o] = v;
  }
  return { source, from: meta.get('config_from') || null, version: meta.get('config_version') || null, options };
}
