// The address table of one debug copy (the gsym idea): per unit, its line-table row spans and its subroutine
// ranges with names and call sites, sorted and checksummed, so that `symbolize` answers without DWARF.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ArangeIndex } from './aranges.js';
import { type ChainLink, chainFrames, type SourceFrame, targetsByUnit } from './addr2line.js';
import type { Address } from './section.js';

/*
 * Layout (little-endian 32-bit words). Head: MAGIC, then HEAD_WORDS words (version, meta bytes, units, aranges
 * entries, fallback entries, head bytes), the meta JSON (TableMeta, padded to 4), per unit UNIT_WORDS (unit
 * offset, block offset lo/hi, block length, SHA-1 of the block), per map entry MAP_WORDS (section, unit offset,
 * start hi/lo, end hi/lo; `.debug_aranges` first, then the unit-DIE fallback), and the SHA-1 of all that.
 * Blocks follow, one per unit: BLOCK_WORDS counts (strings, rows, records, ranges, unit name, comp dir, string
 * bytes), string offsets, rows (ROW_WORDS: section, start hi/lo, length, file, line, column; sorted), records
 * in DIE pre-order (RECORD_WORDS: kind, parent, subtree end, name, call file/line/column, first range, range
 * count), ranges (RANGE_WORDS: section, start hi/lo, length), string bytes. Strings are block indexes; -1
 * (0xffffffff) is null.
 */
export const MAGIC = Buffer.from('KSYMADR\n', 'latin1');
export const VERSION = 1;
export const HEAD_WORDS = 6;
export const UNIT_WORDS = 9;
export const MAP_WORDS = 6;
export const BLOCK_WORDS = 7;
export const ROW_WORDS = 7;
export const RECORD_WORDS = 9;
export const RANGE_WORDS = 4;
export const SHA1_BYTES = 20;

/** Record kinds: what a DIE of a subroutine chain is. */
export const KIND_SUBPROGRAM = 0;
export const KIND_INLINED = 1;
/** A lexical block with ranges inside a subroutine: a target outside them does not reach its children. */
export const KIND_BLOCK = 2;

/** What a table is valid for: the debug copy's build-id and size. */
export interface TableIdentity {
  readonly buildId: string;
  readonly size: number;
}

/** The head's JSON: the identity, and how places name sections (relocatable objects: by ELF section name). */
export interface TableMeta extends TableIdentity {
  readonly relocatable: boolean;
  /** ELF sections as [name, index], in section-header order. */
  readonly sections: [string, number][];
}

export const sha1 = (bytes: Buffer): Buffer => createHash('sha1').update(bytes).digest();

const TWO32 = 2 ** 32;

/** (hi, lo) words of an address; hi wraps like the 64-bit value. */
export const splitAddress = (v: bigint): [number, number] => [Number((v >> 32n) & 0xffff_ffffn), Number(v & 0xffff_ffffn)];

const joinAddress = (hi: number, lo: number): bigint => (BigInt(hi) << 32n) | BigInt(lo);

/** Why a table file cannot be trusted: names the file, the offset and what was expected. */
export class AddressTableError extends Error {
  constructor(readonly file: string, offset: number, what: string) {
    super(`${file}: address table at offset ${offset}: expected ${what}`);
  }
}

/** Words of `bytes` as a Uint32Array view (copied when the buffer is not 4-byte aligned). */
function words(bytes: Buffer): Uint32Array {
  const b = bytes.byteOffset % 4 === 0 ? bytes : Buffer.from(bytes);
  return new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
}

/** One unit's block, read through views of its bytes. */
class UnitBlock {
  private readonly w: Uint32Array;
  private readonly rows: number;
  private readonly records: number;
  private readonly rowAt: number;
  private readonly recordAt: number;
  private readonly rangeAt: number;
  private readonly stringAt: number;
  private readonly strings = new Map<number, string | null>();
  readonly where: { name: string | null; compDir: string | null };

  constructor(private readonly bytes: Buffer, private readonly fail: (offset: number, what: string) => never) {
    if (bytes.length < BLOCK_WORDS * 4) fail(0, `a unit block of at least ${BLOCK_WORDS * 4} bytes, found ${bytes.length}`);
    this.w = words(bytes);
    const [nStrings, rows, records, ranges] = this.w;
    this.rows = rows;
    this.records = records;
    this.rowAt = BLOCK_WORDS + nStrings + 1;
    this.recordAt = this.rowAt + rows * ROW_WORDS;
    this.rangeAt = this.recordAt + records * RECORD_WORDS;
    this.stringAt = (this.rangeAt + ranges * RANGE_WORDS) * 4;
    if (this.stringAt + this.w[6] > bytes.length) fail(this.stringAt, `${this.w[6]} string bytes, the block has ${bytes.length - this.stringAt}`);
    this.where = { name: this.str(this.w[4]), compDir: this.str(this.w[5]) };
  }

