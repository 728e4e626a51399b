/** Turns ksymtree's columnar scan result into one plain object per symbol row, for assertions. */
import type { ScannedElf, SymbolColumns } from '../../src/scan/result.js';

export interface ScanRow {
  readonly index: number;
  readonly name: string;
  readonly value: bigint;
  readonly size: number;
  readonly type: number;
  readonly bind: number;
  readonly vis: number;
  readonly shndx: number;
  /** ' ' when nm does not list the symbol. */
  readonly nm: string;
  /** ' ' when kallsyms hides the symbol. */
  readonly kallsyms: string;
}

export function scanRows(s: SymbolColumns): ScanRow[] {
  const rows: ScanRow[] = [];
  let start = 0;
  for (let i = 0; i < s.count; i++) {
    const end = s.nameEnd[i];
    rows.push({
      index: s.index[i],
      name: s.names.slice(start, end),
      value: BigInt(`0x${s.values.slice(i * 16, i * 16 + 16)}`),
      size: s.size[i],
      type: s.info[i] & 0xf,
      bind: s.info[i] >> 4,
      vis: s.other[i] & 3,
      shndx: s.shndx[i],
      nm: s.nmLetters[i],
      kallsyms: s.kallsymsLetters[i],
    });
    start = end;
  }
  return rows;
}

/** Checks the columns are mutually consistent (lengths), so row decoding cannot silently shift. */
export function columnLengthProblems(s: SymbolColumns): string[] {
  const problems: string[] = [];
  const n = s.count;
  const want: Array<[string, number]> = [
    ['index', s.index.length], ['nameEnd', s.nameEnd.length], ['size', s.size.length], ['info', s.info.length],
    ['other', s.other.length], ['shndx', s.shndx.length], ['nmLetters', s.nmLetters.length], ['kallsymsLetters', s.kallsymsLetters.length],
    ['values/16', s.values.length / 16],
  ];
  for (const [name, len] of want) if (len !== n) problems.push(`${name} has ${len} entries, count is ${n}`);
  if (n > 0 && s.nameEnd[n - 1] !== s.names.length) problems.push(`nameEnd ends at ${s.nameEnd[n - 1]}, names has ${s.names.length} chars`);
  return problems;
}

export function sectionAddr(elf: ScannedElf, i: number): bigint {
  return BigInt(`0x${elf.sections.addr.slice(i * 16, i * 16 + 16)}`);
}
