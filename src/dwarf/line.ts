// `.debug_line`: one unit's line-number program (DWARF 2–5), its directory and file tables, file paths as
// llvm-dwarfdump prints them, and the rows at or covering given addresses (site fallback, symbolize).
import * as C from './constants.js';
import { DwarfReader } from './reader.js';
import type { Address, DwarfSection } from './section.js';
import type { Unit } from './unit.js';
import { partitionPoint } from '../partition-point.js';

const HEADER_GUESS = 4096;

export interface FileEntry {
  readonly name: string;
  readonly dir: number;
}

export interface LineRow {
  /** File register: an index into the file table with the program's own convention (see filePath). */
  readonly file: number;
  readonly line: number;
  /** DW_LNS_set_column's register (0: no column); filled by coveringRows only. */
  readonly column?: number;
}

/** Joins path parts the way llvm's sys::path::append does: empty parts vanish, one '/' between parts. */
export function joinPath(...parts: string[]): string {
  let out = '';
  for (const p of parts) {
    if (!p) continue;
    if (!out || p.startsWith('/')) out = p;
    else out = out.endsWith('/') ? out + p : `${out}/${p}`;
  }
  return out;
}

/**
 * One line-number program (DWARF 2–5): its header (directory and file tables) is parsed eagerly; the opcode
 * stream only when rows are asked for.
 */
export class LineProgram {
  private constructor(
    readonly section: DwarfSection,
    readonly offset: number,
    readonly version: number,
    private readonly programStart: number,
    private readonly end: number,
    private readonly addressSize: number,
    private readonly minInst: number,
    private readonly maxOps: number,
    private readonly lineBase: number,
    private readonly lineRange: number,
    private readonly opcodeBase: number,
    private readonly stdLengths: number[],
    readonly dirs: string[],
    readonly files: FileEntry[],
    readonly compDir: string | null,
  ) {}

  static parse(section: DwarfSection, offset: number, unit: Unit): LineProgram {
    // One read covers the header of most programs (a kernel unit's is 2–4 KB); larger ones are read again.
    const first = section.read(offset, Math.min(HEADER_GUESS, section.size - offset), 'line program header');
    const head = new DwarfReader(first, section.little, section, offset, 0, Math.min(12, first.length));
    const { length, is64 } = head.initialLength('line program unit_length');
    const total = head.pos + length;
    if (offset + total > section.size) head.fail(`line program of 0x${length.toString(16)} bytes runs past the section`, 0, 'truncated');
    // Only the header is read now: decl_file lookups need the file table, rarely the opcodes.
    const hr = new DwarfReader(first, section.little, section, offset, head.pos, Math.min(first.length, total));
    const v = hr.u16('line program version');
    if (v >= 5) hr.skip(2, 'address_size, segment_selector_size');
    const headerLength0 = hr.offsetOf(is64, 'header_length');
    const headerEnd = Math.min(total, hr.pos + headerLength0);
    const bytes = headerEnd <= first.length ? first : section.read(offset, headerEnd, `line program header at 0x${offset.toString(16)}`);
    const r = new DwarfReader(bytes, section.little, section, offset, head.pos, headerEnd);
    const version = r.u16('line program version');
    if (version < 2 || version > 5) r.fail(`line program version: expected 2 to 5, found ${version}`, r.pos - 2, 'unsupported');
    let addressSize = unit.header.addressSize;
    if (version >= 5) {
      addressSize = r.u8('address_size');
      r.u8('segment_selector_size');
    }
    const headerLength = r.offsetOf(is64, 'header_length');
    const programStart = r.pos + headerLength;
    if (programStart > total || programStart > headerEnd) r.fail(`header_length 0x${headerLength.toString(16)} runs past the program`, r.pos, 'truncated');
    const minInst = r.u8('minimum_instruction_length');
    const maxOps = version >= 4 ? r.u8('maximum_operations_per_instruction') : 1;
    r.u8('default_is_stmt');
    const lineBase = r.s8('line_base');
    const lineRange = r.u8('line_range');
    const opcodeBase = r.u8('opcode_base');
    if (lineRange === 0) r.fail('line_range is 0', r.pos - 2);
    const stdLengths: number[] = [];
    for (let i = 1; i < opcodeBase; i++) stdLengths.push(r.u8('standard_opcode_lengths'));
    const dirs: string[] = [];
    const files: FileEntry[] = [];
    if (version >= 5) {
      for (const d of readEntries(r, 'directories', unit, is64)) dirs.push(d.name);
      files.push(...readEntries(r, 'file_names', unit, is64));
    } else {
      for (;;) {
        const d = r.cstring('include_directories entry');
        if (!d) break;
        dirs.push(d);
      }
      for (;;) {
        const name = r.cstring('file_names entry');
        if (!name) break;
        const dir = r.uleb('directory index');
        r.skipLeb('modification time');
        r.skipLeb('file length');
        files.push({ name, dir });
      }
    }
    return new LineProgram(section, offset, version, programStart, total, addressSize, minInst, Math.max(maxOps, 1),
      lineBase, lineRange, opcodeBase, stdLengths, dirs, files, unit.compDir);
  }

