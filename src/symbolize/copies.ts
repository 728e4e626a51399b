// From a frame to the copy it ran in: the object (vmlinux or the module), the symbol with that name whose
// size matches `/0xSIZE`, or — when copies share a size — the one its runtime address names.
import { partitionPoint } from '../partition-point.js';
import type { Db } from '../db/db.js';
import { type IndexedObject, type SymbolizeSymbol as SymbolRow, SymbolizeRows } from '../db/symbolize-rows.js';
import type { InputFrame } from './frames.js';
import type { KallsymsFile } from './kallsyms-file.js';

export type { IndexedObject };

/** One symbol the frame may have run in. */
export interface Copy {
  readonly object: IndexedObject;
  readonly idx: number;
  readonly name: string;
  readonly value: bigint;
  readonly size: number;
  readonly section: string | null;
  /** Livepatch position (0: the name is unique in its object). */
  readonly sympos: number;
  readonly alias: string | null;
}

export interface Placement {
  /** Candidates left after every test, in sympos order; one when the copy is known. */
  readonly copies: Copy[];
  readonly offset: bigint;
  /** How the copy was chosen, or why it could not be. */
  readonly how: string;
}

function toCopy(object: IndexedObject, r: SymbolRow): Copy {
  return { object, idx: r.idx, name: r.name, value: BigInt(`0x${r.value}`), size: r.size, section: r.section, sympos: r.sympos ?? 0, alias: r.alias };
}

/** The list sorted (vmlinux's table is in address order already: then only checked). */
function ascending(list: string[]): string[] {
  for (let i = 1; i < list.length; i++) if (list[i - 1] > list[i]) return list.sort();
  return list;
}

/** Index queries of one `symbolize` run, with the per-object tables it needs loaded once. */
export class CopyFinder {
  private objects = new Map<string, IndexedObject | null>();
  /** Sorted kallsyms addresses per object (vmlinux) or section (a module), as the index's 16-digit hex. */
  private gaps = new Map<string, string[]>();
  private functions: { values: bigint[]; rows: SymbolRow[] } | null = null;
  private named = new Map<string, Copy[]>();
  private rows: SymbolizeRows;

  constructor(db: Db, private kallsyms: KallsymsFile | null) {
    this.rows = new SymbolizeRows(db);
  }

  object(module: string | null): IndexedObject | null {
    const key = module ?? '';
    if (!this.objects.has(key)) {
      this.objects.set(key, this.rows.object(module));
    }
    return this.objects.get(key)!;
  }

  private copies(o: IndexedObject, name: string): Copy[] {
    const key = `${o.id}\0${name}`;
    let list = this.named.get(key);
    if (!list) {
      list = this.rows.named(o.id, name).map((r) => toCopy(o, r));
      this.named.set(key, list);
    }
    return list;
  }

  /** Loads the copies of every name the frames ask for, one query per object instead of one per frame. */
  prefetch(frames: readonly InputFrame[]): void {
    const byModule = new Map<string | null, Set<string>>();
    for (const f of frames) if (f.name !== null) byModule.set(f.module, (byModule.get(f.module) ?? new Set()).add(f.name));
    for (const [module, names] of byModule) {
      const o = this.object(module);
      if (!o) continue;
      const rows = this.rows.namedAny(o.id, [...names]);
      for (const name of names) this.named.set(`${o.id}\0${name}`, []);
      for (const r of rows) this.named.get(`${o.id}\0${r.name}`)!.push(toCopy(o, r));
    }
  }

  /**
   * The kernel's size of a symbol as `%pS` prints it: the distance to the next kallsyms symbol above it
   * (vmlinux: its decoded table; a module: the next visible symbol of the same section, else the section end).
   */
  private kernelSize(c: Copy): bigint | null {
    // vmlinux's table holds every section's symbols: one list for the object.
    const key = c.object.kind === 'vmlinux' ? `${c.object.id}` : `${c.object.id}:${c.section}`;
    let list = this.gaps.get(key);
    if (!list) {
      list = c.object.kind === 'vmlinux'
        ? ascending(this.rows.tableAddresses(c.object.id))
        : this.rows.sectionBounds(c.object.id, c.section);
      this.gaps.set(key, list);
    }
    // Fixed-width hex compares as the addresses do.
    const value = c.value.toString(16).padStart(16, '0');
    const gaps = list;
    const next = partitionPoint(gaps.length, (k) => gaps[k] <= value);
    return next < gaps.length ? BigInt(`0x${gaps[next]}`) - c.value : null;
  }

