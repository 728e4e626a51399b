/**
 * The function tables of a livepatch module, found through the relocations of its data sections:
 * 1. hand-written (samples/livepatch style) `struct klp_patch` → `klp_object[]` → `klp_func[]`;
 * 2. klp-build's (objtool klp, 6.19+) `struct klp_object_ext` array in section `__klp_objects` (later
 *    `.init.klp_objects`), each { name, funcs, [callbacks,] unsigned int nr_funcs } pointing at nr_funcs
 *    `struct klp_func_ext` { old_name, new_func, sympos } in `__klp_funcs`; the module's init code turns them
 *    into klp_object/klp_func (scripts/livepatch/init.c).
 * For (1), only the leading "external" fields are fixed (include/linux/livepatch.h, 6.1):
 *   klp_patch  { struct module *mod; struct klp_object *objs; ... }        mod = THIS_MODULE (&__this_module)
 *   klp_object { const char *name; struct klp_func *funcs; callbacks (4 pointers); ... }   name NULL = vmlinux
 *   klp_func   { const char *old_name; void *new_func; unsigned long old_sympos; ... }
 * The rest (kobject, lists) depends on the kernel's configuration, so each array's element size is learned
 * from the array itself: its symbol's size, the places its relocations write, and the zeroed terminator.
 * ModuleData (pointer relocations, fields, strings) also reads kpatch-build's `.kpatch.funcs` (kpatch-funcs.ts).
 */
import { ObjectError } from '../errors.js';
import { SHF_ALLOC, SHF_EXECINSTR, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX, STT_OBJECT } from '../elf/constants.js';
import { readOffset64, viewOf } from '../elf/header.js';
import { absoluteRelocation, readRelocations, relocationSectionsFor } from '../elf/relocations.js';
import { type Section, StringTable, sectionBytes } from '../elf/sections.js';
import type { LivepatchElf, LivepatchReference } from './reference.js';

interface Pointer { readonly sym: number; readonly addend: number }
/** A byte of a section of the module: a struct, or one of its fields. */
export interface Place { readonly section: Section; readonly offset: number }

/** A place's offset in the file. */
export const fileOffset = (p: Place) => p.section.offset + p.offset;

/** The layout of one kind of struct array: where its fields are, in pointer-sized words. */
export interface ArrayLayout {
  /** Word that every real entry relocates (klp_func.old_name, klp_object.funcs). */
  readonly keyWord: number;
  /** Words of fixed layout at the start of each entry; relocations elsewhere mean the guess is wrong. */
  readonly externalWords: number;
  /** Words that are zero in the terminator. */
  readonly terminatorWords: number;
}

const KLP_OBJECT: ArrayLayout = { keyWord: 1, externalWords: 6, terminatorWords: 2 };
const KLP_FUNC: ArrayLayout = { keyWord: 0, externalWords: 3, terminatorWords: 3 };

/**
 * The element size of a terminated struct array of `size` bytes whose relocated places (offsets from its
 * start) are `relocated`: the smallest multiple of the pointer size, at least the external fields, dividing
 * `size`, for which entries 0..m-1 relocate their key word, entry m is the terminator (`isZero`), every
 * relocation falls in the external fields of an entry before it, and none after it. Returns the stride and m.
 */
export function arrayStride(size: number, relocated: readonly number[], layout: ArrayLayout, ptr: number,
  isZero: (entryOffset: number) => boolean): { stride: number; count: number } | null {
  const places = new Set(relocated);
  for (let t = layout.externalWords * ptr; t <= size; t += ptr) {
    if (size % t) continue;
    let m = 0;
    while (m * t < size && places.has(m * t + layout.keyWord * ptr)) m++;
    if (m * t >= size || !isZero(m * t)) continue;
    if (relocated.every((r) => r < m * t && r % t < layout.externalWords * ptr)) return { stride: t, count: m };
  }
  return null;
}

/** The data sections of one module with their pointer relocations, decoded once each. */
export class ModuleData {
  readonly ptr: number;
  private pointerMaps = new Map<number, Map<number, Pointer>>();
  private bytesOf = new Map<number, Buffer>();

