/**
 * kpatch-build's function table: section `.kpatch.funcs`, an array of struct kpatch_patch_func
 * (kmod/patch/kpatch-patch.h), one per patched function, in every module kpatch-build makes:
 *   { unsigned long new_addr, new_size, old_addr, old_size, sympos; char *name, *objname; }
 * create-diff-object (kpatch_create_patches_sections) fills old_addr, old_size, new_size and sympos, and
 * writes three relocations per entry: new_addr to the new function, name and objname into `.kpatch.strings`
 * (objname is "vmlinux" for the kernel, never NULL). create-klp-module keeps the section; at load the hook
 * (livepatch-patch-hook.c) makes each entry a klp_func { old_name = name, new_func = new_addr,
 * old_sympos = sympos } of the klp_object named objname, so the kernel binds it as any klp_func.
 */
import { ObjectError } from '../errors.js';
import { ModuleData, type Place, collecting, fileOffset } from './klp-structs.js';
import type { LivepatchElf, LivepatchReference } from './reference.js';

const KPATCH_FUNCS = '.kpatch.funcs';

/** Fields of struct kpatch_patch_func, in pointer-sized words (every field is a long or a pointer). */
const FIELD = { new_addr: 0, sympos: 4, name: 5, objname: 6 } as const;
const WORDS = 7;

function kpatchFunc(data: ModuleData, entry: Place, k: number): LivepatchReference {
  const where = `${KPATCH_FUNCS}[${k}] (struct kpatch_patch_func at ${KPATCH_FUNCS}+0x${entry.offset.toString(16)})`;
  const field = (word: number): Place => ({ section: entry.section, offset: entry.offset + word * data.ptr });
  const string = (word: number, what: string) => {
    const text = data.stringAt(field(word), `${where}: ${what}`);
    if (text === null) {
      throw new ObjectError(data.file, fileOffset(field(word)), `${where}: ${what}: expected a relocated pointer to a string in .kpatch.strings, found none`);
    }
    return text;
  };
  if (!data.pointers(entry.section).has(field(FIELD.new_addr).offset)) {
    throw new ObjectError(data.file, fileOffset(entry),
      `${where}: new_addr: expected a relocation to the new function (the hook's klp_func.new_func), found none`);
  }
  const sympos = data.number(field(FIELD.sympos), `${where}: sympos`);
  return { kind: 'kpatch_func', objname: string(FIELD.objname, 'objname'), name: string(FIELD.name, 'name'), sympos, where, offset: fileOffset(entry) };
}

/** Every entry of `.kpatch.funcs`; bytes after the last whole entry are an error, the entries before them are read. */
export function kpatchFuncReferences(elf: LivepatchElf): LivepatchReference[] {
  const data = new ModuleData(elf);
  const stride = WORDS * data.ptr;
  return elf.sections.filter((s) => s.name === KPATCH_FUNCS).flatMap((s) => {
    const count = Math.floor(data.bytes(s).length / stride);
    if (data.bytes(s).length % stride) {
      elf.errors.push(new ObjectError(data.file, s.offset + count * stride, `section ${s.index} (${KPATCH_FUNCS}): expected an array of struct kpatch_patch_func `
        + `(${stride} bytes each), found ${data.bytes(s).length} bytes: the last ${data.bytes(s).length % stride} are no whole entry`));
    }
    return Array.from({ length: count }, (_, k) => collecting(elf.errors, () => [kpatchFunc(data, { section: s, offset: k * stride }, k)])).flat();
  });
}
