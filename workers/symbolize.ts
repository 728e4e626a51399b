// piscina entry point: one task = places of one debug copy for `symbolize`, or the building of its address
// table; the thread keeps a shared copy open (and its decoded units) for its next share. The work lives in
// src/symbolize/object-dwarf.ts and src/symbolize/address-tables.ts.
import { type TableTask, writeTable } from '../src/symbolize/address-tables.js';
import { type DwarfAnswer, DwarfObjects, type DwarfTask } from '../src/symbolize/object-dwarf.js';

const objects = new DwarfObjects();

export default function symbolize(task: DwarfTask | TableTask): Promise<DwarfAnswer | string | null> {
  return 'place' in task ? writeTable(task.path, task.place) : objects.frames(task);
}
