// class Dwarf, the DWARF of one object opened lazily: units located and decoded only when asked for, string and
// address tables and line programs opened on first use; nothing walks all of `.debug_info` unless asked to.
import { AbbrevCache } from './abbrev.js';
import { BufferPool } from './buffers.js';
import * as C from './constants.js';
import { LineProgram } from './line.js';
import { DwarfError, DwarfReader, ReservedLengthError } from './reader.js';
import type { DwarfSection, DwarfSections } from './section.js';
import { Unit } from './unit.js';
import { parseUnitHeader, readUnitSize } from './unit-header.js';
import { partitionPoint } from '../partition-point.js';

/** How many decoded units stay cached for reference chasing; a kernel unit is ~60 KB of DWARF on average. */
const UNIT_CACHE = 48;
/** Bytes read to decode a unit DIE alone; gcc's unit DIE (strp producer) is well under 200 bytes. */
const SUMMARY_BYTES = 2048;
/** The smallest unit_length a unit can have: version, debug_abbrev_offset, address_size (DWARF 2–4). */
const MIN_UNIT_LENGTH = 7;

export class Dwarf {
  private abbrevCache: AbbrevCache | null = null;
  private units = new Map<string, Unit>();
  private offsets = new Map<DwarfSection, number[]>();
  private typeUnits: Map<bigint, { section: DwarfSection; offset: number }> | null = null;
  private lines = new Map<number, LineProgram | null>();
  /**
   * Unit buffers of on-disk sections, recycled: first-touching fresh memory costs more than the pread itself
   * (measured: ~4 ms per MB on a 2-core VM), and a vmlinux lookup may read 100+ MB of units. Allocations are
   * rounded up so that a recycled buffer fits most later units.
   */
  private buffers: BufferPool;
  private prefixes = new Map<string, Buffer>();
  /** Unit sizes learned while hopping over unit_length fields: a later unit() needs no length read. */
  private sizes = new Map<string, number>();
  private backing = new Map<Unit, Buffer>();
  /**
   * What failed to decode, by key (`unit` section:offset, `line` offset): a broken unit or line program is
   * parsed once per object, and every later lookup throws the same error object, which error sinks count
   * once (a zeroed .debug_info once cost one failed parse per symbol and 1.4 M error rows).
   */
  private broken = new Map<string, unknown>();
  /** Per section: why hopping over unit_length fields stopped before the end (the rest is not units). */
  private tails = new Map<DwarfSection, DwarfError>();

  /**
   * `unitCache`: decoded units kept. A reader that visits each unit once (symbolize, in unit order) needs few,
   * and each one kept is a unit buffer of fresh memory.
   */
  constructor(readonly file: DwarfSections, private unitCache = UNIT_CACHE) {
    this.buffers = new BufferPool((size) => Math.max(size, 1 << 16) + (1 << 14), { count: unitCache, bytes: Infinity });
  }

  /** Runs `decode` once per key: a failure is remembered and thrown again, unchanged, on the next call. */
  private once<T>(key: string, decode: () => T): T {
    if (this.broken.has(key)) throw this.broken.get(key);
    try {
      return decode();
    } catch (e) {
      this.broken.set(key, e);
      throw e;
    }
  }

  get info(): DwarfSection | null {
    return this.file.section('.debug_info');
  }

  private abbrevs(): AbbrevCache {
    if (!this.abbrevCache) {
      const s = this.file.section('.debug_abbrev');
      if (!s) throw new DwarfError({ file: this.file.file, name: '.debug_abbrev', fileOffset: null }, 0, 'the object has .debug_info but no .debug_abbrev');
      this.abbrevCache = new AbbrevCache(s);
    }
    return this.abbrevCache;
  }

  /** The unit starting at `offset` of `section` (`.debug_info` by default). */
  unit(offset: number, section: DwarfSection | null = this.info): Unit {
    if (!section) throw new DwarfError({ file: this.file.file, name: '.debug_info', fileOffset: null }, offset, 'no .debug_info section');
    const key = `${section.index}:${offset}`;
    const u = this.units.get(key);
    if (u) {
      this.units.delete(key);
      this.units.set(key, u);
      return u;
    }
    return this.once(`unit ${key}`, () => {
      // A unit (named by .debug_aranges, say) in the part of the section already known to hold no units.
      const known = this.tails.get(section);
      if (known && offset >= known.sectionOffset) throw known;
      try {
        return this.decodeUnit(section, offset, key);
      } catch (e) {
        // A unit named from outside (.debug_aranges) in a part of the section that holds no units: the
        // section's one error about that part stands for it.
        const tail = e instanceof DwarfError ? (this.unitOffsets(section), this.tails.get(section)) : undefined;
        throw tail && offset >= tail.sectionOffset ? tail : e;
      }
    });
  }

