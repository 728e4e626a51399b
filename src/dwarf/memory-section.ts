// MemorySection, a DWARF section held in memory (decompressed, or read whole into a recycled buffer): reads are
// views of its bytes, relocated first when the section belongs to a relocatable object.
import type { AddressTargets } from '../elf/relocations.js';
import { DwarfReader, stringAt } from './reader.js';
import { MemoryRelocation, type Relocation } from './relocate.js';
import { checkRange, type DwarfSection } from './section.js';

export class MemorySection implements DwarfSection {
  readonly size: number;
  readonly relocatable: boolean;
  readonly inMemory = true;
  constructor(
    readonly file: string,
    readonly name: string,
    readonly index: number,
    readonly fileOffset: number | null,
    readonly little: boolean,
    private bytes: Buffer,
    /** How the section is relocated; null in a linked object (one address space, nothing to relocate). */
    private relocation: Relocation | null,
  ) {
    this.size = bytes.length;
    this.relocatable = relocation !== null;
  }
  fix(offset: number, raw: number): number {
    return this.relocation ? this.relocation.fix(offset, raw) : raw;
  }
  fixAddress(offset: number, raw: bigint): bigint {
    return this.relocation ? this.relocation.fixAddress(offset, raw) : raw;
  }
  read(offset: number, length: number, what: string): Buffer {
    checkRange(this, offset, length, what);
    const view = this.bytes.subarray(offset, offset + length);
    this.relocation?.read(offset, view);
    return view;
  }
  contents(): Buffer {
    this.relocation?.read(0, this.bytes);
    return this.bytes;
  }
  cstring(offset: number, what: string): string {
    return stringAt(this.bytes, offset, this, what);
  }
  targetAt(offset: number): number {
    return this.relocation ? this.relocation.targetAt(offset) : 0;
  }
  reader(offset: number, length = this.size - offset): DwarfReader {
    const buf = this.read(offset, length, 'section range');
    return new DwarfReader(buf, this.little, this, offset);
  }
}

/**
 * A section held in memory, for callers that already have the bytes (tests, other containers).
 * `targets` marks it as belonging to a relocatable object (see DwarfSection.targetAt).
 */
export function memorySection(file: string, name: string, bytes: Buffer, options: { index?: number; little?: boolean; targets?: AddressTargets | null } = {}): DwarfSection {
  const relocation = options.targets ? MemoryRelocation.targets(options.targets) : null;
  return new MemorySection(file, name, options.index ?? 0, null, options.little ?? true, bytes, relocation);
}
