// An object (or its debug copy) opened for the site finder: header, sections and .symtab; compressed modules
// inflated, plain files read by ranges.
import { type ElfHeader, readElfHeader } from '../elf/header.js';
import { type Section, readSections } from '../elf/sections.js';
import { type SymbolTable, readSymbolTable } from '../elf/symbols.js';
import { openObjectFile } from '../io/object-file.js';
import type { ByteSource } from '../io/source.js';

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
  const file = openObjectFile(path);
  try {
    return { ...openedFrom(path, await file.image()), close: () => file.close() };
  } catch (e) {
    file.close();
    throw e;
  }
}
