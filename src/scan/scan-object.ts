// The scan of one object (open → scan): opened once (decompressed, vmlinuz payload, signature cut, apply's
// original), then its sections, .symtab, kallsyms view, sympos and ftrace entries as columns; errors as values.
import { readFileSync, statSync } from 'node:fs';
import { MODULE_FILE, moduleNameFromPath } from '../tree/walk.js';
import { ObjectError } from '../errors.js';
import { EM_X86_64, ET_REL, SHF_ALLOC, SHN_ABS, SHN_LORESERVE, SHN_UNDEF, STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_FUNC, STT_NOTYPE, STT_OBJECT } from '../elf/constants.js';
import { type ElfHeader, readElfHeader } from '../elf/header.js';
import { findSection, parseModinfo } from '../elf/modinfo.js';
import { findBuildId } from '../elf/notes.js';
import { type Section, readSections, sectionBytes } from '../elf/sections.js';
import { signatureOf } from '../elf/signature.js';
import { type SymbolTable, firstValues, readSymbolTable } from '../elf/symbols.js';
import { type ObjectFile, openObjectFile } from '../io/object-file.js';
import { appliedOriginal } from '../apply/original-source.js';
import { extractVmlinuz, isBzImage } from '../kallsyms/vmlinuz.js';
import { type ByteSource, BufferSource, PrefixSource } from '../io/source.js';
import { exportedNames, isCoreSymbol, moduleElfType, moduleKallsymsLetter, moduleLayout } from '../kallsyms/module-view.js';
import { isTargetSpecialSymbol, nmLetter, sectionLetters } from '../kallsyms/nm-letter.js';
import { TEXT_RANGES, vmlinuxIgnores, vmlinuxTextRanges } from '../kallsyms/vmlinux-rules.js';
import { ASSUMED_CONFIG, type KallsymsRules, type KernelConfig, kallsymsRules } from '../config/kernel-config.js';
import { configFromIkconfig, configFromKallsymsTable } from '../config/from-vmlinux.js';
import { type SymposInput, symposOf } from '../alias/sympos.js';
import { partitionPoint } from '../partition-point.js';
import { matchSymtab } from '../kallsyms/symtab-match.js';
import { type VmlinuxKallsyms, decodeVmlinuxKallsyms } from '../kallsyms/vmlinux-table.js';
import { type FtraceEntries, readFtraceEntries } from './ftrace-entries.js';
import type { KallsymsColumns, ObjectCompression, ObjectKind, ScanError, ScannedElf, ScannedObject, SectionColumns, SymbolColumns } from './result.js';


/** What else is done with an object while its bytes are at hand: its image and what the scan made of it. */
export type ObjectVisit = (image: ByteSource, elf: ScannedElf) => Promise<void>;

/**
 * Reads one object from disk into columns. Never throws for a bad object: problems become `errors`.
 * `rules` are the kallsyms rules of the kernel's configuration; null when it is not known, and then a
 * vmlinux reports its own (`elf.config`) and follows them. `linkPass`: the object is a temporary vmlinux of
 * the kernel's kallsyms link passes, whose kallsyms tables are the previous pass's or a placeholder: its
 * kallsyms view follows `rules` instead. `visit` runs after the scan, before the object is closed (it must not
 * throw).
 */
export async function scanObject(path: string, rules: KallsymsRules | null = null, linkPass = false, visit?: ObjectVisit): Promise<ScannedObject> {
  const errors: ScanError[] = [];
  let kind: ObjectKind = MODULE_FILE.test(path) ? 'module' : 'vmlinux';
  let size = 0;
  let mtimeMs = 0;
  let compression: ObjectCompression = 'none';
  let elf: ScannedElf | null = null;
  let file: ObjectFile | null = null;
  try {
    const st = statSync(path);
    size = st.size;
    mtimeMs = Math.trunc(st.mtimeMs);
    file = openObjectFile(path);
    compression = file.compression;
    let source = await file.image();
    if (compression === 'none' && isBzImage(file.head)) {
      // A vmlinuz: its payload is vmlinux without .symtab, whose kallsyms tables are still decoded (by shape).
      const kernel = await extractVmlinuz(path, readFileSync(path));
      compression = `vmlinuz-${kernel.compression}`;
      kind = 'vmlinux';
      source = new BufferSource(path, kernel.image);
    }
    const signature = signatureOf(source);
    const signed = signature ? new PrefixSource(source, signature.elfSize) : source;
    // A module `ksymtree apply` rewrote is indexed as its original: its alias symbols are not symbols of the build.
    const image = appliedOriginal(signed) ?? signed;
    const h = readElfHeader(image);
    if (h.type === ET_REL) kind = 'module';
    elf = scanElf(image, h, kind, path, errors, signature !== null, compression.startsWith('vmlinuz-'), rules, linkPass);
    if (visit) await visit(image, elf);
  } catch (e) {
    errors.push(toScanError(path, e));
  } finally {
    file?.close();
  }
  return { path, kind, size, mtimeMs, compression, elf, errors };
}