  private decodeUnit(section: DwarfSection, offset: number, key: string): Unit {
    if (offset < 0 || offset >= section.size) throw new DwarfError(section, offset, `unit offset is outside the section (size 0x${section.size.toString(16)})`);
    const size = this.sizes.get(key) ?? readUnitSize(section, offset);
    if (offset + size > section.size) throw new DwarfError(section, offset, `unit of 0x${size.toString(16)} bytes runs past the end of the section`, 'truncated');
    let bytes: Buffer;
    let backing: Buffer | null = null;
    if (section.inMemory || !section.readInto) {
      bytes = section.read(offset, size, `unit at 0x${offset.toString(16)}`);
    } else {
      backing = this.buffers.take(size);
      bytes = backing.subarray(0, size);
      section.readInto(offset, bytes, `unit at 0x${offset.toString(16)}`);
    }
    let u: Unit;
    try {
      const header = parseUnitHeader(new DwarfReader(bytes, section.little, section, offset), section);
      u = new Unit(this.file, header, bytes, this.abbrevs().get(header.abbrevOffset));
    } catch (e) {
      if (backing) this.buffers.release(backing);
      throw e;
    }
    if (backing) this.backing.set(u, backing);
    this.units.set(key, u);
    if (this.units.size > this.unitCache) {
      const [oldKey, old] = this.units.entries().next().value!;
      this.units.delete(oldKey);
      this.release(old);
    }
    return u;
  }

  private release(u: Unit): void {
    u.released = true;
    const b = this.backing.get(u);
    if (!b) return;
    this.backing.delete(u);
    this.buffers.release(b);
  }

  /**
   * Start offsets of every unit of `section`, found by hopping over unit_length fields. On disk each hop
   * reads the unit's first 2 KB and keeps it: a later unitSummary() of that unit then costs no I/O. Hopping
   * stops at a unit_length no unit can have (too small for a header, reserved, or past the section's end,
   * as in a section zeroed or cut from some offset on): the bytes after it cannot be split into units, and
   * `unitListError` says why, once.
   */
  unitOffsets(section: DwarfSection | null = this.info, keepPrefixes = true): number[] {
    if (!section) return [];
    let list = this.offsets.get(section);
    if (!list) {
      list = [];
      let at = 0;
      while (at + 4 <= section.size) {
        let size: number;
        try {
          size = this.hop(section, at, keepPrefixes);
        } catch (e) {
          if (!(e instanceof DwarfError)) throw e;
          this.tails.set(section, e);
          break;
        }
        list.push(at);
        at += size;
      }
      this.offsets.set(section, list);
    }
    return list;
  }

  /** Why unitOffsets() stopped before the end of `section`, or null when it read every unit. */
  unitListError(section: DwarfSection | null = this.info): DwarfError | null {
    return section ? (this.tails.get(section) ?? null) : null;
  }

  /**
   * The size of the unit at `at`, checked to be a possible unit that ends inside the section. On disk the
   * unit's first 2 KB are read and kept for unitSummary() unless `keepPrefix` is false (a caller that
   * summarizes few units): then only the length field is read.
   */
  private hop(section: DwarfSection, at: number, keepPrefix: boolean): number {
    let r: DwarfReader;
    if (section.inMemory || !keepPrefix) r = section.reader(at, Math.min(12, section.size - at));
    else {
      const prefix = section.read(at, Math.min(SUMMARY_BYTES, section.size - at), `unit at 0x${at.toString(16)}`);
      this.prefixes.set(`${section.index}:${at}`, prefix);
      r = new DwarfReader(prefix, section.little, section, at, 0, prefix.length);
    }
    const rest = `; the 0x${(section.size - at).toString(16)} bytes from here to the end of the section are not read as units`;
    let length: number;
    try {
      length = r.initialLength('unit_length').length;
    } catch (e) {
      if (e instanceof ReservedLengthError) r.fail(`${e.reason}${rest}`, 0);
      throw e;
    }
    const size = r.pos + length;
    if (length < MIN_UNIT_LENGTH) r.fail(`unit_length ${length} is too small for a unit header (at least ${MIN_UNIT_LENGTH})${rest}`, 0);
    if (at + size > section.size) r.fail(`unit_length 0x${length.toString(16)} runs past the end of the section${rest}`, 0, 'truncated');
    this.sizes.set(`${section.index}:${at}`, size);
    return size;
  }