  str(index: number): string | null {
    if ((index | 0) === -1) return null;
    let s = this.strings.get(index);
    if (s === undefined) {
      const nStrings = this.w[0];
      if (index >= nStrings) this.fail(0, `string ${index}, the block has ${nStrings}`);
      const from = this.w[BLOCK_WORDS + index];
      const to = this.w[BLOCK_WORDS + index + 1];
      if (from > to || this.stringAt + to > this.bytes.length) this.fail(this.stringAt + from, `string ${index} inside the block`);
      s = this.bytes.toString('utf8', this.stringAt + from, this.stringAt + to);
      this.strings.set(index, s);
    }
    return s;
  }

  /** Whether the span (section, hi/lo, length) at word `at` holds the target. */
  private holds(at: number, section: number, hi: number, lo: number): boolean {
    const w = this.w;
    if ((w[at] | 0) !== section) return false;
    const d = (hi - w[at + 1]) * TWO32 + (lo - w[at + 2]);
    return d >= 0 && d < w[at + 3];
  }

  /** The line-table row covering the target: file, line, column; null when no sequence covers it. */
  row(section: number, hi: number, lo: number): { file: string | null; line: number; column: number } | null {
    const w = this.w;
    // Last row starting at or below the target.
    let a = 0;
    let b = this.rows;
    while (a < b) {
      const m = (a + b) >> 1;
      const at = this.rowAt + m * ROW_WORDS;
      const s = w[at] | 0;
      const before = s < section || (s === section && (w[at + 1] < hi || (w[at + 1] === hi && w[at + 2] <= lo)));
      if (before) a = m + 1;
      else b = m;
    }
    if (a === 0) return null;
    const at = this.rowAt + (a - 1) * ROW_WORDS;
    if (!this.holds(at, section, hi, lo)) return null;
    return { file: this.str(w[at + 4]), line: w[at + 5], column: w[at + 6] };
  }

  private rec(r: number, field: number): number {
    return this.w[this.recordAt + r * RECORD_WORDS + field];
  }

  private covers(r: number, section: number, hi: number, lo: number): boolean {
    const first = this.rec(r, 7);
    const count = this.rec(r, 8);
    for (let k = 0; k < count; k++) if (this.holds(this.rangeAt + (first + k) * RANGE_WORDS, section, hi, lo)) return true;
    return false;
  }

  /**
   * The subroutine record in `r`'s subtree (not `r`) that the DIE walk ends on: the last one in pre-order
   * whose every stored ancestor covers the target; -1 when none.
   */
  private deepest(r: number, section: number, hi: number, lo: number): number {
    const hits: number[] = [];
    for (let c = r + 1; c < this.rec(r, 2); c = this.rec(c, 2)) if (this.covers(c, section, hi, lo)) hits.push(c);
    for (let k = hits.length - 1; k >= 0; k--) {
      const inner = this.deepest(hits[k], section, hi, lo);
      if (inner >= 0) return inner;
      if (this.rec(hits[k], 0) !== KIND_BLOCK) return hits[k];
    }
    return -1;
  }

  /** The target's chain of subroutines, innermost first, up to its subprogram; empty when none covers it. */
  chain(section: number, hi: number, lo: number): ChainLink[] {
    let top = -1;
    for (let r = 0; r < this.records; r = this.rec(r, 2)) if (this.covers(r, section, hi, lo)) top = r;
    if (top < 0) return [];
    const inner = this.deepest(top, section, hi, lo);
    const out: ChainLink[] = [];
    for (let r = inner >= 0 ? inner : top; (r | 0) !== -1; r = this.rec(r, 1)) {
      const kind = this.rec(r, 0);
      if (kind === KIND_BLOCK) continue;
      out.push({ function: this.str(this.rec(r, 3)), callFile: this.str(this.rec(r, 4)), callLine: this.rec(r, 5), callColumn: this.rec(r, 6) });
      if (kind === KIND_SUBPROGRAM) break;
    }
    return out;
  }
}

interface UnitEntry {
  readonly offset: number;
  readonly at: number;
  readonly length: number;
  readonly sum: Buffer;
}

/**
 * A table file, opened: its head checked (magic, version, identity, checksum), unit blocks read and checked
 * when a target needs them. A block that fails its checksum throws AddressTableError: never a wrong answer.
 */
export class AddressTable {
  private scratch = Buffer.alloc(0);

  private constructor(
    private readonly path: string,
    private readonly fd: number,
    /** The identity and sections of the debug copy the table was built from. */
    readonly meta: TableMeta,
    private readonly units: Map<number, UnitEntry>,
    private readonly aranges: ArangeIndex,
    private readonly fallback: ArangeIndex,
  ) {}