function toScanError(path: string, e: unknown): ScanError {
  if (e instanceof ObjectError) return { offset: e.offset, kind: e.kind, message: e.message };
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string') {
    return { offset: 0, kind: 'io', message: `${path}: at offset 0x0: expected a readable regular file (${err.code}: ${err.message})` };
  }
  // A bug of ours, not a property of the input: keep the stack so it can be reported.
  return { offset: 0, kind: 'internal', message: `${path}: internal error: ${err?.stack ?? String(e)}` };
}

function scanElf(src: ByteSource, h: ElfHeader, kind: ObjectKind, path: string, errors: ScanError[], signed: boolean, bootImage: boolean,
  given: KallsymsRules | null, linkPass: boolean): ScannedElf {
  const sections = readSections(src, h);
  const read = (s: Section) => sectionBytes(src, s);
  const modinfoSection = findSection(sections, '.modinfo');
  const modinfo = modinfoSection ? parseModinfo(read(modinfoSection)) : new Map<string, string[]>();
  const symtab = readSymbolTable(src, h, sections);
  // A boot image's vmlinux is built without .symtab (objcopy -S): its kallsyms tables are what it offers.
  if (!symtab && !bootImage) {
    errors.push({ offset: h.shoff, kind: 'format', message: `${path}: at offset 0x${h.shoff.toString(16)}: expected a SHT_SYMTAB section, the object has none (fully stripped)` });
  }
  const table = kind === 'vmlinux' && !linkPass ? decodeTable(src, h, sections, symtab, errors) : null;
  const config = given || kind !== 'vmlinux' ? null : ownConfig(path, sections, read, table);
  const rules = given ?? kallsymsRules(config ?? ASSUMED_CONFIG);
  return {
    elfClass: h.is64 ? 64 : 32,
    endian: h.little ? 'little' : 'big',
    machine: h.machine,
    elfType: h.type,
    buildId: findBuildId(h, sections, read),
    moduleName: kind === 'module' ? (modinfo.get('name')?.[0] ?? moduleNameFromPath(path)) : null,
    vermagic: modinfo.get('vermagic')?.[0] ?? null,
    depends: modinfo.get('depends')?.[0] ?? null,
    signed,
    hasDwarf: sections.some((s) => s.name === '.debug_info' || s.name === '.zdebug_info'),
    hasSymtab: symtab !== null,
    kallsymsSource: kind === 'module' ? 'module-loader' : table ? 'vmlinux-table' : 'nm-rules',
    config,
    sections: sectionColumns(sections),
    symbols: symtab ? symbolColumns(symtab, sections, h, kind, table, rules, errors, ftraceEntries(src, h, sections, symtab, errors))
      : table && rules.kallsyms ? entrySymbols(table.decoded, sections) : emptySymbols(),
    kallsyms: table ? kallsymsColumns(table) : null,
  };
}

/** A vmlinux's own word on its configuration: IKCONFIG in `.rodata`, else the shape of its kallsyms table. */
function ownConfig(path: string, sections: readonly Section[], read: (s: Section) => Buffer, table: DecodedTable | null): KernelConfig | null {
  const rodata = findSection(sections, '.rodata');
  return (rodata ? configFromIkconfig(read(rodata), path) : null) ?? (table ? configFromKallsymsTable(table.decoded.entries, path) : null);
}

/** The recorded ftrace call sites; null (every function's mark left unknown) when absent or unreadable. */
function ftraceEntries(src: ByteSource, h: ElfHeader, sections: readonly Section[], symtab: SymbolTable, errors: ScanError[]): FtraceEntries | null {
  try {
    return readFtraceEntries(src, h, sections, symtab);
  } catch (e) {
    if (!(e instanceof ObjectError)) throw e;
    errors.push({ offset: e.offset, kind: e.kind, message: `${e.message} (ftrace call sites; no function is marked traceable or notrace)` });
    return null;
  }
}