  /**
   * The path of file `index` as llvm-dwarfdump prints it (its "absolute file path" kind): the file name, under
   * its include directory, under DW_AT_comp_dir when still relative — except DWARF 5 directory 0, which
   * already is the compilation directory. DWARF 5 indexes files from 0, DWARF 2–4 from 1.
   */
  filePath(index: number): string | null {
    const v5 = this.version >= 5;
    const entry = v5 ? this.files[index] : index > 0 ? this.files[index - 1] : undefined;
    if (!entry) return null;
    if (entry.name.startsWith('/')) return entry.name;
    const dir = v5 ? this.dirs[entry.dir] ?? '' : entry.dir > 0 ? this.dirs[entry.dir - 1] ?? '' : '';
    const underCompDir = (!v5 || entry.dir !== 0) && !dir.startsWith('/') && this.compDir;
    return joinPath(underCompDir ? this.compDir! : '', dir, entry.name);
  }

  /**
   * For each target address, the first row of the program (in program order) at exactly that address, or
   * null. End-of-sequence rows mark the end of a range and never count. In relocatable objects a sequence's
   * section is that of its DW_LNE_set_address relocation.
   */
  firstRows(targets: readonly Address[]): (LineRow | null)[] {
    const out: (LineRow | null)[] = targets.map(() => null);
    let pending = targets.length;
    if (pending === 0) return out;
    // Targets as offsets from the current sequence base: row addresses then stay plain numbers.
    let rel = new Map<number, number[]>();
    this.execute({
      sequence: (section, base) => {
        rel = new Map();
        for (let i = 0; i < targets.length; i++) {
          const key = offsetFrom(targets[i], section, base);
          if (out[i] !== null || key === null) continue;
          const list = rel.get(key);
          if (list) list.push(i);
          else rel.set(key, [i]);
        }
      },
      row: (off, file, line) => {
        const hits = rel.get(off);
        if (!hits) return;
        for (const i of hits) {
          if (out[i] === null) {
            out[i] = { file, line };
            pending--;
          }
        }
        rel.delete(off);
      },
      end: () => {},
      done: () => pending === 0,
    });
    return out;
  }

  /**
   * For each target address, the row that covers it as llvm's line-table lookup picks it: inside a sequence
   * [first row, end_sequence), the last row (in program order) whose address is at or below the target.
   * Null when no sequence covers the address. One pass: the targets, sorted, are answered as the rows pass
   * them (a row above a target closes it with the row before), the rest of a sequence's at its end.
   */
  coveringRows(targets: readonly Address[]): (LineRow | null)[] {
    const out: (LineRow | null)[] = targets.map(() => null);
    let pending = targets.length;
    if (pending === 0) return out;
    const order = Array.from(targets.keys()).sort((a, b) => compareAddress(targets[a], targets[b]));
    let section = 0;
    let base = 0n;
    // The next target (position in `order`) and its offset from `base`; Infinity when none lies in this sequence.
    let next = 0;
    let nextAt = Infinity;
    const measure = () => {
      const d = next < order.length ? offsetFrom(targets[order[next]], section, base) : null;
      nextAt = d === null ? Infinity : d;
    };
    this.spans({
      sequence: (s, b) => {
        section = s;
        base = b;
        // This sequence's targets: those of its section from its base on (within 4 GB of it).
        const from = { section: s, value: b };
        next = partitionPoint(order.length, (k) => compareAddress(targets[order[k]], from) < 0);
        measure();
      },
      // Closes the sequence's targets below `to` with the row at `from` (when it lies at or below them).
      span: (from, to, file, line, column) => {
        while (nextAt < to) {
          if (from !== null && from <= nextAt) {
            const i = order[next];
            if (out[i] === null) pending--;
            out[i] = { file, line, column };
          }
          next++;
          measure();
        }
      },
      // Sequences do not overlap: once every target has its row, later sequences cannot change it.
      done: () => pending === 0,
    });
    return out;
  }

  /**
   * Every row's span as coveringRows answers it, in program order: [the row's address, the next row's) inside
   * a sequence, the last row's up to end_sequence. Empty spans and those of unrelocated sequences (section -1)
   * are left out; `span` gets offsets from the sequence base.
   */
  rowSpans(span: (section: number, base: bigint, start: number, end: number, file: number, line: number, column: number) => void): void {
    let section = 0;
    let base = 0n;
    this.spans({
      sequence: (s, b) => {
        section = s;
        base = b;
      },
      span: (from, to, file, line, column) => {
        if (from !== null && to > from && section >= 0) span(section, base, from, to, file, line, column);
      },
      done: () => false,
    });
  }

