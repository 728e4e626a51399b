/**
 * scripts/kallsyms.c is_ignored_symbol() as of 6.1–6.12, applied to nm's view of vmlinux. This is an
 * emulation: the lists change between kernel versions, so it is only used when the vmlinux carries no
 * kallsyms tables of its own.
 */
const IGNORED_NAMES = new Set([
  'kallsyms_addresses', 'kallsyms_offsets', 'kallsyms_relative_base', 'kallsyms_num_syms', 'kallsyms_names',
  'kallsyms_markers', 'kallsyms_token_table', 'kallsyms_token_index', 'kallsyms_seqs_of_names',
  '_SDA_BASE_', '_SDA2_BASE_',
]);
const IGNORED_PREFIXES = [
  '$', '.L', '__crc_', '__efistub_', '__kvm_nvhe_$', '__kvm_nvhe_.L', '__AArch64ADRPThunk_', '__ARMV5PILongThunk_',
  '__ARMV7PILongThunk_', '__ThumbV7PILongThunk_', '__LA25Thunk_', '__microLA25Thunk_', '__kcfi_typeid_',
  // Export strings are not symbols of the running kernel (removed from the kallsyms input by 6.1's link step).
  '__kstrtab_', '__kstrtabns_',
];
const IGNORED_SUFFIXES = ['_from_arm', '_from_thumb', '_veneer'];
const IGNORED_INFIXES = ['.long_branch.', '.plt_branch.'];
const KEPT_ABSOLUTE = new Set(['__kernel_syscall_via_break', '__kernel_syscall_via_epc', '__kernel_sigtramp', '__gp']);

export function vmlinuxIgnores(name: string, nmLetter: string): boolean {
  if (nmLetter === '') return true;
  if (IGNORED_NAMES.has(name)) return true;
  if (IGNORED_PREFIXES.some((p) => name.startsWith(p))) return true;
  if (IGNORED_SUFFIXES.some((s) => name.endsWith(s))) return true;
  if (IGNORED_INFIXES.some((m) => name.includes(m))) return true;
  if (nmLetter === 'U' || nmLetter === 'u' || nmLetter === 'N' || nmLetter === 'n' || nmLetter === 'w' || nmLetter === 'v') return true;
  if (nmLetter.toUpperCase() === 'A') return !KEPT_ABSOLUTE.has(name);
  return false;
}

/**
 * scripts/kallsyms.c symbol_valid() without `--all-symbols` (CONFIG_KALLSYMS_ALL=n): only symbols in
 * [_stext, _etext] and [_sinittext, _einittext] are kept, except other symbols at either end address (they
 * move between link passes); from 6.10 `__start_*`/`__stop_*` are always kept. `markers` holds the four
 * markers' values (16 hex digits); a range whose markers are missing keeps nothing.
 */
export function vmlinuxTextRanges(markers: ReadonlyMap<string, string>, keepStartStop: boolean): (name: string, value: string) => boolean {
  const ranges = TEXT_RANGES.flatMap(([startName, endName]) => {
    const start = markers.get(startName);
    const end = markers.get(endName);
    return start !== undefined && end !== undefined ? [{ start, end, endName }] : [];
  });
  return (name, value) => {
    if (keepStartStop && (name.startsWith('__start_') || name.startsWith('__stop_'))) return true;
    const range = ranges.find((r) => value >= r.start && value <= r.end);
    return range !== undefined && !ranges.some((r) => value === r.end && name !== r.endName);
  };
}

export const TEXT_RANGES = [['_stext', '_etext'], ['_sinittext', '_einittext']] as const;