  constructor(private elf: LivepatchElf) {
    this.ptr = elf.h.is64 ? 8 : 4;
  }

  get file(): string {
    return this.elf.src.file;
  }

  bytes(s: Section): Buffer {
    let b = this.bytesOf.get(s.index);
    if (!b) this.bytesOf.set(s.index, (b = sectionBytes(this.elf.src, s)));
    return b;
  }

  /** The pointer-sized word at a place, as stored (before relocation). */
  word(p: Place): number {
    const b = this.bytes(p.section);
    if (p.offset < 0 || p.offset + this.ptr > b.length) {
      throw new ObjectError(this.file, p.section.offset + p.offset, `expected a ${this.ptr}-byte field inside ${p.section.name} (${b.length} bytes)`, 'truncated');
    }
    const v = viewOf(b);
    return this.ptr === 8 ? readOffset64(v, p.offset, this.elf.h.little) : v.getUint32(p.offset, this.elf.h.little);
  }

  /** Absolute pointer-sized relocations of a section, by place. */
  pointers(s: Section): Map<number, Pointer> {
    let map = this.pointerMaps.get(s.index);
    if (map) return map;
    map = new Map();
    const { h, sections } = this.elf;
    for (const rs of relocationSectionsFor(sections, s)) {
      const t = readRelocations(this.elf.src, h, rs);
      for (let i = 0; i < t.count; i++) {
        if (absoluteRelocation(h.machine, t.type(i))?.size !== this.ptr) continue;
        const offset = t.offset(i);
        map.set(offset, { sym: t.symbol(i), addend: t.explicit ? t.addend(i) : this.word({ section: s, offset }) });
      }
    }
    this.pointerMaps.set(s.index, map);
    return map;
  }

  /** Where a pointer points inside this module; null for an undefined or special symbol. */
  target(p: Pointer): Place | null {
    const { symtab, sections } = this.elf;
    if (p.sym >= symtab.count) return null;
    const raw = symtab.rawShndx(p.sym);
    if (raw === SHN_UNDEF || (raw >= SHN_LORESERVE && raw !== SHN_XINDEX)) return null;
    const shndx = symtab.shndx(p.sym);
    if (!sections[shndx]) return null;
    return { section: sections[shndx], offset: Number(symtab.value(p.sym)) + p.addend };
  }

  symbolName(sym: number): string {
    return sym < this.elf.symtab.count ? this.elf.symtab.name(sym) : `#${sym}`;
  }

  string(p: Place, what: string): string {
    return new StringTable(this.bytes(p.section), this.file, p.section.offset).get(p.offset, `${what} (${p.section.name}+0x${p.offset.toString(16)})`);
  }

  /** The string a `char *` field points at; null when the field is not relocated (NULL, or a number). */
  stringAt(field: Place, what: string): string | null {
    const pointer = this.pointers(field.section).get(field.offset);
    if (!pointer) return null;
    const at = this.target(pointer);
    if (!at) throw new ObjectError(this.file, fileOffset(field), `${what}: expected a pointer to a string in the module, found symbol ${this.symbolName(pointer.sym)}`);
    return this.string(at, what);
  }

  /** An `unsigned long` field (a sympos): a number as stored, never a relocated pointer. */
  number(field: Place, what: string): number {
    if (this.pointers(field.section).has(field.offset)) {
      throw new ObjectError(this.file, fileOffset(field), `${what}: expected a number, found a relocated pointer`);
    }
    return this.word(field);
  }

  /** The object symbol whose bytes hold `p` (the array it starts), and the bytes from `p` to its end. */
  arrayAt(p: Place): { name: string; size: number } | null {
    const { symtab } = this.elf;
    let best: { name: string; size: number; exact: boolean } | null = null;
    for (let i = 1; i < symtab.count; i++) {
      if (symtab.type(i) !== STT_OBJECT || symtab.shndx(i) !== p.section.index) continue;
      const value = Number(symtab.value(i));
      const size = symtab.size(i);
      if (p.offset < value || p.offset >= value + size) continue;
      const exact = value === p.offset;
      if (!best || (exact && !best.exact)) best = { name: symtab.name(i), size: value + size - p.offset, exact };
    }
    return best;
  }

