// Builds the address table of a debug copy (layout in address-table.ts): every unit that covers code, its
// line-table row spans and the subroutine DIEs the inline walk (inline.ts) could end on, with their names.
import * as C from './constants.js';
import {
  HEAD_WORDS, KIND_BLOCK, KIND_INLINED, KIND_SUBPROGRAM, MAGIC, MAP_WORDS, RANGE_WORDS, ROW_WORDS, SHA1_BYTES, type TableMeta, UNIT_WORDS, VERSION,
  sha1, splitAddress,
} from './address-table.js';
import type { Dwarf } from './dwarf.js';
import { dieRanges } from './ranges.js';
import { subroutineName } from './refs.js';
import type { UnitAddressIndex } from './unit-index.js';

const TWO32 = 2 ** 32;

/** A block's strings, numbered in first-use order. */
class Strings {
  private index = new Map<string, number>();

  of(s: string | null): number {
    if (s === null) return -1;
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.index.size;
      this.index.set(s, i);
    }
    return i;
  }

  /** Offsets (count + 1) and the UTF-8 bytes. */
  encode(): { offsets: number[]; bytes: Buffer } {
    const parts = [...this.index.keys()].map((s) => Buffer.from(s, 'utf8'));
    const offsets = [0];
    for (const p of parts) offsets.push(offsets[offsets.length - 1] + p.length);
    return { offsets, bytes: Buffer.concat(parts) };
  }
}

/** A range's length as one word; ranges of 4 GB or more are not kernel code. */
function rangeLength(start: bigint, end: bigint): number {
  if (end <= start) return 0;
  if (end - start > 0xffff_ffffn) throw new Error(`a code range of 0x${(end - start).toString(16)} bytes at 0x${start.toString(16)}`);
  return Number(end - start);
}

/**
 * Row spans of the unit's line program, sorted by section and start (stable: program order among equals);
 * neighbours with the same file, line and column are merged. File registers are left as found.
 */
function rowSpans(dwarf: Dwarf, unitOff: number): { rows: number[]; program: ReturnType<Dwarf['lineProgram']> } {
  const program = dwarf.lineProgram(dwarf.unit(unitOff));
  const spans: number[][] = [];
  let lastBase = -1n;
  let baseHi = 0;
  let baseLo = 0;
  program?.rowSpans((section, base, start, end, file, line, column) => {
    if (base !== lastBase) {
      [baseHi, baseLo] = splitAddress(base);
      lastBase = base;
    }
    const lo = baseLo + start;
    const hi = (baseHi + Math.floor(lo / TWO32)) >>> 0;
    const prev = spans[spans.length - 1];
    if (prev && prev[0] === section && prev[4] === file && prev[5] === line && prev[6] === column
      && (hi - prev[1]) * TWO32 + (lo % TWO32 - prev[2]) === prev[3]) {
      prev[3] += end - start;
      return;
    }
    spans.push([section, hi, lo % TWO32, end - start, file, line, column]);
  });
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  return { rows: spans.flat(), program };
}

/**
 * The unit's subroutine DIEs in pre-order, as inlinedChains() walks them with every target at once: top-level
 * subprograms with code, inside them inlined subroutines and subprograms with code and lexical blocks with
 * ranges (those without are looked through). Names come after the walk: chasing an origin may evict the unit.
 */
function subroutineRecords(dwarf: Dwarf, unitOff: number) {
  const unit = dwarf.unit(unitOff);
  const records: { kind: number; parent: number; end: number; die: number; callFile: number | null; callLine: number; callColumn: number;
    ranges: number[] }[] = [];
  const open: { record: number; depth: number }[] = [];
  const close = () => (records[open.pop()!.record].end = records.length);
  const c = unit.cursor();
  if (!c.next()) return records;
  const constant = (name: number) => {
    const k = c.find(name);
    return k >= 0 ? c.constant(k) : null;
  };
  while (c.next()) {
    while (open.length && open[open.length - 1].depth >= c.depth) close();
    const tag = c.tag;
    const subroutine = tag === C.DW_TAG_subprogram || tag === C.DW_TAG_inlined_subroutine;
    if (!subroutine && (open.length === 0 || tag !== C.DW_TAG_lexical_block)) {
      c.skipChildren();
      continue;
    }
    const ranges = dieRanges(c);
    if (ranges.length === 0) {
      if (subroutine) c.skipChildren();
      continue;
    }
    const inlined = tag === C.DW_TAG_inlined_subroutine;
    records.push({
      kind: subroutine ? (inlined ? KIND_INLINED : KIND_SUBPROGRAM) : KIND_BLOCK,
      parent: open.length ? open[open.length - 1].record : -1,
      end: records.length + 1,
      die: c.offset,
      callFile: inlined ? constant(C.DW_AT_call_file) : null,
      callLine: (inlined ? constant(C.DW_AT_call_line) : null) ?? 0,
      callColumn: (inlined ? constant(C.DW_AT_call_column) : null) ?? 0,
      ranges: ranges.flatMap((r) => [r.section, ...splitAddress(r.start), rangeLength(r.start, r.end)]),
    });
    if (unit.abbrevs.hasChildren(c.decl)) open.push({ record: records.length - 1, depth: c.depth });
  }
  while (open.length) close();
  return records;
}

