/**
 * Reads a livepatch module (`.ko`, compressed or signed like any module) into the references it makes to
 * the objects it patches: `.klp.sym` symbols (klp-symbols.ts), `struct klp_func` arrays and klp-build's
 * `klp_func_ext` tables (klp-structs.ts), kpatch-build's `.kpatch.funcs` (kpatch-funcs.ts). Of kpatch-build's
 * outputs, the final module (livepatch mode) is read whole: create-klp-module turns `.kpatch.symbols` and
 * `.kpatch.relocations` into `.klp.sym` symbols and `.klp.rela` sections and removes them, and keeps
 * `.kpatch.funcs` and the `.kpatch.strings` it points into. Not read: `.kpatch.symbols` and `.kpatch.relocations`
 * of create-diff-object's output objects, and `.kpatch.dynrelas` of modules for kpatch's own core module
 * (kpatch.ko, kernels before 4.7; their `.kpatch.funcs` is read).
 */
import { ObjectError } from '../errors.js';
import { readElfHeader } from '../elf/header.js';
import { readSections } from '../elf/sections.js';
import { signatureOf } from '../elf/signature.js';
import { readSymbolTable } from '../elf/symbols.js';
import { type ObjectFile, openObjectFile } from '../io/object-file.js';
import { type ByteSource, PrefixSource } from '../io/source.js';
import { klpSymbolReferences } from './klp-symbols.js';
import { kpatchFuncReferences } from './kpatch-funcs.js';
import { klpBuildReferences, klpFuncReferences } from './klp-structs.js';
import type { LivepatchReference } from './reference.js';

export interface LivepatchModule {
  readonly path: string;
  /** `.klp.sym` symbols by symbol index, then klp_func entries, klp_func_ext entries, `.kpatch.funcs` entries. */
  readonly references: LivepatchReference[];
  /** What could not be read, each naming the file, the offset and what was expected there. */
  readonly errors: ObjectError[];
}

/** Opens the module (io/object-file.ts); a file that cannot be opened is an error of the module, not a crash. */
function openModule(path: string): ObjectFile {
  try {
    return openObjectFile(path);
  } catch (e) {
    if (e instanceof ObjectError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new ObjectError(path, 0, `expected a readable livepatch module (${err.code ?? 'error'}: ${err.message})`, 'io');
  }
}

/** The module's ELF image: decompressed, without its appended signature. */
async function moduleImage(file: ObjectFile): Promise<ByteSource> {
  const image = await file.image();
  const signature = signatureOf(image);
  return signature ? new PrefixSource(image, signature.elfSize) : image;
}

/** Never throws for a bad module: what cannot be read becomes an error, and every other reference is still read. */
export async function readLivepatchModule(path: string): Promise<LivepatchModule> {
  const errors: ObjectError[] = [];
  const references: LivepatchReference[] = [];
  let file: ObjectFile | null = null;
  try {
    file = openModule(path);
    const src = await moduleImage(file);
    const h = readElfHeader(src);
    const sections = readSections(src, h);
    const symtab = readSymbolTable(src, h, sections);
    if (!symtab) throw new ObjectError(path, h.shoff, 'expected a SHT_SYMTAB section (a livepatch module keeps its symbol table), found none');
    const elf = { src, h, sections, symtab, errors };
    references.push(...klpSymbolReferences(elf), ...klpFuncReferences(elf), ...klpBuildReferences(elf), ...kpatchFuncReferences(elf));
    if (!references.length && !errors.length) {
      throw new ObjectError(path, 0, 'expected .klp.sym.<objname>.<name>,<sympos> symbols (SHN_LIVEPATCH), a struct klp_patch '
        + '(.mod = THIS_MODULE, .objs = an array of struct klp_object) or a .kpatch.funcs table, found none: not a livepatch module');
    }
  } catch (e) {
    if (!(e instanceof ObjectError)) throw e;
    errors.push(e);
  } finally {
    file?.close();
  }
  return { path, references, errors };
}
