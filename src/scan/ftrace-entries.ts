// Which functions ftrace can attach to: the call sites the compiler recorded in `__mcount_loc` (x86 `-mfentry
// -mrecord-mcount`) or `__patchable_function_entries` (arm64 `-fpatchable-function-entry=2`). A function copy
// with none is notrace (every out-of-line copy of a header `static inline`), and kprobe events refuse it unless
// CONFIG_KPROBE_EVENTS_ON_NOTRACE=y (trace_kprobe.c within_notrace_func()).
import { ObjectError } from '../errors.js';
import { dynamicRelocationValues } from '../kallsyms/dynamic-relocations.js';
import { EM_386, EM_AARCH64, EM_X86_64, ET_REL, SHT_NOBITS } from '../elf/constants.js';
import type { ElfHeader } from '../elf/header.js';
import { absoluteRelocation, readRelocations, relocationSectionsFor } from '../elf/relocations.js';
import { type Section, sectionBytes } from '../elf/sections.js';
import { type SymbolTable, firstValues } from '../elf/symbols.js';
import type { ByteSource } from '../io/source.js';
import { partitionPoint } from '../partition-point.js';

/** The recorded call sites: sorted addresses (vmlinux) or sorted offsets per section index (a module). */
export class FtraceEntries {
  constructor(private readonly sites: ReadonlyMap<number, readonly bigint[]>) {}

  /** Whether a call site lies in [start, end) of section `shndx` (any section for vmlinux: addresses are absolute). */
  within(shndx: number, start: bigint, end: bigint): boolean {
    const list = this.sites.get(this.sites.has(ANY) ? ANY : shndx);
    if (!list) return false;
    const i = partitionPoint(list.length, (k) => list[k] < start);
    return i < list.length && list[i] < end;
  }
}

const ANY = -1;

/**
 * The section a module's compiler-recorded call sites are in, per machine: x86's `__fentry__` calls, arm64's
 * patchable entries (6.1's DYNAMIC_FTRACE_WITH_REGS: two NOPs at the function's start; the prefix NOPs of
 * later kernels' CALL_OPS would put the site before the symbol, and are not handled here).
 */
const SITES_SECTION: Readonly<Record<number, string>> = {
  [EM_X86_64]: '__mcount_loc', [EM_386]: '__mcount_loc', [EM_AARCH64]: '__patchable_function_entries',
};

/**
 * The call sites of an x86 or arm64 object, or null when they cannot be known: another machine, or no ftrace
 * in the build.
 */
export function readFtraceEntries(src: ByteSource, h: ElfHeader, sections: readonly Section[], symtab: SymbolTable): FtraceEntries | null {
  const name = SITES_SECTION[h.machine];
  if (!name) return null;
  return h.type === ET_REL ? moduleEntries(src, h, sections, symtab, name) : vmlinuxEntries(src, h, sections, symtab);
}

/**
 * vmlinux: the addresses between __start_mcount_loc and __stop_mcount_loc (in .init.data; arm64's linker
 * script puts the patchable entries there too). A position-independent kernel (arm64) leaves those words 0 in
 * the file: their values are in its dynamic relocations, applied at boot.
 */
function vmlinuxEntries(src: ByteSource, h: ElfHeader, sections: readonly Section[], symtab: SymbolTable): FtraceEntries | null {
  const marks = firstValues(symtab, ['__start_mcount_loc', '__stop_mcount_loc']);
  if (marks.size < 2) return null;
  const [start, stop] = ['__start_mcount_loc', '__stop_mcount_loc'].map((n) => BigInt(`0x${marks.get(n)}`));
  if (stop < start) return null;
  const holder = sections.find((s) => s.type !== SHT_NOBITS && BigInt(`0x${s.addr}`) <= start && stop <= BigInt(`0x${s.addr}`) + BigInt(s.size) && s.size > 0);
  if (!holder) return null;
  const bytes = sectionBytes(src, holder).subarray(Number(start - BigInt(`0x${holder.addr}`)), Number(stop - BigInt(`0x${holder.addr}`)));
  const width = h.is64 ? 8 : 4;
  const sites: bigint[] = [];
  let dynamic: Map<bigint, bigint> | null = null;
  for (let o = 0; o + width <= bytes.length; o += width) {
    let v = h.is64 ? (h.little ? bytes.readBigUInt64LE(o) : bytes.readBigUInt64BE(o)) : BigInt(h.little ? bytes.readUInt32LE(o) : bytes.readUInt32BE(o));
    if (v === 0n) {
      dynamic ??= dynamicRelocationValues(src, h, sections);
      v = dynamic.get(start + BigInt(o)) ?? 0n;
    }
    if (v !== 0n) sites.push(v);
  }
  return new FtraceEntries(new Map([[ANY, sites.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))]]));
}

/**
 * A module: each entry of its `name` sections (arm64 may have several: SHF_LINK_ORDER keeps one per group) is
 * an absolute relocation to (section, offset) of a call site.
 */
function moduleEntries(src: ByteSource, h: ElfHeader, sections: readonly Section[], symtab: SymbolTable, name: string): FtraceEntries | null {
  const locs = sections.filter((s) => s.name === name);
  if (!locs.length) return null;
  const sites = new Map<number, bigint[]>();
  for (const loc of locs) addModuleSites(src, h, loc, sections, symtab, sites);
  for (const list of sites.values()) list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return new FtraceEntries(sites);
}

function addModuleSites(src: ByteSource, h: ElfHeader, loc: Section, sections: readonly Section[], symtab: SymbolTable, sites: Map<number, bigint[]>): void {
  const bytes = sectionBytes(src, loc);
  for (const rs of relocationSectionsFor(sections, loc)) {
    const table = readRelocations(src, h, rs);
    for (let i = 0; i < table.count; i++) {
      const abs = absoluteRelocation(h.machine, table.type(i));
      if (!abs) continue;
      const sym = table.symbol(i);
      const at = table.offset(i);
      if (sym >= symtab.count) {
        throw new ObjectError(src.file, table.entryOffset(i), `${where(rs, loc, i)}: expected a symbol index below ${symtab.count}, found ${sym}`);
      }
      if (!table.explicit && at + 4 > bytes.length) {
        throw new ObjectError(src.file, table.entryOffset(i), `${where(rs, loc, i)}: expected r_offset + 4 within the ${bytes.length}-byte ${loc.name}, found r_offset 0x${at.toString(16)}`);
      }
      // REL (i386) keeps the addend in the relocated bytes
      const addend = table.explicit ? BigInt(table.addend(i)) : BigInt(h.little ? bytes.readInt32LE(at) : bytes.readInt32BE(at));
      const shndx = symtab.shndx(sym);
      let list = sites.get(shndx);
      if (!list) sites.set(shndx, (list = []));
      list.push(symtab.value(sym) + addend);
    }
  }
}

function where(rs: Section, loc: Section, i: number): string {
  return `section ${rs.index} (${rs.name}) relocating ${loc.name}: entry ${i}`;
}