/** One unit's block. */
function unitBlock(dwarf: Dwarf, unitOff: number): Buffer {
  const { rows, program } = rowSpans(dwarf, unitOff);
  const records = subroutineRecords(dwarf, unitOff);
  const unit = dwarf.unit(unitOff);
  const strings = new Strings();
  const head = [strings.of(unit.name), strings.of(unit.compDir)];
  const path = (file: number | null) => strings.of(program && file !== null ? program.filePath(file) : null);
  for (let k = 0; k < rows.length; k += ROW_WORDS) rows[k + 4] = path(rows[k + 4]);
  const ranges: number[] = [];
  const recordWords: number[] = [];
  for (const r of records) {
    const name = r.kind === KIND_BLOCK ? -1 : strings.of(subroutineName(dwarf, unitOff, r.die));
    recordWords.push(r.kind, r.parent, r.end, name, path(r.callFile), r.callLine, r.callColumn, ranges.length / RANGE_WORDS, r.ranges.length / RANGE_WORDS);
    ranges.push(...r.ranges);
  }
  const { offsets, bytes } = strings.encode();
  const counts = [offsets.length - 1, rows.length / ROW_WORDS, records.length, ranges.length / RANGE_WORDS, ...head, bytes.length];
  const all = [...counts, ...offsets, ...rows, ...recordWords, ...ranges];
  const out = Buffer.alloc(all.length * 4 + ((bytes.length + 3) & ~3));
  for (let k = 0; k < all.length; k++) out.writeUInt32LE(all[k] >>> 0, 4 * k);
  bytes.copy(out, all.length * 4);
  return out;
}

/** The units an address can be placed in: `.debug_aranges` entries first, then the unit-DIE fallback. */
function unitMaps(units: UnitAddressIndex) {
  const aranges = units.aranges?.entries() ?? [];
  const fallback = units.rangeIndex().entries();
  return { aranges, fallback, offsets: [...new Set([...aranges, ...fallback].map((e) => e.unit))].sort((a, b) => a - b) };
}

/**
 * The table of one debug copy: its bytes (the head, then each unit's block), deterministic for the same copy. Throws what decoding throws: an
 * object with DWARF this cannot read has no table (symbolize then walks its DWARF and says why per place).
 */
export function buildAddressTable(dwarf: Dwarf, units: UnitAddressIndex, meta: TableMeta): Buffer[] {
  const { aranges, fallback, offsets } = unitMaps(units);
  const blocks = offsets.map((off) => unitBlock(dwarf, off));
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const fixed = MAGIC.length + HEAD_WORDS * 4;
  const metaBytes = (json.length + 3) & ~3;
  const headBytes = fixed + metaBytes + offsets.length * UNIT_WORDS * 4 + (aranges.length + fallback.length) * MAP_WORDS * 4 + SHA1_BYTES;
  const head = Buffer.alloc(headBytes);
  MAGIC.copy(head);
  [VERSION, json.length, offsets.length, aranges.length, fallback.length, headBytes].forEach((v, k) => head.writeUInt32LE(v, MAGIC.length + 4 * k));
  json.copy(head, fixed);
  let at = fixed + metaBytes;
  let blockAt = headBytes;
  blocks.forEach((b, k) => {
    [offsets[k], blockAt % TWO32, Math.floor(blockAt / TWO32), b.length].forEach((v, j) => head.writeUInt32LE(v, at + 4 * j));
    sha1(b).copy(head, at + 16);
    at += UNIT_WORDS * 4;
    blockAt += b.length;
  });
  for (const e of [...aranges, ...fallback]) {
    [e.section >>> 0, e.unit, ...splitAddress(e.start), ...splitAddress(e.end)].forEach((v, j) => head.writeUInt32LE(v, at + 4 * j));
    at += MAP_WORDS * 4;
  }
  sha1(head.subarray(0, at)).copy(head, at);
  return [head, ...blocks];
}