  isData(s: Section): boolean {
    return (s.flags & SHF_ALLOC) !== 0 && (s.flags & SHF_EXECINSTR) === 0;
  }

  /** Entries of the terminated array at `p`, or null when it is not one (no symbol, or no element size fits). */
  array(p: Place, layout: ArrayLayout): { name: string; stride: number; entries: number[] } | null {
    const found = this.arrayAt(p);
    if (!found) return null;
    const end = p.offset + found.size;
    const relocated = [...this.pointers(p.section).keys()].filter((o) => o >= p.offset && o < end).map((o) => o - p.offset);
    const isZero = (at: number) => {
      for (let w = 0; w < layout.terminatorWords; w++) if (this.word({ section: p.section, offset: p.offset + at + w * this.ptr }) !== 0) return false;
      return true;
    };
    const fit = arrayStride(found.size, relocated, layout, this.ptr, isZero);
    if (!fit) return null;
    return { name: found.name, stride: fit.stride, entries: Array.from({ length: fit.count }, (_, k) => p.offset + k * fit.stride) };
  }
}

/** Every klp_func entry of every struct klp_patch in the module. */
export function klpFuncReferences(elf: LivepatchElf): LivepatchReference[] {
  const data = new ModuleData(elf);
  const out: LivepatchReference[] = [];
  for (const s of elf.sections) {
    if (!data.isData(s) || !relocationSectionsFor(elf.sections, s).length) continue;
    for (const [offset, p] of data.pointers(s)) {
      if (data.symbolName(p.sym) !== '__this_module') continue;
      // A struct klp_patch: .mod = THIS_MODULE, then .objs, an array of klp_object in a data section.
      const objsPointer = data.pointers(s).get(offset + data.ptr);
      const objs = objsPointer && data.target(objsPointer);
      if (!objs || !data.isData(objs.section)) continue;
      const array = data.array(objs, KLP_OBJECT);
      if (!array) continue;
      array.entries.forEach((at, k) => out.push(...objectReferences(data, { section: objs.section, offset: at }, `${array.name}[${k}]`, elf.errors)));
    }
  }
  return out;
}

/** klp_object.name / klp_object_ext.name: NULL is vmlinux. */
function objectName(data: ModuleData, obj: Place, label: string): string {
  const name = data.stringAt(obj, `${label}.name`);
  if (name !== null) return name;
  if (data.word(obj) !== 0) {
    throw new ObjectError(data.file, fileOffset(obj), `${label}.name: expected NULL (vmlinux) or a relocated pointer to a module name, found 0x${data.word(obj).toString(16)}`);
  }
  return 'vmlinux';
}

/** The array a `.funcs` pointer (at `obj` + one pointer) points at, in a data section of the module. */
function funcsTarget(data: ModuleData, obj: Place, label: string): Place {
  const funcsPointer = data.pointers(obj.section).get(obj.offset + data.ptr)!;
  const funcs = data.target(funcsPointer);
  if (!funcs || !data.isData(funcs.section)) {
    throw new ObjectError(data.file, obj.section.offset + obj.offset + data.ptr,
      `${label}.funcs: expected a pointer to an array in a data section, found symbol ${data.symbolName(funcsPointer.sym)}`);
  }
  return funcs;
}

/** One klp_func or klp_func_ext: { old_name, new_func, old_sympos/sympos } lead both. */
function funcReference(data: ModuleData, entry: Place, where: string, objname: string, kind: LivepatchReference['kind']): LivepatchReference {
  const sympos = data.number({ section: entry.section, offset: entry.offset + 2 * data.ptr }, `${where}: old_sympos`);
  const name = data.stringAt(entry, `${where}: old_name`);
  if (name === null) throw new ObjectError(data.file, fileOffset(entry), `${where}: old_name: expected a relocated pointer to a string in the module`);
  return { kind, objname, name, sympos, where, offset: fileOffset(entry) };
}

