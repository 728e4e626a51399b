// Test helpers for address tables: an object's DWARF opened as symbolize walks it, its table built into a
// file, and the code places of its executable sections, to ask both the same addresses.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAddressTable } from '../../src/dwarf/address-table-build.js';
import type { TableMeta } from '../../src/dwarf/address-table.js';
import { Dwarf } from '../../src/dwarf/dwarf.js';
import { DwarfFile } from '../../src/dwarf/dwarf-file.js';
import type { Address } from '../../src/dwarf/section.js';
import { UnitAddressIndex } from '../../src/dwarf/unit-index.js';
import { ET_REL } from '../../src/elf/constants.js';
import { type OpenedObject, openObject } from '../../src/sites/object.js';

const SHF_EXECINSTR = 4;

export interface OpenedDwarf {
  readonly obj: OpenedObject;
  readonly dwarf: Dwarf;
  readonly units: UnitAddressIndex;
  /** The table's meta for this object (an invented identity unless given). */
  readonly meta: TableMeta;
  close(): void;
}

export async function openDwarf(path: string, identity = { buildId: 'test', size: 1 }): Promise<OpenedDwarf> {
  const obj = await openObject(path);
  const file = new DwarfFile(obj.src, obj.h, obj.sections, obj.symtab, () => {});
  const dwarf = new Dwarf(file);
  const meta = { ...identity, relocatable: obj.h.type === ET_REL, sections: obj.sections.map((s): [string, number] => [s.name, s.index]) };
  return { obj, dwarf, units: new UnitAddressIndex(dwarf, () => {}), meta, close: () => (file.close(), obj.close()) };
}

/** Builds the object's table into `dir/name` (from a fresh opening: the walk's caches stay apart). */
export async function writeTableFile(path: string, dir: string, name: string, identity?: { buildId: string; size: number }): Promise<{ file: string; bytes: Buffer }> {
  const o = await openDwarf(path, identity);
  try {
    const bytes = Buffer.concat(buildAddressTable(o.dwarf, o.units, o.meta));
    const file = join(dir, name);
    writeFileSync(file, bytes);
    return { file, bytes };
  } finally {
    o.close();
  }
}

/** Every `stride`-th byte of the executable sections (relocatable: section and offset; linked: the address). */
export function codePlaces(o: OpenedDwarf, stride: number, limitPerSection = Infinity): Address[] {
  return o.obj.sections.filter((s) => (s.flags & SHF_EXECINSTR) !== 0 && s.size > 0).flatMap((s) => {
    const base = o.meta.relocatable ? 0n : BigInt(`0x${s.addr}`);
    const section = o.meta.relocatable ? s.index : 0;
    const n = Math.min(Math.ceil(s.size / stride), limitPerSection);
    return Array.from({ length: n }, (_, k) => ({ section, value: base + BigInt(k * stride) }));
  });
}
