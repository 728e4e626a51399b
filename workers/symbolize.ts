// piscina entry point: one task = places of one debug copy for `symbolize`; the thread keeps a shared copy open
// (and its decoded units) for its next share. The work lives in src/symbolize/object-dwarf.ts.
import { type DwarfAnswer, DwarfObjects, type DwarfTask } from '../src/symbolize/object-dwarf.js';

const objects = new DwarfObjects();

export default function symbolize(task: DwarfTask): Promise<DwarfAnswer> {
  return objects.frames(task);
}
