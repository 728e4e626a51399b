/**
 * What vmlinux itself says about its configuration: the IKCONFIG copy of `.config` (kernel/configs.c), or,
 * without one, CONFIG_KALLSYMS_ALL read off the shape of its decoded kallsyms table.
 */
import { gunzipSync } from 'node:zlib';
import type { KallsymsEntry } from '../kallsyms/vmlinux-table.js';
import { TEXT_RANGES, vmlinuxTextRanges } from '../kallsyms/vmlinux-rules.js';
import { type KernelConfig, looksLikeKconfig, parseKconfig } from './kernel-config.js';

const START = Buffer.from('IKCFG_ST');
const END = Buffer.from('IKCFG_ED');

/**
 * kernel/configs.c puts `"IKCFG_ST"`, the gzip'd `.config` (kernel_config_data) and `"IKCFG_ED"` into
 * `.rodata` (CONFIG_IKCONFIG=y; with =m the same bytes are in configs.ko). Returns the text, or null when
 * the bytes hold no such block or it does not inflate to a configuration.
 */
export function findIkconfig(rodata: Buffer): string | null {
  for (let at = rodata.indexOf(START); at >= 0; at = rodata.indexOf(START, at + 1)) {
    const data = at + START.length;
    if (rodata[data] !== 0x1f || rodata[data + 1] !== 0x8b) continue;
    const end = rodata.indexOf(END, data);
    if (end < 0) return null;
    try {
      const text = gunzipSync(rodata.subarray(data, end)).toString('latin1');
      if (looksLikeKconfig(text)) return text;
    } catch {
      // not a gzip stream after all: look for the next marker
    }
  }
  return null;
}

export function configFromIkconfig(rodata: Buffer, vmlinux: string): KernelConfig | null {
  const text = findIkconfig(rodata);
  return text === null ? null : parseKconfig(text, 'ikconfig', vmlinux);
}

/**
 * scripts/kallsyms without `--all-symbols` (CONFIG_KALLSYMS_ALL=n) keeps only the text ranges; with it, data
 * symbols lie outside them. Null when the table lacks the range markers and cannot tell.
 */
export function configFromKallsymsTable(entries: readonly KallsymsEntry[], vmlinux: string): KernelConfig | null {
  const markers = new Map<string, string>();
  for (const e of entries) if (TEXT_RANGES.some((r) => r.includes(e.name as never)) && !markers.has(e.name)) markers.set(e.name, e.address);
  if (markers.size < 2) return null;
  const keeps = vmlinuxTextRanges(markers, true);
  const all = entries.some((e) => !keeps(e.name, e.address));
  return { source: 'kallsyms-table', from: vmlinux, version: null, options: { CONFIG_KALLSYMS: 'y', CONFIG_KALLSYMS_ALL: all ? 'y' : 'n' } };
}
