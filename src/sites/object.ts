// An object (or its debug copy) opened for the site finder: header, sections and .symtab; compressed modules
// inflated, plain files read by ranges.
import { readFileSync } from 'node:fs';
import { ObjectError } from '../errors.js';
import { type ElfHeader, readElfHeader } from '../elf/header.js';
import { type Section, readSections } from '../elf/sections.js';
import { type SymbolTable, readSymbolTable } from '../elf/symbols.js';
import { decompress, detectCompression } from '../io/decompress.js';
import { type ByteSource, BufferSource, FileSource } from '../io/source.js';

/** An ELF object opened for site lookup: plain files are read range by range, compressed modules inflated. */
export interface OpenedObject {
  readonly path: string;
  readonly src: ByteSource;
  readonly h: ElfHeader;
  readonly sections: readonly Section[];
  readonly symtab: SymbolTable | null;
  close(): void;
}

/**
 * An object whose bytes are already at hand (the scan's image: inflated, its signature cut, apply's original);
 * closing it is the owner's business. A signature appended to a module lies after everything the section
 * headers point at: it need not be cut.
 */
export function openedFrom(path: string, src: ByteSource): OpenedObject {
  const h = readElfHeader(src);
  const sections = readSections(src, h);
  return { path, src, h, sections, symtab: readSymbolTable(src, h, sections), close: () => undefined };
}

export async function openObject(path: string): Promise<OpenedObject> {
  const file = FileSource.open(path);
  try {
    if (file.size === 0) throw new ObjectError(path, 0, 'expected an ELF object or a compressed module, the file is empty', 'truncated');
    const kind = detectCompression(file.read(0, Math.min(6, file.size), 'file magic'));
    let src: ByteSource = file;
    if (kind !== 'none') {
      src = new BufferSource(path, await decompress(path, kind, readFileSync(path)));
      file.close();
    }
    return { ...openedFrom(path, src), close: () => (src === file ? file.close() : undefined) };
  } catch (e) {
    try {
      file.close();
    } catch {
      // already closed after decompression
    }
    throw e;
  }
}