  /**
   * Opens the table at `path` for the debug copy `identity`; null when the file is missing, of another
   * version, or for another build-id or size (stale: rebuild it). A damaged head throws AddressTableError.
   */
  static open(path: string, identity: TableIdentity): AddressTable | null {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return null;
    }
    try {
      const t = AddressTable.read(path, fd, identity);
      if (!t) closeSync(fd);
      return t;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  private static read(path: string, fd: number, identity: TableIdentity): AddressTable | null {
    const fail = (offset: number, what: string): never => {
      throw new AddressTableError(path, offset, what);
    };
    const fixed = MAGIC.length + HEAD_WORDS * 4;
    const first = Buffer.alloc(fixed);
    if (readSync(fd, first, 0, fixed, 0) < fixed) fail(0, `a head of at least ${fixed} bytes`);
    if (!first.subarray(0, MAGIC.length).equals(MAGIC)) fail(0, 'the magic "KSYMADR\\n"');
    const h = (k: number) => first.readUInt32LE(MAGIC.length + 4 * k);
    if (h(0) !== VERSION) return null;
    const headBytes = h(5);
    const fileSize = fstatSync(fd).size;
    if (headBytes < fixed + SHA1_BYTES || headBytes % 4 !== 0 || headBytes > fileSize) {
      fail(MAGIC.length + 20, `a head length of at least ${fixed + SHA1_BYTES}, a multiple of 4 and within the file's ${fileSize} bytes, found ${headBytes}`);
    }
    const head = Buffer.alloc(headBytes);
    if (readSync(fd, head, 0, headBytes, 0) < headBytes) fail(0, `a head of ${headBytes} bytes: the file is truncated`);
    if (!sha1(head.subarray(0, headBytes - SHA1_BYTES)).equals(head.subarray(headBytes - SHA1_BYTES))) fail(headBytes - SHA1_BYTES, 'the head checksum');
    const unitAt = fixed + ((h(1) + 3) & ~3);
    const mapAt = unitAt + h(2) * UNIT_WORDS * 4;
    if (mapAt + (h(3) + h(4)) * MAP_WORDS * 4 + SHA1_BYTES !== headBytes) fail(MAGIC.length + 8, 'unit and map counts that fill the head');
    const meta = JSON.parse(head.toString('utf8', fixed, fixed + h(1))) as TableMeta;
    if (meta.buildId !== identity.buildId || meta.size !== identity.size) return null;
    const units = new Map<number, UnitEntry>();
    for (let k = 0; k < h(2); k++) {
      const at = unitAt + k * UNIT_WORDS * 4;
      const offset = head.readUInt32LE(at);
      units.set(offset, { offset, at: head.readUInt32LE(at + 4) + head.readUInt32LE(at + 8) * TWO32, length: head.readUInt32LE(at + 12), sum: head.subarray(at + 16, at + 36) });
    }
    const entries = (from: number, count: number) => Array.from({ length: count }, (_, k) => {
      const at = from + k * MAP_WORDS * 4;
      const u = (j: number) => head.readUInt32LE(at + 4 * j);
      return { section: u(0) | 0, unit: u(1), start: joinAddress(u(2), u(3)), end: joinAddress(u(4), u(5)) };
    });
    const aranges = ArangeIndex.fromEntries(entries(mapAt, h(3)));
    const fallback = ArangeIndex.fromEntries(entries(mapAt + h(3) * MAP_WORDS * 4, h(4)));
    return new AddressTable(path, fd, meta, units, aranges, fallback);
  }

  /** The unit whose code covers the address, as UnitAddressIndex.unitsAt()[0] picks it. */
  private unitAt(t: Address): number | undefined {
    const found = this.aranges.lookup(t.section, t.value);
    return (found.length > 0 ? found : this.fallback.lookup(t.section, t.value))[0];
  }

  private block(offset: number): UnitBlock {
    const fail = (at: number, what: string): never => {
      throw new AddressTableError(this.path, at, what);
    };
    const e = this.units.get(offset);
    if (!e) return fail(0, `a block for unit 0x${offset.toString(16)}, which its map names`);
    // One buffer serves every block (a block is done with before the next is read): fresh memory costs more
    // to touch than the read itself.
    if (this.scratch.length < e.length) this.scratch = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(Math.max(e.length, 1 << 16))));
    const bytes = this.scratch.subarray(0, e.length);
    if (readSync(this.fd, bytes, 0, e.length, e.at) < e.length) fail(e.at, `a unit block of ${e.length} bytes: the file is truncated`);
    if (!sha1(bytes).equals(e.sum)) fail(e.at, `the checksum of unit 0x${offset.toString(16)}'s block`);
    return new UnitBlock(bytes, (at, what) => fail(e.at + at, what));
  }

  /** Source frames of each target, as addressFrames() gives them from the DWARF. */
  frames(targets: readonly Address[]): SourceFrame[][] {
    const out: SourceFrame[][] = targets.map(() => []);
    for (const [unit, indexes] of targetsByUnit(targets, (t) => this.unitAt(t))) {
      const block = this.block(unit);
      for (const i of indexes) {
        const [hi, lo] = splitAddress(targets[i].value);
        const { section } = targets[i];
        out[i] = chainFrames(block.row(section, hi, lo), block.chain(section, hi, lo), block.where);
      }
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}
