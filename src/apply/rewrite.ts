/**
 * Adds alias symbols to a relocatable module's `.symtab`, and undoes it.
 *
 * The original ELF image is kept byte for byte except its file header; what grows is appended after it:
 *
 *   [original image, e_shoff/e_shnum patched] [pad] .symtab' .strtab' [.symtab_shndx'] [REL/RELA' ...]
 *   [.shstrtab'] .ksymtree.apply [section header table']
 *
 * - One alias symbol per request, a copy of the original's entry (st_info, st_other, st_shndx, st_value,
 *   st_size) with its own st_name, so kallsyms lists it at the same address with the same letter.
 * - Aliases of local symbols are inserted at the end of the locals (at `.symtab`'s sh_info, which grows by
 *   their count); aliases of global/weak symbols are appended at the end. Every symbol index at or above
 *   the insertion point moves up, so every reference to the table is renumbered: r_info of each REL/RELA
 *   section linked to `.symtab` (only the sections that hold such an index are rewritten and moved; the
 *   others stay where they are), SHT_GROUP signatures (sh_info), SHT_SYMTAB_SHNDX (grown in step) and
 *   `.llvm_addrsig`. A section of any other type linked to `.symtab` makes the module refused.
 * - No SHF_ALLOC section moves or changes; the old `.symtab`, `.strtab` and relocations remain as dead
 *   bytes inside the original image, which is what makes an exact revert possible (see marker.ts).
 */
import { lebEnd, uleb } from '../dwarf/leb128.js';
import { ObjectError } from '../errors.js';
import {
  ET_REL, SHF_ALLOC, SHF_COMPRESSED, SHN_LORESERVE, SHN_UNDEF, SHT_GROUP, SHT_REL, SHT_RELA, SHT_SYMTAB, SHT_SYMTAB_SHNDX, STB_LOCAL,
} from '../elf/constants.js';
import { type ElfHeader, readElfHeader } from '../elf/header.js';
import { type Section, readSections, sectionBytes } from '../elf/sections.js';
import { readSymbolTable } from '../elf/symbols.js';
import { BufferSource } from '../io/source.js';
import { FieldWriter, alignUp, ehdrLayout, shdrLayout, symLayout } from './elf-fields.js';
import { MARKER_SECTION, type Marker, type OriginalFile, decodeMarker, encodeMarker, sha256 } from './marker.js';

const EM_MIPS = 8;
const SHT_LLVM_ADDRSIG = 0x6fff4c03;

/** A module that apply or revert will not change, and why. */
export class ApplyRefusal extends Error {
  constructor(readonly file: string, readonly reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'ApplyRefusal';
  }
}

export interface AliasRequest {
  /** .symtab index of the original symbol in the original module. */
  readonly idx: number;
  readonly alias: string;
  /** The original's name as the index recorded it: a mismatch means the index describes another file. */
  readonly name?: string;
}

export interface ParsedElf {
  readonly file: string;
  readonly bytes: Buffer;
  readonly h: ElfHeader;
  readonly sections: Section[];
}

export function parseElf(file: string, bytes: Buffer): ParsedElf {
  const src = new BufferSource(file, bytes);
  const h = readElfHeader(src);
  return { file, bytes, h, sections: readSections(src, h) };
}

/** The marker of a module apply rewrote, or null for a module it never touched. */
export function findMarker(p: ParsedElf): Marker | null {
  const s = p.sections.find((x) => x.name === MARKER_SECTION);
  if (!s) return null;
  try {
    return decodeMarker(sectionBytes(new BufferSource(p.file, p.bytes), s));
  } catch (e) {
    throw new ApplyRefusal(p.file, (e as Error).message);
  }
}

export interface Original {
  /** The original ELF image without signature. */
  readonly elf: Buffer;
  /** ELF + original signature: the original module as a kernel or kmod would read it (decompressed). */
  readonly image: Buffer;
}

/** Rebuilds the original image from an applied one and checks it against the sha256 apply recorded. */
export function reconstructOriginal(p: ParsedElf, marker: Marker): Original {
  const ehsize = marker.header.length;
  if (marker.elfSize > p.bytes.length || marker.elfSize < ehsize) {
    throw new ApplyRefusal(p.file, `${MARKER_SECTION} says the original ELF image had ${marker.elfSize} bytes but the file has ${p.bytes.length}: it was changed after apply (stripped or relinked?), the original cannot be restored`);
  }
  const elf = Buffer.concat([marker.header, p.bytes.subarray(ehsize, marker.elfSize)]);
  const image = marker.signature.length ? Buffer.concat([elf, marker.signature]) : elf;
  if (!sha256(image).equals(marker.imageSha256)) {
    throw new ApplyRefusal(p.file, 'the bytes before the appended tables no longer hash to the original sha256 apply recorded: the module was changed after apply, the original cannot be restored');
  }
  return { elf, image };
}

