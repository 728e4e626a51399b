// An object's GNU build-id alone, without a scan: how debug-tree copies are paired with installed objects
// (tree/debug-pairing.ts, through workers/scan.ts) and with the objects `symbolize` reads.
import { readElfHeader } from '../elf/header.js';
import { findBuildId } from '../elf/notes.js';
import { readSections, sectionBytes } from '../elf/sections.js';
import { type ObjectFile, openObjectFile } from '../io/object-file.js';

/** Only the build-id of an object (a debug copy being paired); null when it has none or cannot be read. */
export async function readBuildId(path: string): Promise<string | null> {
  let file: ObjectFile | null = null;
  try {
    file = openObjectFile(path);
    const src = await file.image();
    const h = readElfHeader(src);
    return findBuildId(h, readSections(src, h), (s) => sectionBytes(src, s));
  } catch {
    return null;
  } finally {
    file?.close();
  }
}
