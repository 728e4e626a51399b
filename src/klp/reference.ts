/** One reference a livepatch module makes to a symbol of a patched object, and the parsed ELF it is read from. */
import type { ObjectError } from '../errors.js';
import type { ElfHeader } from '../elf/header.js';
import type { ByteSource } from '../io/source.js';
import type { Section } from '../elf/sections.js';
import type { SymbolTable } from '../elf/symbols.js';

export interface LivepatchReference {
  /** `klp_sym`: a `.klp.sym.<obj>.<name>,<pos>` symbol; `klp_func`: an entry of a `struct klp_func` array;
   * `klp_func_ext`: an entry of klp-build's `struct klp_func_ext` tables; `kpatch_func`: an entry of
   * kpatch-build's `.kpatch.funcs` (struct kpatch_patch_func). */
  readonly kind: 'klp_sym' | 'klp_func' | 'klp_func_ext' | 'kpatch_func';
  /** klp_object.name, or `vmlinux` (a NULL name; kpatch writes the string "vmlinux"). */
  readonly objname: string;
  /** old_name. */
  readonly name: string;
  /** old_sympos: 0 means "the name must be unique in the object". */
  readonly sympos: number;
  /** Where in the livepatch module, in words a reader finds it by: `symbol 23 .klp.sym.vmlinux.show,1`, `funcs[1] at .data+0x98`. */
  readonly where: string;
  /** File offset of that symbol entry or struct. */
  readonly offset: number;
}

/** A livepatch module's ELF as its readers need it; problems found on the way are pushed to `errors`. */
export interface LivepatchElf {
  readonly src: ByteSource;
  readonly h: ElfHeader;
  readonly sections: readonly Section[];
  readonly symtab: SymbolTable;
  readonly errors: ObjectError[];
}