interface DecodedTable {
  readonly decoded: VmlinuxKallsyms;
  /** For each entry, its .symtab index or -1. */
  readonly symbolIndex: Int32Array;
}

/** vmlinux's own kallsyms tables; null (and the nm-based emulation) when absent or unreadable. */
function decodeTable(src: ByteSource, h: ElfHeader, sections: readonly Section[], symtab: SymbolTable | null, errors: ScanError[]): DecodedTable | null {
  let decoded: VmlinuxKallsyms | null;
  try {
    decoded = decodeVmlinuxKallsyms(src, h, sections, symtab);
  } catch (e) {
    if (!(e instanceof ObjectError)) throw e;
    errors.push({ offset: e.offset, kind: e.kind, message: `${e.message} (kallsyms tables; falling back to the nm-based view)` });
    return null;
  }
  if (!decoded) return null;
  // Without a .symtab the entries themselves become the symbol rows (entrySymbols): entry k is row k + 1.
  const symbolIndex = symtab ? matchSymtab(decoded.entries, symtab).symbolIndex : Int32Array.from(decoded.entries, (_, k) => k + 1);
  return { decoded, symbolIndex };
}

function kallsymsColumns({ decoded, symbolIndex }: DecodedTable): KallsymsColumns {
  const entries = decoded.entries;
  const nameEnd = new Uint32Array(entries.length);
  let end = 0;
  entries.forEach((e, i) => {
    end += e.name.length;
    nameEnd[i] = end;
  });
  return {
    count: entries.length, names: entries.map((e) => e.name).join(''), nameEnd,
    letters: entries.map((e) => e.letter).join(''), addresses: entries.map((e) => e.address).join(''),
    symbolIndex, sympos: decoded.sympos,
  };
}

function sectionColumns(sections: readonly Section[]): SectionColumns {
  return {
    names: sections.map((s) => s.name),
    type: Uint32Array.from(sections, (s) => s.type),
    flags: Float64Array.from(sections, (s) => s.flags),
    addr: sections.map((s) => s.addr).join(''),
    size: Float64Array.from(sections, (s) => s.size),
  };
}

function emptySymbols(): SymbolColumns {
  return { count: 0, index: new Uint32Array(0), names: '', nameEnd: new Uint32Array(0), values: '', size: new Float64Array(0),
    info: new Uint8Array(0), other: new Uint8Array(0), shndx: new Uint32Array(0), nmLetters: '', kallsymsLetters: '', sympos: new Uint32Array(0), ftrace: new Uint8Array(0) };
}

/**
 * A vmlinux without .symtab (a vmlinuz's payload, `objcopy -S`): its decoded kallsyms entries stand in for the
 * symbol table, entry k as index k + 1 (index 0 is the null symbol), so its duplicates get sympos, sites and
 * aliases like any object's. What the table does not say is derived: the section from the address, the type
 * and binding from the letter, the size as the kernel sees it (kallsyms_lookup_size_offset: the distance to
 * the next higher address in the table; 0 for the last), ftrace unknown.
 */
function entrySymbols(decoded: VmlinuxKallsyms, sections: readonly Section[]): SymbolColumns {
  const entries = decoded.entries;
  const n = entries.length;
  const nameEnd = new Uint32Array(n);
  const info = new Uint8Array(n);
  const shndx = new Uint32Array(n);
  const sectionAt = addressToSection(sections);
  const sizeOf = kernelSizes(entries);
  let end = 0;
  entries.forEach((e, k) => {
    end += e.name.length;
    nameEnd[k] = end;
    info[k] = (letterBind(e.letter) << 4) | letterType(e.letter);
    shndx[k] = sectionAt(e.address);
  });
  const letters = entries.map((e) => e.letter).join('');
  return {
    count: n, index: Uint32Array.from(entries, (_, k) => k + 1), names: entries.map((e) => e.name).join(''), nameEnd,
    values: entries.map((e) => e.address).join(''), size: Float64Array.from(entries, (e) => sizeOf(e.address)), info, other: new Uint8Array(n), shndx,
    nmLetters: letters, kallsymsLetters: letters, sympos: decoded.sympos, ftrace: new Uint8Array(n),
  };
}