  /** The copy or copies a frame may have run in. */
  place(f: InputFrame): Placement | { error: string } {
    if (f.address !== null && this.kallsyms) return this.placeByKallsyms(f, f.address, this.kallsyms);
    if (f.name === null) return this.placeLinkTime(f.address!);
    const o = this.object(f.module);
    if (!o) return { error: f.module ? `module ${f.module} is not in the index` : 'the index holds no vmlinux' };
    let copies = this.copies(o, f.name);
    if (!copies.length) return { error: `${f.name} is not a kallsyms symbol of ${f.module ?? 'vmlinux'}` };
    if (f.offset !== null && f.size !== null && f.offset > f.size) return { error: `offset 0x${f.offset.toString(16)} is past size 0x${f.size.toString(16)}` };
    const fits = (c: Copy) => f.size === null || BigInt(c.size) === f.size || this.kernelSize(c) === f.size;
    let how = copies.length === 1
      ? (fits(copies[0]) ? 'the only copy' : `the only copy, but of size 0x${copies[0].size.toString(16)}: is the index of the traced build?`)
      : '';
    if (copies.length > 1 && f.size !== null) {
      const fit = copies.filter(fits);
      if (!fit.length) return { error: `none of the ${copies.length} copies of ${f.name} has size 0x${f.size.toString(16)}` };
      how = fit.length === 1 ? `the only one of ${copies.length} copies of size 0x${f.size.toString(16)}` : `${fit.length} of ${copies.length} copies have size 0x${f.size.toString(16)}`;
      copies = fit;
    }
    if (copies.length > 1 && f.address !== null && o.kind === 'vmlinux') {
      // Without --kallsyms a vmlinux address is taken as link-time (a nokaslr boot).
      const at = copies.filter((c) => c.value + f.offset! === f.address);
      if (at.length === 1) return { copies: at, offset: f.offset!, how: 'its link-time address' };
    }
    // `%pB` looks up address - 1 and prints the offset + 1, so `+0x70/0x70` (offset = size) is a value at the
    // start of the next function: a function pointer on the stack (`? worker_thread` printed as
    // `? process_one_work+0x380/0x380`). Its line is looked up at that address, as decode_stacktrace.sh does.
    return { copies, offset: f.offset ?? 0n, how };
  }

  /** A runtime address through a /proc/kallsyms copy: the line at or below it, and that name's n-th line = sympos. */
  private placeByKallsyms(f: InputFrame, address: bigint, ks: KallsymsFile): Placement | { error: string } {
    const hit = ks.containing(address);
    if (!hit) return { error: `0x${address.toString(16)} is below every address of ${ks.path}` };
    if (f.name !== null && f.name !== hit.name) return { error: `${ks.path} puts 0x${address.toString(16)} in ${hit.name}, the trace says ${f.name}` };
    const o = this.object(hit.module);
    if (!o) return { error: hit.module ? `module ${hit.module} is not in the index` : 'the index holds no vmlinux' };
    const copies = this.copies(o, hit.name);
    const chosen = copies.length === 1 ? copies : copies.filter((c) => c.sympos === hit.nth);
    if (!chosen.length) return { error: `${hit.name}: copy ${hit.nth} of ${ks.path} has no symbol in the index` };
    return { copies: chosen, offset: address - hit.address, how: `line ${hit.line} of ${ks.path}` };
  }

  /** A bare vmlinux address at its link-time value (no --kallsyms: a nokaslr boot, or addresses from nm). */
  private placeLinkTime(address: bigint): Placement | { error: string } {
    const o = this.object(null);
    if (!o) return { error: 'the index holds no vmlinux; give --kallsyms for module addresses' };
    if (!this.functions) {
      const rows = this.rows.functionsByAddress(o.id);
      this.functions = { values: rows.map((r) => BigInt(`0x${r.value}`)), rows };
    }
    const { values, rows } = this.functions;
    for (let k = partitionPoint(values.length, (j) => values[j] <= address) - 1; k >= 0; k--) {
      const r = rows[k];
      if (address < values[k] + BigInt(r.size)) {
        return { copies: [toCopy(o, r)], offset: address - values[k], how: 'its link-time address in vmlinux' };
      }
      if (address - values[k] > 1n << 20n) break;
    }
    return { error: `0x${address.toString(16)} is inside no vmlinux function (a module address needs --kallsyms)` };
  }
}
