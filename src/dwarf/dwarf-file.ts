// DwarfFile, the DWARF sections of one ELF object opened lazily by name, and the one place that chooses how each
// is stored: in memory (decompressed or read whole), read by ranges from disk, or relocated range by range on disk.
import { closeSync, openSync } from 'node:fs';
import { debugSectionName, isCompressedSection, sectionContents } from '../elf/compressed.js';
import { ET_REL, SHT_NOBITS, SHT_RELA } from '../elf/constants.js';
import type { ElfHeader } from '../elf/header.js';
import { LazyRelocator, RelocatedTargets, RelocationTable, relocationSectionsFor } from '../elf/relocations.js';
import type { Section } from '../elf/sections.js';
import type { SymbolTable } from '../elf/symbols.js';
import { ObjectError } from '../errors.js';
import { type ByteSource, BufferSource, preadFully } from '../io/source.js';
import { sectionBuffers } from './buffers.js';
import { DiskRelocatedSection } from './disk-relocated-section.js';
import { FileRangeSection } from './file-range-section.js';
import { MemorySection } from './memory-section.js';
import { DiskRelocation, MemoryRelocation } from './relocate.js';
import type { DwarfSection, DwarfSections } from './section.js';

/** Sections whose relocatable fields are all decoded through DieCursor / parseUnitHeader, which call fix(). */
const BY_FIELD = new Set(['.debug_info', '.debug_types']);

/** Sections that are only ever read unit by unit (length-prefixed), so a huge vmlinux need not load them whole. */
const RANGED = new Set(['.debug_info', '.debug_line', '.debug_types', '.debug_loclists', '.debug_loc']);

/**
 * Sections of on-disk objects at least `diskMin` bytes are read by ranges, never whole. Exported so that
 * tests can drive small fixtures through the large-object paths.
 */
export const tuning = { diskMin: 16 << 20 };

/**
 * The DWARF sections of one ELF object, opened lazily by name. A problem with one section (bad compression,
 * an unknown relocation) is reported through `onError` and that section is treated as absent or partially
 * relocated; the other sections stay usable.
 */
export class DwarfFile implements DwarfSections {
  readonly relocatable: boolean;
  private byName = new Map<string, Section>();
  private cache = new Map<string, DwarfSection | null>();
  private taken: Buffer[] = [];
  private fd: number | null = null;

  constructor(
    readonly src: ByteSource,
    readonly h: ElfHeader,
    readonly sections: readonly Section[],
    private symtab: SymbolTable | null,
    private onError: (e: ObjectError) => void,
  ) {
    this.relocatable = h.type === ET_REL;
    for (const s of sections) {
      if (s.type === SHT_NOBITS || s.size === 0) continue;
      const name = debugSectionName(s.name);
      if (!name.startsWith('.debug_')) continue;
      // If both `.debug_x` and `.zdebug_x` exist (never seen), the first one wins.
      if (!this.byName.has(name)) this.byName.set(name, s);
    }
  }

  get file(): string {
    return this.src.file;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The named section (`.debug_info`), or null when the object has none or it could not be opened. */
  section(name: string): DwarfSection | null {
    let sec = this.cache.get(name);
    if (sec !== undefined) return sec;
    try {
      sec = this.open(name);
    } catch (e) {
      if (!(e instanceof Error) || !('file' in e)) throw e;
      this.onError(e as ObjectError);
      sec = null;
    }
    this.cache.set(name, sec);
    return sec;
  }

  /** Releases file descriptors and hands the section buffers back for the next object. */
  close(): void {
    for (const s of this.cache.values()) if (s instanceof FileRangeSection || s instanceof DiskRelocatedSection) s.close();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    for (const b of this.taken.splice(0)) sectionBuffers.release(b);
    this.cache.clear();
  }

  /**
   * A section's stored bytes in a recycled buffer: a private copy (relocations may write to it) that costs
   * no fresh memory once the worker has seen an object of this size.
   */
  private readPooled(s: Section): Buffer {
    const b = sectionBuffers.take(s.size);
    this.taken.push(b);
    const out = b.subarray(0, s.size);
    const { src } = this;
    if (s.offset + s.size > src.size) {
      throw new ObjectError(src.file, s.headerOffset, `section ${s.index} (${s.name}): expected ${s.size} bytes at 0x${s.offset.toString(16)}, the object ends at 0x${src.size.toString(16)}`, 'truncated');
    }
    if (src instanceof BufferSource) {
      src.bytes.copy(out, 0, s.offset, s.offset + s.size);
      return out;
    }
    this.fd ??= openSync(src.file, 'r');
    const got = preadFully(this.fd, out, s.offset);
    if (got < s.size) throw new ObjectError(src.file, s.offset + got, `section ${s.index} (${s.name}): the file ended while reading`, 'io');
    return out;
  }

  private open(name: string): DwarfSection | null {
    const s = this.byName.get(name);
    if (!s) return null;
    const { src, h } = this;
    const compressed = isCompressedSection(s);
    const fileOffset = compressed ? null : s.offset;
    const onDisk = !compressed && !(src instanceof BufferSource);
    if (!this.relocatable && onDisk && (RANGED.has(name) || s.size >= tuning.diskMin)) {
      // Unit by unit for .debug_info/.debug_line; page by page for a huge string section.
      return new FileRangeSection(src.file, name, s.index, h.little, src, s);
    }
    if (this.relocatable && onDisk && s.size >= tuning.diskMin) {
      const rels = relocationSectionsFor(this.sections, s);
      if (rels.length === 0) return new FileRangeSection(src.file, name, s.index, h.little, src, s, true);
      if (rels.length === 1 && this.symtab && RANGED.has(name)) {
        const fd = () => (this.fd ??= openSync(src.file, 'r'));
        const relocation = new DiskRelocation(src.file, name, fd, s, rels[0], h, this.symtab, this.onError, BY_FIELD.has(name));
        if (relocation.sortedSample()) return new DiskRelocatedSection(src.file, name, s.index, h.little, fd, s, relocation);
      }
    }
    const bytes = compressed ? sectionContents(src, h, s) : this.readPooled(s);
    const inMemory = (relocation: MemoryRelocation | null) => new MemorySection(src.file, name, s.index, fileOffset, h.little, bytes, relocation);
    if (!this.relocatable) return inMemory(null);
    const rels = relocationSectionsFor(this.sections, s);
    if (rels.length === 0 || !this.symtab) return inMemory(MemoryRelocation.targets(RelocatedTargets.EMPTY));
    const tables = rels.map((r) => {
      const want = (h.is64 ? 8 : 4) * (r.type === SHT_RELA ? 3 : 2);
      if (r.entsize !== 0 && r.entsize !== want) {
        throw new ObjectError(src.file, r.headerOffset, `section ${r.index} (${r.name}): expected sh_entsize ${want}, found ${r.entsize}`);
      }
      return new RelocationTable(src.file, r, this.readPooled(r), h);
    });
    const relocator = new LazyRelocator(src.file, h, s, bytes, tables, this.symtab);
    // DIE attributes: relocated one field at a time as the cursor decodes them.
    if (BY_FIELD.has(name)) return inMemory(MemoryRelocation.byField(relocator));
    // Read at arbitrary offsets with open-ended readers (range lists, address tables): relocate them whole.
    if (!RANGED.has(name)) return inMemory(MemoryRelocation.applied(relocator, bytes.length, this.onError));
    // Units and line programs are read by exact ranges: relocate only the ones decoded.
    return inMemory(MemoryRelocation.onRead(relocator, this.onError));
  }
}
