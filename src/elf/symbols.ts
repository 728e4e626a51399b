import { ObjectError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import { SHN_XINDEX, SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX } from './constants.js';
import type { ElfHeader } from './header.js';
import { readOffset64, viewOf } from './header.js';
import { type Section, StringTable, hex64, sectionBytes } from './sections.js';

/**
 * The `.symtab` of an object, read in place. Accessors decode one field of one entry; only names are kept once
 * decoded (a vmlinux scan reads every name in three passes: table location, kallsyms matching, columns).
 */
export class SymbolTable {
  readonly count: number;
  readonly names: StringTable;
  private view: DataView;
  private entsize: number;
  private decodedNames: (string | undefined)[];

  constructor(
    private file: string,
    readonly section: Section,
    bytes: Buffer,
    strtab: StringTable,
    private h: ElfHeader,
    /** SHT_SYMTAB_SHNDX contents, when the object uses extended section indices. */
    private xindex: DataView | null,
  ) {
    this.view = viewOf(bytes);
    this.entsize = h.is64 ? 24 : 16;
    this.count = Math.floor(bytes.length / this.entsize);
    this.names = strtab;
    this.decodedNames = new Array(this.count);
  }

  /** File offset of entry i, for error messages. */
  entryOffset(i: number): number {
    return this.section.offset + i * this.entsize;
  }
  nameOffset(i: number): number {
    return this.view.getUint32(i * this.entsize, this.h.little);
  }
  name(i: number): string {
    return (this.decodedNames[i] ??= this.names.get(this.nameOffset(i), `name of symbol ${i} in section ${this.section.index} (${this.section.name})`));
  }
  info(i: number): number {
    return this.view.getUint8(i * this.entsize + (this.h.is64 ? 4 : 12));
  }
  type(i: number): number {
    return this.info(i) & 0xf;
  }
  bind(i: number): number {
    return this.info(i) >> 4;
  }
  visibility(i: number): number {
    return this.view.getUint8(i * this.entsize + (this.h.is64 ? 5 : 13)) & 0x3;
  }
  /** st_shndx as stored (SHN_XINDEX included). */
  rawShndx(i: number): number {
    return this.view.getUint16(i * this.entsize + (this.h.is64 ? 6 : 14), this.h.little);
  }
  /** The real section index: SHN_XINDEX entries are resolved through SHT_SYMTAB_SHNDX. */
  shndx(i: number): number {
    const raw = this.rawShndx(i);
    if (raw !== SHN_XINDEX) return raw;
    if (!this.xindex || (i + 1) * 4 > this.xindex.byteLength) {
      throw new ObjectError(this.file, this.section.offset + i * this.entsize,
        `symbol ${i}: st_shndx is SHN_XINDEX but no SHT_SYMTAB_SHNDX entry exists for it`);
    }
    return this.xindex.getUint32(i * 4, this.h.little);
  }
  /** st_value. */
  value(i: number): bigint {
    const o = i * this.entsize;
    return this.h.is64 ? this.view.getBigUint64(o + 8, this.h.little) : BigInt(this.view.getUint32(o + 4, this.h.little));
  }
  /** st_value as 16 hex digits. */
  valueHex(i: number): string {
    const o = i * this.entsize;
    const { little } = this.h;
    if (!this.h.is64) return hex64(0, this.view.getUint32(o + 4, little));
    return hex64(this.view.getUint32(o + 8 + (little ? 4 : 0), little), this.view.getUint32(o + 8 + (little ? 0 : 4), little));
  }
  size(i: number): number {
    const o = i * this.entsize;
    return this.h.is64 ? readOffset64(this.view, o + 16, this.h.little) : this.view.getUint32(o + 8, this.h.little);
  }
}

/** Finds `.symtab` (never the dynamic table: kallsyms is built from the full table) and checks its links. */
export function readSymbolTable(src: ByteSource, h: ElfHeader, sections: readonly Section[]): SymbolTable | null {
  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  if (!symtab) return null;
  const wantEntsize = h.is64 ? 24 : 16;
  if (symtab.entsize !== wantEntsize) {
    throw new ObjectError(src.file, symtab.headerOffset, `section ${symtab.index} (${symtab.name}): expected sh_entsize ${wantEntsize}, found ${symtab.entsize}`);
  }
  const strSec = sections[symtab.link];
  if (!strSec || strSec.type !== SHT_STRTAB) {
    throw new ObjectError(src.file, symtab.headerOffset,
      `section ${symtab.index} (${symtab.name}): sh_link ${symtab.link} should name a SHT_STRTAB section, found ${strSec ? `type ${strSec.type} (${strSec.name})` : 'no such section'}`);
  }
  const strtab = new StringTable(sectionBytes(src, strSec), src.file, strSec.offset);
  const shndxSec = sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === symtab.index);
  const xindex = shndxSec ? viewOf(sectionBytes(src, shndxSec)) : null;
  return new SymbolTable(src.file, symtab, sectionBytes(src, symtab), strtab, h, xindex);
}

/** The value (16 hex digits) of the first symbol of each name, for the names present. */
export function firstValues(t: SymbolTable, names: readonly string[]): Map<string, string> {
  const wanted = new Set(names);
  const values = new Map<string, string>();
  for (let i = 1; i < t.count && values.size < wanted.size; i++) {
    const name = t.name(i);
    if (wanted.has(name) && !values.has(name)) values.set(name, t.valueHex(i));
  }
  return values;
}