/** Per address, the distance to the next higher address among the entries (0 for the highest). */
function kernelSizes(entries: readonly { address: string }[]): (address: string) => number {
  const addresses = [...new Set(entries.map((e) => e.address))].sort();
  return (address) => {
    const next = partitionPoint(addresses.length, (k) => addresses[k] <= address);
    return next < addresses.length ? Number(BigInt(`0x${addresses[next]}`) - BigInt(`0x${address}`)) : 0;
  };
}

/** nm's letters: t/T text, w/W weak (functions, in vmlinux), d/b/r/v data; lower case is local. */
function letterType(letter: string): number {
  if ('tTwW'.includes(letter)) return STT_FUNC;
  return 'dDbBrRvVgGsS'.includes(letter) ? STT_OBJECT : STT_NOTYPE;
}

function letterBind(letter: string): number {
  if ('wWvV'.includes(letter)) return STB_WEAK;
  return letter === letter.toUpperCase() ? STB_GLOBAL : STB_LOCAL;
}

/** The allocated section holding an address (the first by index), else SHN_ABS. */
function addressToSection(sections: readonly Section[]): (address: string) => number {
  const alloc = sections.map((s, i) => ({ i, start: BigInt(`0x${s.addr}`), end: BigInt(`0x${s.addr}`) + BigInt(s.size), s }))
    .filter((x) => (x.s.flags & SHF_ALLOC) !== 0 && x.s.size > 0);
  return (address) => {
    const a = BigInt(`0x${address}`);
    return alloc.find((x) => a >= x.start && a < x.end)?.i ?? SHN_ABS;
  };
}

function symbolColumns(t: SymbolTable, sections: readonly Section[], h: ElfHeader, kind: ObjectKind, table: DecodedTable | null,
  rules: KallsymsRules, errors: ScanError[], ftraceEntries: FtraceEntries | null): SymbolColumns {
  const n = t.count;
  const index = new Uint32Array(n);
  const nameEnd = new Uint32Array(n);
  const size = new Float64Array(n);
  const info = new Uint8Array(n);
  const other = new Uint8Array(n);
  const shndx = new Uint32Array(n);
  const ftrace = new Uint8Array(n);
  const names: string[] = [];
  const values: string[] = [];
  const nmLetters: string[] = [];
  const ksLetters: string[] = [];
  const letters = sectionLetters(sections);
  const kallsyms = !rules.kallsyms ? noKallsyms : kind === 'module' ? moduleKallsyms(t, sections, rules) : table ? tableKallsyms(table) : vmlinuxKallsyms(t, h, rules);
  let badNames = 0;
  let rows = 0;
  let nameLength = 0;
  for (let i = 0; i < n; i++) {
    let name: string;
    try {
      name = t.name(i);
    } catch (e) {
      if (!(e instanceof ObjectError)) throw e;
      if (badNames++ === 0) errors.push({ offset: e.offset, kind: e.kind, message: e.message });
      continue;
    }
    const raw = t.rawShndx(i);
    const resolved = t.shndx(i);
    const nm = nmLetter(i, t.type(i), t.bind(i), resolved, raw, letters, isTargetSpecialSymbol(h.machine, name));
    index[rows] = i;
    nameLength += name.length;
    nameEnd[rows] = nameLength;
    names.push(name);
    values.push(t.valueHex(i));
    size[rows] = t.size(i);
    info[rows] = t.info(i);
    other[rows] = t.visibility(i);
    shndx[rows] = resolved;
    if (ftraceEntries && t.type(i) === STT_FUNC && resolved !== SHN_UNDEF && resolved < SHN_LORESERVE) {
      const start = t.value(i);
      ftrace[rows] = ftraceEntries.within(resolved, start, start + BigInt(Math.max(t.size(i), 1))) ? 1 : 2;
    }
    nmLetters.push(nm || ' ');
    ksLetters.push(kallsyms(i, name, nm) || ' ');
    rows++;
  }
  if (badNames > 1) {
    errors.push({ offset: t.section.offset, kind: 'format', message: `${t.section.name}: ${badNames} symbols in all have unreadable names and were left out` });
  }
  const rowIndex = index.slice(0, rows);
  return {
    count: rows, index: rowIndex, names: names.join(''), nameEnd: nameEnd.slice(0, rows), values: values.join(''),
    size: size.slice(0, rows), info: info.slice(0, rows), other: other.slice(0, rows), shndx: shndx.slice(0, rows), ftrace: ftrace.slice(0, rows),
    nmLetters: nmLetters.join(''), kallsymsLetters: ksLetters.join(''),
    sympos: table ? symposFromTable(table, rowIndex) : computedSympos(rowIndex, names, values, ksLetters, kind),
  };
}