  /**
   * Runs the program as row spans: each sequence's section and base, then per row and end_sequence the span
   * from the row before (null: none yet in this sequence) to it, with that row's registers. gcc sets the
   * address again at each function inside one sequence: offsets keep counting from the sequence's first base.
   */
  private spans(sink: SpanSink): void {
    let section = 0;
    let base = 0n;
    /** Added to execute's offsets: they restart at each set_address, spans here count from the first. */
    let shift = 0;
    let have = false;
    let prevOff = 0;
    let prevFile = 0;
    let prevLine = 0;
    let prevColumn = 0;
    this.execute({
      sequence: (s, b) => {
        if (have && s === section) {
          shift = Number(b - base);
          return;
        }
        section = s;
        base = b;
        shift = 0;
        sink.sequence(s, b);
      },
      row: (off, file, line, column) => {
        sink.span(have ? prevOff : null, off + shift, prevFile, prevLine, prevColumn);
        have = true;
        prevOff = off + shift;
        prevFile = file;
        prevLine = line;
        prevColumn = column;
      },
      end: (off) => {
        sink.span(have ? prevOff : null, off + shift, prevFile, prevLine, prevColumn);
        have = false;
      },
      done: () => sink.done(),
    });
  }

  /**
   * Runs the line-number program, telling `sink` where each sequence's addresses are counted from (a reset,
   * or DW_LNE_set_address with the section its relocation names), each row as an offset from there, and each
   * end_sequence; stops early when `sink.done()`.
   */
  private execute(sink: RowSink): void {
    const program = opcodes(this.section, this.offset + this.programStart, this.end - this.programStart);
    const r = new DwarfReader(program, this.section.little, this.section, this.offset + this.programStart);
    const relocatable = this.section.relocatable;
    let off = 0;
    let opIndex = 0;
    let file = 1;
    let line = 1;
    let column = 0;
    const reset = () => {
      off = 0;
      opIndex = 0;
      file = 1;
      line = 1;
      column = 0;
      sink.sequence(relocatable ? -1 : 0, 0n);
    };
    const advance = (operation: number) => {
      if (this.maxOps === 1) off += this.minInst * operation;
      else {
        off += this.minInst * Math.floor((opIndex + operation) / this.maxOps);
        opIndex = (opIndex + operation) % this.maxOps;
      }
    };
    reset();
    const { opcodeBase, lineBase, lineRange } = this;
    while (r.pos < r.end && !sink.done()) {
      const op = r.u8('line opcode');
      if (op >= opcodeBase) {
        const adjusted = op - opcodeBase;
        advance(Math.floor(adjusted / lineRange));
        line += lineBase + (adjusted % lineRange);
        sink.row(off, file, line, column);
        continue;
      }
      switch (op) {
        case 0: {
          const len = r.uleb('extended opcode length');
          if (len === 0) break;
          const next = r.pos + len;
          if (next > r.end) r.fail(`extended opcode of ${len} bytes runs past the program`, r.pos, 'truncated');
          const sub = r.u8('extended opcode');
          if (sub === C.DW_LNE_end_sequence) {
            sink.end(off);
            reset();
          } else if (sub === C.DW_LNE_set_address) {
            const size = len - 1;
            const at = r.offset;
            const value = r.address(size === 8 || size === 4 || size === 2 ? size : this.addressSize, 'DW_LNE_set_address');
            off = 0;
            opIndex = 0;
            sink.sequence(this.section.targetAt(at), value);
          } else if (sub === C.DW_LNE_define_file) {
            const name = r.cstring('DW_LNE_define_file name');
            this.files.push({ name, dir: r.uleb('directory index') });
          }
          r.pos = next;
          break;
        }
        case C.DW_LNS_copy: sink.row(off, file, line, column); break;
        case C.DW_LNS_advance_pc: advance(r.uleb('DW_LNS_advance_pc')); break;
        case C.DW_LNS_advance_line: line += r.sleb('DW_LNS_advance_line'); break;
        case C.DW_LNS_set_file: file = r.uleb('DW_LNS_set_file'); break;
        case C.DW_LNS_set_column: column = r.uleb('DW_LNS_set_column'); break;
        case C.DW_LNS_const_add_pc: advance(Math.floor((255 - opcodeBase) / lineRange)); break;
        case C.DW_LNS_fixed_advance_pc:
          off += r.u16('DW_LNS_fixed_advance_pc');
          opIndex = 0;
          break;
        default:
          // negate_stmt, basic_block, prologue/epilogue, isa, and opcodes we do not know:
          // the header says how many ULEB operands each takes.
          for (let i = 0; i < (this.stdLengths[op - 1] ?? 0); i++) r.skipLeb('standard opcode operand');
      }
    }
  }
}

