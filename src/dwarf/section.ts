// What the DWARF decoder reads bytes through: DwarfSection (one debug section, however it is stored and
// relocated), DwarfSections (an object's sections by name) and Address (an address with its section).
import { DwarfError, type DwarfReader, type SectionContext } from './reader.js';

/**
 * One DWARF section as the decoder sees it: decompressed, relocated (relocatable objects only), and either
 * held in memory or read range by range from the file.
 */
export interface DwarfSection extends SectionContext {
  /** ELF section index. */
  readonly index: number;
  readonly size: number;
  readonly little: boolean;
  /** Bytes [offset, offset+length) of the section. */
  read(offset: number, length: number, what: string): Buffer;
  /**
   * Copies bytes [offset, offset+target.length) into `target` (sections on disk only): lets the caller
   * recycle unit buffers, since touching fresh memory costs more than the read itself on large objects.
   */
  readInto?(offset: number, target: Buffer, what: string): void;
  /** The whole section (loaded on first use for ranged sections). */
  contents(): Buffer;
  /** The NUL-terminated string at `offset` (string sections: .debug_str, .debug_line_str). */
  cstring(offset: number, what: string): string;
  /**
   * The section an address stored at `offset` belongs to. Relocatable objects: the section of the relocation's
   * symbol, -1 when nothing was relocated there (an unrelocated address is meaningless in a `.o`/`.ko`).
   * Linked objects have one address space: always 0.
   */
  targetAt(offset: number): number;
  /** True in relocatable objects, where addresses are (section, offset) pairs. */
  readonly relocatable: boolean;
  /**
   * The relocated value of the field at `offset` whose stored bytes hold `raw`. Sections relocated as they
   * are read return `raw`; `.debug_info` of a relocatable object is relocated field by field through this.
   */
  fix(offset: number, raw: number): number;
  fixAddress(offset: number, raw: bigint): bigint;
  /** True when reads are views of memory (no I/O): whole units are then as cheap as their headers. */
  readonly inMemory: boolean;
  /** A reader over [offset, offset+length) (the rest of the section by default). */
  reader(offset: number, length?: number): DwarfReader;
}

/** What the decoder needs from an object: its DWARF sections by (canonical) name. */
export interface DwarfSections {
  readonly file: string;
  section(name: string): DwarfSection | null;
}

/** An address read from DWARF: its value and, in a relocatable object, the section it points into. */
export interface Address {
  /** ELF section index (relocatable objects); 0 in linked objects; -1 when an ET_REL value was not relocated. */
  readonly section: number;
  readonly value: bigint;
}

/** Throws unless [offset, offset+length) lies inside the section. */
export function checkRange(section: DwarfSection, offset: number, length: number, what: string): void {
  if (offset < 0 || length < 0 || offset + length > section.size) {
    throw new DwarfError(section, offset, `${what}: expected ${length} bytes, the section has ${Math.max(section.size - offset, 0)} left`, 'truncated');
  }
}