/** The decoded table's own positions, carried over to the .symtab symbols its entries were matched to. */
function symposFromTable({ decoded, symbolIndex }: DecodedTable, rowIndex: Uint32Array): Uint32Array {
  const byIndex = new Uint32Array(maxIndex(symbolIndex, rowIndex) + 1);
  symbolIndex.forEach((idx, k) => {
    if (idx >= 0) byIndex[idx] = decoded.sympos[k];
  });
  return rowIndex.map((idx) => byIndex[idx]);
}

function maxIndex(...lists: ArrayLike<number>[]): number {
  let max = 0;
  for (const list of lists) for (let i = 0; i < list.length; i++) if (list[i] > max) max = list[i];
  return max;
}

/** Positions in the object's kallsyms walk, over the rows kallsyms shows. */
function computedSympos(rowIndex: Uint32Array, names: readonly string[], values: readonly string[], ksLetters: readonly string[],
  kind: ObjectKind): Uint32Array {
  const visible: SymposInput[] = [];
  const rowOf = new Map<number, number>();
  rowIndex.forEach((idx, row) => {
    if (ksLetters[row] === ' ') return;
    visible.push({ idx, name: names[row], value: values[row] });
    rowOf.set(idx, row);
  });
  const out = new Uint32Array(rowIndex.length);
  for (const [idx, pos] of symposOf(visible, kind)) out[rowOf.get(idx)!] = pos;
  return out;
}

type KallsymsLetter = (index: number, name: string, nmLetter: string) => string;

/** CONFIG_KALLSYMS=n: the kernel keeps no symbol table at all. */
const noKallsyms: KallsymsLetter = () => '';

function moduleKallsyms(t: SymbolTable, sections: readonly Section[], rules: KallsymsRules): KallsymsLetter {
  const layout = moduleLayout(sections, rules.all);
  const exported = exportedNames(t, sections);
  return (i, name) => {
    const raw = t.rawShndx(i);
    if (!isCoreSymbol(raw, t.nameOffset(i), layout)) return '';
    return moduleKallsymsLetter(moduleElfType(t.type(i), t.bind(i), raw, sections, layout), t.bind(i), name, exported);
  };
}

/** The letter of the decoded entry matched to each .symtab symbol: the kernel's own view. */
function tableKallsyms({ decoded, symbolIndex }: DecodedTable): KallsymsLetter {
  const letterOf: string[] = new Array(maxIndex(symbolIndex) + 1).fill('');
  symbolIndex.forEach((idx, k) => {
    if (idx >= 0) letterOf[idx] = decoded.entries[k].letter;
  });
  return (i) => letterOf[i] ?? '';
}

/**
 * scripts/kallsyms over nm's list. With CONFIG_KALLSYMS_ABSOLUTE_PERCPU (x86_64 SMP, per-cpu area linked
 * at 0) every symbol between __per_cpu_start and __per_cpu_end is printed as `A`. Without
 * CONFIG_KALLSYMS_ALL only the text ranges are kept.
 */
function vmlinuxKallsyms(t: SymbolTable, h: ElfHeader, rules: KallsymsRules): KallsymsLetter {
  const markers = firstValues(t, ['__per_cpu_start', '__per_cpu_end', ...TEXT_RANGES.flat()]);
  const percpu = h.machine === EM_X86_64 ? perCpuRange(markers) : null;
  const inText = rules.all ? null : vmlinuxTextRanges(markers, rules.keepStartStop);
  return (i, name, nm) => {
    if (vmlinuxIgnores(name, nm)) return '';
    if (inText && !inText(name, t.valueHex(i))) return '';
    if (percpu) {
      const v = t.valueHex(i);
      if (v >= percpu.start && v <= percpu.end) return 'A';
    }
    return nm;
  };
}

function perCpuRange(markers: ReadonlyMap<string, string>): { start: string; end: string } | null {
  const start = markers.get('__per_cpu_start');
  const end = markers.get('__per_cpu_end');
  return start === '0000000000000000' && end !== undefined ? { start, end } : null;
}
