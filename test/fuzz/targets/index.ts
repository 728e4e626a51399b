// Every fuzz target by name, loaded on demand (a fuzzing process imports only its own target's parsers).
import type { FuzzTarget } from '../target.js';

const MODULES: Record<string, string> = {
  elf: './elf.js', notes: './notes.js', kallsyms: './kallsyms.js', dwarf: './dwarf.js', vmlinuz: './vmlinuz.js',
  gzip: './decompress.js', xz: './decompress.js', zstd: './decompress.js', lz4: './decompress.js', lzma: './decompress.js', bzip2: './decompress.js',
};

export const TARGET_NAMES = Object.keys(MODULES);

export async function loadTarget(name: string): Promise<FuzzTarget> {
  const file = MODULES[name];
  if (!file) throw new Error(`fuzz: no target ${name} (targets: ${TARGET_NAMES.join(', ')})`);
  const loaded = (await import(file)) as { default: FuzzTarget | FuzzTarget[] };
  const found = [loaded.default].flat().find((t) => t.name === name);
  if (!found) throw new Error(`fuzz: ${file} does not define target ${name}`);
  return found;
}
