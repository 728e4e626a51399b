// An object's GNU build-id alone, without a scan: how debug-tree copies are paired with installed objects
// (tree/debug-pairing.ts, through workers/scan.ts) and with the objects `symbolize` reads.
import { readFileSync } from 'node:fs';
import { readElfHeader } from '../elf/header.js';
import { findBuildId } from '../elf/notes.js';
import { readSections, sectionBytes } from '../elf/sections.js';
import { decompress, detectCompression } from '../io/decompress.js';
import { BufferSource, FileSource } from '../io/source.js';

/** Only the build-id of an object (a debug copy being paired); null when it has none or cannot be read. */
export async function readBuildId(path: string): Promise<string | null> {
  let file: FileSource | null = null;
  try {
    file = FileSource.open(path);
    const compression = detectCompression(file.read(0, Math.min(6, file.size), 'file magic'));
    const src = compression === 'none' ? file : new BufferSource(path, await decompress(path, compression, readFileSync(path)));
    const h = readElfHeader(src);
    return findBuildId(h, readSections(src, h), (s) => sectionBytes(src, s));
  } catch {
    return null;
  } finally {
    file?.close();
  }
}