export interface Rewritten {
  readonly elf: Buffer;
  readonly localAliases: number;
  readonly globalAliases: number;
}

interface Chunk {
  readonly data: Buffer;
  readonly align: number;
  offset: number;
}

/**
 * The module `original` (an ELF image without signature) with one symbol per alias added. Pure: the same
 * inputs always give the same bytes, which is what makes apply idempotent.
 */
export function addAliases(file: string, original: Buffer, requests: readonly AliasRequest[], orig: OriginalFile): Rewritten {
  const src = new BufferSource(file, original);
  const h = readElfHeader(src);
  const refuse = (reason: string) => new ApplyRefusal(file, reason);
  if (h.type !== ET_REL) throw refuse(`e_type ${h.type}: only relocatable modules (ET_REL) can take alias symbols`);
  if (h.shoff === 0 || h.shnum === 0) throw refuse('the module has no section header table');
  const sections = readSections(src, h);
  if (sections.some((s) => s.name === MARKER_SECTION)) throw refuse(`already carries ${MARKER_SECTION}`);
  const symtabs = sections.filter((s) => s.type === SHT_SYMTAB);
  if (symtabs.length !== 1) throw refuse(`expected exactly one SHT_SYMTAB section, found ${symtabs.length}`);
  const symtab = readSymbolTable(src, h, sections)!;
  const symSec = symtab.section;
  const strSec = sections[symSec.link];
  if ((symSec.flags | strSec.flags) & SHF_ALLOC) throw refuse('.symtab or its string table is SHF_ALLOC');
  const sym = symLayout(h.is64);
  if (symSec.size % sym.entry !== 0) throw refuse(`.symtab size ${symSec.size} is not a multiple of ${sym.entry}`);
  const n = symtab.count;
  const firstGlobal = symSec.info;
  if (firstGlobal < 1 || firstGlobal > n) throw refuse(`.symtab sh_info ${firstGlobal} is not an index between 1 and ${n}`);

  // Check every request against the module before changing anything.
  const existing = new Set<string>();
  for (let i = 1; i < n; i++) existing.add(symtab.name(i));
  const seenAliases = new Set<string>();
  const local: AliasRequest[] = [];
  const global: AliasRequest[] = [];
  for (const r of requests) {
    if (!Number.isInteger(r.idx) || r.idx < 1 || r.idx >= n) throw refuse(`alias ${r.alias}: symbol index ${r.idx} is outside .symtab (${n} entries): the index describes another file`);
    const name = symtab.name(r.idx);
    if (r.name !== undefined && name !== r.name) {
      throw refuse(`symbol ${r.idx} is ${name || '(no name)'} but the index says ${r.name}: the index describes another build of this module (re-run \`ksymtree index\`)`);
    }
    if (!name || symtab.rawShndx(r.idx) === SHN_UNDEF) throw refuse(`alias ${r.alias}: symbol ${r.idx} is not a named definition`);
    if (!r.alias || r.alias.includes('\0')) throw refuse(`alias of symbol ${r.idx} (${name}) is empty or holds a NUL byte`);
    if (existing.has(r.alias)) throw refuse(`alias ${r.alias} equals a symbol name of the module`);
    if (seenAliases.has(r.alias)) throw refuse(`alias ${r.alias} is given twice`);
    seenAliases.add(r.alias);
    (symtab.bind(r.idx) === STB_LOCAL ? local : global).push(r);
  }
  local.sort((a, b) => a.idx - b.idx);
  global.sort((a, b) => a.idx - b.idx);
  const kL = local.length;
  const renumber = (i: number) => (i >= firstGlobal ? i + kL : i);

  // String tables: alias names go to .strtab, the marker's name to .shstrtab (one table when they are one).
  const strBytes = sectionBytes(src, strSec);
  const shstrSec = sections[h.shstrndx];
  const shared = shstrSec.index === strSec.index;
  const names: Buffer[] = [strBytes];
  let strLength = strBytes.length;
  const nameOffset = new Map<AliasRequest, number>();
  for (const r of [...local, ...global]) {
    nameOffset.set(r, strLength);
    const b = Buffer.from(`${r.alias}\0`, 'utf8');
    names.push(b);
    strLength += b.length;
  }
  let markerNameOffset: number;
  let newShstr: Buffer | null = null;
  const markerName = Buffer.from(`${MARKER_SECTION}\0`, 'latin1');
  if (shared) {
    markerNameOffset = strLength;
    names.push(markerName);
  } else {
    const shstrBytes = sectionBytes(src, shstrSec);
    markerNameOffset = shstrBytes.length;
    newShstr = Buffer.concat([shstrBytes, markerName]);
  }
  const newStr = Buffer.concat(names);

  // .symtab': locals, local aliases, non-locals, non-local aliases.
  const oldSym = sectionBytes(src, symSec);
  const E = sym.entry;
  const newSym = Buffer.alloc((n + requests.length) * E);
  const sw = new FieldWriter(newSym, h);
  oldSym.copy(newSym, 0, 0, firstGlobal * E);
  local.forEach((r, k) => {
    const at = (firstGlobal + k) * E;
    oldSym.copy(newSym, at, r.idx * E, (r.idx + 1) * E);
    sw.u32(at + sym.name, nameOffset.get(r)!);
  });
  oldSym.copy(newSym, (firstGlobal + kL) * E, firstGlobal * E, n * E);
  global.forEach((r, k) => {
    const at = (n + kL + k) * E;
    oldSym.copy(newSym, at, r.idx * E, (r.idx + 1) * E);
    sw.u32(at + sym.name, nameOffset.get(r)!);
  });

  const chunks = new Map<number, Chunk>();
  const put = (s: Section, data: Buffer) => chunks.set(s.index, { data, align: Math.max(1, s.addralign), offset: 0 });
  put(symSec, newSym);
  put(strSec, newStr);
  if (newShstr) put(shstrSec, newShstr);

  const newInfo = new Map<number, number>();
  newInfo.set(symSec.index, firstGlobal + kL);
  for (const s of sections) {
    if (s.index === symSec.index || s.link !== symSec.index || s.type === 0) continue;
    if (s.type === SHT_SYMTAB_SHNDX) {
      const old = sectionBytes(src, s);
      if (old.length !== n * 4) throw refuse(`section ${s.index} (${s.name}): SHT_SYMTAB_SHNDX has ${old.length / 4} entries for ${n} symbols`);
      const grown = Buffer.alloc((n + requests.length) * 4);
      old.copy(grown, 0, 0, firstGlobal * 4);
      local.forEach((r, k) => old.copy(grown, (firstGlobal + k) * 4, r.idx * 4, r.idx * 4 + 4));
      old.copy(grown, (firstGlobal + kL) * 4, firstGlobal * 4, n * 4);
      global.forEach((r, k) => old.copy(grown, (n + kL + k) * 4, r.idx * 4, r.idx * 4 + 4));
      put(s, grown);
    } else if (s.type === SHT_REL || s.type === SHT_RELA) {
      if (kL === 0) continue;
      if (s.flags & SHF_COMPRESSED) throw refuse(`section ${s.index} (${s.name}): compressed relocations cannot be renumbered`);
      const rewritten = renumberRelocations(file, h, s, sectionBytes(src, s), firstGlobal, kL, n, refuse);
      if (rewritten) put(s, rewritten);
    } else if (s.type === SHT_GROUP) {
      if (s.info >= n) throw refuse(`section ${s.index} (${s.name}): group signature symbol ${s.info} is outside .symtab`);
      newInfo.set(s.index, renumber(s.info));
    } else if (s.type === SHT_LLVM_ADDRSIG) {
      if (kL === 0) continue;
      const rewritten = renumberAddrsig(s, sectionBytes(src, s), firstGlobal, kL, refuse);
      if (rewritten) put(s, rewritten);
    } else {
      throw refuse(`section ${s.index} (${s.name}) of type 0x${s.type.toString(16)} refers to .symtab in a way apply cannot renumber`);
    }
  }

  // The marker, then lay everything out after the original image.
  const marker = encodeMarker({
    ...orig,
    symbolCount: n,
    firstGlobal,
    localAliases: kL,
    globalAliases: global.length,
  });
  let end = original.length;
  const ordered = [...chunks.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
  const markerChunk: Chunk = { data: marker, align: 8, offset: 0 };
  for (const c of [...ordered, markerChunk]) {
    c.offset = alignUp(end, c.align);
    end = c.offset + c.data.length;
  }
  const sh = shdrLayout(h.is64);
  const newShnum = h.shnum + 1;
  const shoff = alignUp(end, h.is64 ? 8 : 4);
  const total = shoff + newShnum * sh.entry;

  const out = Buffer.alloc(total);
  original.copy(out, 0);
  for (const c of [...ordered, markerChunk]) c.data.copy(out, c.offset);
  original.copy(out, shoff, h.shoff, h.shoff + h.shnum * sh.entry);
  const w = new FieldWriter(out, h);
  for (const [index, c] of chunks) {
    const at = shoff + index * sh.entry;
    w.word(at + sh.offset, c.offset);
    w.word(at + sh.size, c.data.length);
  }
  for (const [index, info] of newInfo) w.u32(shoff + index * sh.entry + sh.info, info);
  const m = shoff + h.shnum * sh.entry;
  w.u32(m + sh.name, markerNameOffset);
  w.u32(m + sh.type, 1 /* SHT_PROGBITS */);
  w.word(m + sh.offset, markerChunk.offset);
  w.word(m + sh.size, marker.length);
  w.word(m + sh.addralign, 8);

  const eh = ehdrLayout(h.is64);
  w.word(eh.shoff, shoff);
  if (newShnum >= SHN_LORESERVE) {
    w.u16(eh.shnum, 0);
    w.word(shoff + sh.size, newShnum);
  } else {
    w.u16(eh.shnum, newShnum);
  }
  return { elf: out, localAliases: kL, globalAliases: global.length };
}

/** Offset of the 32-bit symbol field inside one relocation entry, and how to read/write it. */
function relSymbolField(h: ElfHeader): { at: number; shift: number } {
  if (!h.is64) return { at: 4, shift: 8 };
  // ELF64 r_info = sym << 32 | type; MIPS64 little-endian stores r_sym as the first 32-bit word instead.
  if (h.machine === EM_MIPS && h.little) return { at: 8, shift: 0 };
  return { at: h.little ? 12 : 8, shift: 0 };
}

function renumberRelocations(file: string, h: ElfHeader, s: Section, bytes: Buffer, firstGlobal: number, kL: number, n: number,
  refuse: (reason: string) => ApplyRefusal): Buffer | null {
  const want = (h.is64 ? 8 : 4) * (s.type === SHT_RELA ? 3 : 2);
  const entsize = s.entsize || want;
  if (entsize !== want || bytes.length % entsize !== 0) throw refuse(`section ${s.index} (${s.name}): unexpected relocation entry size ${s.entsize}`);
  const { at, shift } = relSymbolField(h);
  const count = bytes.length / entsize;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let needed = false;
  for (let i = 0; i < count && !needed; i++) {
    const symIndex = view.getUint32(i * entsize + at, h.little) >>> shift;
    if (symIndex >= n) throw new ObjectError(file, s.offset + i * entsize, `relocation ${i} of section ${s.index} (${s.name}): expected a symbol index below ${n}, found ${symIndex}`);
    if (symIndex >= firstGlobal) needed = true;
  }
  if (!needed) return null;
  const out = Buffer.from(bytes);
  const ov = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < count; i++) {
    const o = i * entsize + at;
    const word = ov.getUint32(o, h.little);
    const symIndex = word >>> shift;
    if (symIndex >= n) throw new ObjectError(file, s.offset + i * entsize, `relocation ${i} of section ${s.index} (${s.name}): expected a symbol index below ${n}, found ${symIndex}`);
    if (symIndex < firstGlobal) continue;
    const moved = symIndex + kL;
    if (shift && moved >= 1 << (32 - shift)) throw refuse(`section ${s.index} (${s.name}): symbol index ${moved} does not fit ELF32 r_info`);
    ov.setUint32(o, shift ? ((moved << shift) | (word & ((1 << shift) - 1))) >>> 0 : moved, h.little);
  }
  return out;
}

/**
 * `.llvm_addrsig`: a list of ULEB128 symbol indices (decoded by the DWARF reader's LEB128). A number cut by
 * the section's end refuses the module, naming the file offset where it starts.
 */
function renumberAddrsig(s: Section, bytes: Buffer, firstGlobal: number, kL: number,
  refuse: (reason: string) => Error): Buffer | null {
  const values: number[] = [];
  for (let i = 0; i < bytes.length; i = lebEnd) {
    values.push(uleb(bytes, i, bytes.length));
    if (lebEnd < 0) throw refuse(`section ${s.index} (${s.name}) at file offset 0x${(s.offset + i).toString(16)}: expected a ULEB128 symbol index, found the section's end`);
  }
  if (!values.some((v) => v >= firstGlobal)) return null;
  const out: number[] = [];
  for (let v of values.map((x) => (x >= firstGlobal ? x + kL : x))) {
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v) b |= 0x80;
      out.push(b);
    } while (v);
  }
  return Buffer.from(out);
}