/** Runs `read`, turning an ObjectError into an error of the module and no references. */
export function collecting(errors: ObjectError[], read: () => LivepatchReference[]): LivepatchReference[] {
  try {
    return read();
  } catch (e) {
    if (!(e instanceof ObjectError)) throw e;
    errors.push(e);
    return [];
  }
}

function objectReferences(data: ModuleData, obj: Place, label: string, errors: ObjectError[]): LivepatchReference[] {
  return collecting(errors, () => {
    const objname = objectName(data, obj, label);
    const funcs = funcsTarget(data, obj, label);
    const array = data.array(funcs, KLP_FUNC);
    if (!array) {
      const sized = data.arrayAt(funcs);
      throw new ObjectError(data.file, fileOffset(funcs), `${label}.funcs (${funcs.section.name}+0x${funcs.offset.toString(16)}): expected a { }-terminated array of struct klp_func `
        + `(old_name, new_func, old_sympos first), ${sized ? `found none that fits the ${sized.size} bytes of ${sized.name}` : 'found no object symbol whose size covers it'}`);
    }
    return array.entries.flatMap((at, k) => collecting(errors, () => [funcReference(data, { section: funcs.section, offset: at }, 
      `${array.name}[${k}] of ${label} (struct klp_func at ${funcs.section.name}+0x${at.toString(16)})`, objname, 'klp_func')]));
  });
}

/** klp-build's section names for its klp_object_ext array, old and new. */
const KLP_OBJECTS_SECTIONS = ['__klp_objects', '.init.klp_objects'];

/**
 * klp_object_ext entries of a klp-build module. Their size depends on the kernel (with or without callbacks),
 * so it is the distance between two entries' `.funcs` relocations, or the section's size for one entry;
 * `nr_funcs` (unsigned int) is the last field before the entry's end padding.
 */
export function klpBuildReferences(elf: LivepatchElf): LivepatchReference[] {
  const data = new ModuleData(elf);
  return elf.sections.filter((s) => KLP_OBJECTS_SECTIONS.includes(s.name)).flatMap((s) => collecting(elf.errors, () => {
    const funcsAt = [...data.pointers(s)].filter(([, p]) => /klp_funcs$/.test(data.target(p)?.section.name ?? '')).map(([o]) => o).sort((a, b) => a - b);
    const stride = funcsAt.length > 1 ? funcsAt[1] - funcsAt[0] : s.size;
    const count = stride > 0 ? s.size / stride : 0;
    const expected = Array.from({ length: count }, (_, k) => k * stride + data.ptr);
    if (!funcsAt.length || !Number.isInteger(count) || stride < 3 * data.ptr || expected.join() !== funcsAt.join()) {
      throw new ObjectError(data.file, s.offset, `section ${s.index} (${s.name}): expected an array of struct klp_object_ext whose every .funcs points into the klp_funcs section, `
        + `found .funcs relocations at ${funcsAt.map((o) => `0x${o.toString(16)}`).join(', ') || 'no place'} in ${s.size} bytes`);
    }
    const bytes = data.bytes(s);
    return expected.flatMap((_, k) => collecting(elf.errors, () => {
      const obj = { section: s, offset: k * stride };
      const label = `${s.name}[${k}]`;
      const objname = objectName(data, obj, label);
      const funcs = funcsTarget(data, obj, label);
      const nrAt = obj.offset + stride - data.ptr;
      const nr = elf.h.little ? bytes.readUInt32LE(nrAt) : bytes.readUInt32BE(nrAt);
      if (funcs.offset + nr * 3 * data.ptr > data.bytes(funcs.section).length) {
        throw new ObjectError(data.file, s.offset + nrAt, `${label}.nr_funcs: expected at most the ${data.bytes(funcs.section).length / (3 * data.ptr)} struct klp_func_ext of ${funcs.section.name}, found ${nr}`);
      }
      return Array.from({ length: nr }, (_, j) => collecting(elf.errors, () => {
        const at = funcs.offset + j * 3 * data.ptr;
        return [funcReference(data, { section: funcs.section, offset: at }, `${label}.funcs[${j}] (struct klp_func_ext at ${funcs.section.name}+0x${at.toString(16)})`, objname, 'klp_func_ext')];
      })).flat();
    }));
  }));
}