/** Opcodes of on-disk programs are read into one buffer, reused: a run is over before the next begins. */
let scratch = Buffer.alloc(0);

/** A program's opcode bytes: a view of an in-memory section, else read into the scratch buffer. */
function opcodes(section: DwarfSection, offset: number, length: number): Buffer {
  if (section.inMemory || !section.readInto) return section.read(offset, length, 'line program opcodes');
  if (scratch.length < length) scratch = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(Math.max(length, 1 << 16))));
  const bytes = scratch.subarray(0, length);
  section.readInto(offset, bytes, 'line program opcodes');
  return bytes;
}

/** What LineProgram.spans reports: offsets from the base of the current sequence. */
interface SpanSink {
  sequence(section: number, base: bigint): void;
  span(from: number | null, to: number, file: number, line: number, column: number): void;
  done(): boolean;
}

/** What LineProgram.execute reports; offsets are from the base of the current sequence. */
interface RowSink {
  sequence(section: number, base: bigint): void;
  row(off: number, file: number, line: number, column: number): void;
  end(off: number): void;
  done(): boolean;
}

function compareAddress(a: Address, b: Address): number {
  return a.section - b.section || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0);
}

/** A target's offset from a sequence base in `section`, or null when it lies elsewhere or below it. */
function offsetFrom(t: Address, section: number, base: bigint): number | null {
  if (t.section !== section || t.value < base) return null;
  const d = t.value - base;
  return d > 0xffff_ffffn ? null : Number(d);
}

type EntryFormat = [number, number][];

function readEntryFormat(r: DwarfReader): EntryFormat {
  const n = r.u8('entry_format_count');
  const out: EntryFormat = [];
  for (let i = 0; i < n; i++) out.push([r.uleb('content type'), r.uleb('form')]);
  return out;
}

/**
 * A DWARF 5 directory or file name table: its entry format, count and entries. Every form allowed there takes
 * at least one byte, so a count the rest of the header cannot hold is refused before any entry is read (a
 * fuzzed header claiming 169 M entries of an empty format once grew an array until V8 aborted).
 */
function readEntries(r: DwarfReader, what: 'directories' | 'file_names', unit: Unit, is64: boolean): FileEntry[] {
  const format = readEntryFormat(r);
  const at = r.pos;
  const count = r.uleb(`${what}_count`);
  if (count > 0 && format.length === 0) r.fail(`${what}_count ${count}: expected 0 with an empty ${what} entry format`, at);
  if (count * format.length > r.remaining) {
    r.fail(`${what}_count ${count}: entries of ${format.length} fields take at least ${format.length} bytes each, only ${r.remaining} bytes of the header remain`, at, 'truncated');
  }
  return Array.from({ length: count }, () => readEntry(r, format, unit, is64));
}

function readEntry(r: DwarfReader, format: EntryFormat, unit: Unit, is64: boolean): FileEntry {
  let name = '';
  let dir = 0;
  for (const [type, form] of format) {
    const v = readEntryValue(r, form, unit, is64);
    if (type === C.DW_LNCT_path && typeof v === 'string') name = v;
    else if (type === C.DW_LNCT_directory_index && typeof v === 'number') dir = v;
  }
  return { name, dir };
}

function readEntryValue(r: DwarfReader, form: number, unit: Unit, is64: boolean): string | number | null {
  switch (form) {
    case C.DW_FORM_string: return r.cstring('line table path');
    case C.DW_FORM_line_strp: return unit.lineStr(r.offsetOf(is64, 'DW_FORM_line_strp'));
    case C.DW_FORM_strp: return unit.str(r.offsetOf(is64, 'DW_FORM_strp'));
    case C.DW_FORM_strx: case C.DW_FORM_GNU_str_index: return unit.strx(r.uleb('DW_FORM_strx'));
    case C.DW_FORM_strx1: return unit.strx(r.u8());
    case C.DW_FORM_strx2: return unit.strx(r.u16());
    case C.DW_FORM_strx3: return unit.strx(r.u24());
    case C.DW_FORM_strx4: return unit.strx(r.u32());
    case C.DW_FORM_udata: return r.uleb('line table value');
    case C.DW_FORM_data1: return r.u8();
    case C.DW_FORM_data2: return r.u16();
    case C.DW_FORM_data4: return r.u32();
    case C.DW_FORM_data8: r.skip(8); return null;
    case C.DW_FORM_data16: r.skip(16, 'MD5'); return null;
    case C.DW_FORM_block: r.skip(r.uleb('block length')); return null;
    default: return r.fail(`line table entry form 0x${form.toString(16)} is not allowed there`, r.pos, 'unsupported');
  }
}