  /**
   * A unit with only its unit DIE guaranteed readable: for naming and ranging units without loading their
   * DIE trees (one pread of 2 KB in a vmlinux instead of the whole unit). Not cached.
   */
  unitSummary(offset: number, section: DwarfSection | null = this.info): Unit {
    if (!section) throw new DwarfError({ file: this.file.file, name: '.debug_info', fileOffset: null }, offset, 'no .debug_info section');
    const key = `${section.index}:${offset}`;
    const cached = this.units.get(key);
    if (cached || section.inMemory) return cached ?? this.unit(offset, section);
    // A header that does not parse from the prefix would not parse from the whole unit either.
    const { bytes, header } = this.once(`unit ${key}`, () => {
      const bytes = this.prefixes.get(key) ?? section.read(offset, Math.min(SUMMARY_BYTES, section.size - offset), `unit at 0x${offset.toString(16)}`);
      return { bytes, header: parseUnitHeader(new DwarfReader(bytes, section.little, section, offset, 0, bytes.length), section) };
    });
    if (header.end - offset <= bytes.length) return this.unit(offset, section);
    try {
      // Clip the unit to the bytes read so that a unit DIE larger than the prefix fails cleanly.
      return new Unit(this.file, { ...header, end: offset + bytes.length }, bytes, this.abbrevs().get(header.abbrevOffset));
    } catch (e) {
      if (!(e instanceof DwarfError)) throw e;
      return this.unit(offset, section);
    }
  }

  /** The unit holding section offset `offset` (for DW_FORM_ref_addr), or null. */
  unitContaining(section: DwarfSection, offset: number): Unit | null {
    const list = this.unitOffsets(section);
    const found = partitionPoint(list.length, (k) => list[k] <= offset) - 1;
    if (found < 0) return null;
    const u = this.unit(list[found], section);
    return offset < u.end ? u : null;
  }

  /** The type unit with this signature (DWARF 5 type units in .debug_info, DWARF 4 in .debug_types). */
  typeUnit(signature: bigint): Unit | null {
    if (!this.typeUnits) {
      this.typeUnits = new Map();
      for (const name of ['.debug_info', '.debug_types']) {
        const section = this.file.section(name);
        if (!section) continue;
        for (const offset of this.unitOffsets(section)) {
          const head = section.read(offset, Math.min(40, section.size - offset), 'unit header');
          let h;
          try {
            h = parseUnitHeader(new DwarfReader(head, section.little, section, offset, 0, head.length), section);
          } catch {
            continue; // only the header prefix was read; a unit too short for a type header is not a type unit
          }
          if (h.typeSignature !== null && (h.unitType === C.DW_UT_type || h.unitType === C.DW_UT_split_type)) {
            this.typeUnits.set(h.typeSignature, { section, offset });
          }
        }
      }
    }
    const t = this.typeUnits.get(signature);
    return t ? this.unit(t.offset, t.section) : null;
  }

  /** The line program of a unit (DW_AT_stmt_list), header parsed; null when the unit has none. */
  lineProgram(unit: Unit): LineProgram | null {
    const off = unit.stmtList;
    if (off === null) return null;
    let p = this.lines.get(off);
    if (p !== undefined) {
      this.lines.delete(off);
      this.lines.set(off, p);
      return p;
    }
    const s = this.file.section('.debug_line');
    p = s ? this.once(`line ${off}`, () => LineProgram.parse(s, off, unit)) : null;
    this.lines.set(off, p);
    // Kept like units, the most recent only: a vmlinux walk would otherwise hold every unit's file table.
    if (this.lines.size > UNIT_CACHE) this.lines.delete(this.lines.keys().next().value!);
    return p;
  }
}
