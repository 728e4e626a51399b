/**
 * `.klp.sym.<objname>.<name>,<sympos>` symbols (st_shndx SHN_LIVEPATCH) and the `.klp.rela.<objname>.<section>`
 * sections that use them, as kernel/livepatch/core.c (6.1) klp_apply_section_relocs/klp_resolve_symbols read
 * them: kpatch-build and klp-build write references to non-exported symbols this way.
 */
import { ObjectError } from '../errors.js';
import { SHF_RELA_LIVEPATCH, SHN_LIVEPATCH, SHT_REL, SHT_RELA } from '../elf/constants.js';
import { readRelocations } from '../elf/relocations.js';
import type { LivepatchElf, LivepatchReference } from './reference.js';

/** The kernel's sscanf(".klp.sym.%55[^.].%511[^,],%lu"), without the trailing garbage sscanf would ignore. */
const KLP_SYM = /^\.klp\.sym\.([^.]{1,55})\.([^,]{1,511}),(\d+)$/;
const KLP_RELA = /^\.klp\.rela\.([^.]{1,55})\./;
const KLP_SYM_PREFIX = '.klp.sym.';

export interface KlpSymName { objname: string; name: string; sympos: number }

/** Splits a `.klp.sym` symbol name; null when the kernel would refuse it ("incorrectly formatted name"). */
export function parseKlpSymName(text: string): KlpSymName | null {
  const m = KLP_SYM.exec(text);
  return m ? { objname: m[1], name: m[2], sympos: Number(m[3]) } : null;
}

/** Checks each `.klp.rela.*` section as the module loader would use it; returns how many entries use each symbol. */
function klpRelocationUses(elf: LivepatchElf): Map<number, number> {
  const { src, h, sections, symtab, errors } = elf;
  const { file } = src;
  const uses = new Map<number, number>();
  for (const s of sections) {
    if (!s.name.startsWith('.klp.rela.')) continue;
    const what = `section ${s.index} (${s.name})`;
    const secObj = KLP_RELA.exec(s.name)?.[1];
    if (!secObj) errors.push(new ObjectError(file, s.headerOffset, `${what}: expected a name .klp.rela.<objname>.<section> (objname: 1 to 55 characters, no dot)`));
    if (s.type !== SHT_RELA && s.type !== SHT_REL) {
      errors.push(new ObjectError(file, s.headerOffset, `${what}: expected SHT_RELA, found section type ${s.type}`));
      continue;
    }
    if (!(s.flags & SHF_RELA_LIVEPATCH)) {
      errors.push(new ObjectError(file, s.headerOffset,
        `${what}: expected SHF_RELA_LIVEPATCH (0x100000) in sh_flags, found 0x${s.flags.toString(16)}: the module loader would apply it as ordinary relocations and fail`));
    }
    const t = readRelocations(src, h, s);
    for (let i = 0; i < t.count; i++) {
      const sym = t.symbol(i);
      if (sym >= symtab.count) {
        errors.push(new ObjectError(file, t.entryOffset(i), `${what}: entry ${i}: expected a symbol index below ${symtab.count}, found ${sym}`));
        continue;
      }
      uses.set(sym, (uses.get(sym) ?? 0) + 1);
      const name = symtab.name(sym);
      if (symtab.rawShndx(sym) !== SHN_LIVEPATCH) {
        errors.push(new ObjectError(file, t.entryOffset(i),
          `${what}: entry ${i}: symbol ${sym} (${name}) is not a livepatch symbol: expected st_shndx SHN_LIVEPATCH (0xff20), found 0x${symtab.rawShndx(sym).toString(16)}`));
      } else if (secObj && secObj !== 'vmlinux' && parseKlpSymName(name)?.objname === 'vmlinux') {
        errors.push(new ObjectError(file, t.entryOffset(i),
          `${what}: entry ${i}: symbol ${sym} (${name}): a module's .klp.rela section may not reference vmlinux symbols (the kernel refuses it)`));
      }
    }
  }
  return uses;
}

/** Every SHN_LIVEPATCH symbol as a reference, with the `.klp.rela` entries that use it. */
export function klpSymbolReferences(elf: LivepatchElf): LivepatchReference[] {
  const { symtab, errors } = elf;
  const { file } = elf.src;
  const uses = klpRelocationUses(elf);
  const out: LivepatchReference[] = [];
  for (let i = 1; i < symtab.count; i++) {
    const livepatch = symtab.rawShndx(i) === SHN_LIVEPATCH;
    let name: string;
    try {
      name = symtab.name(i);
    } catch (e) {
      if (!(e instanceof ObjectError)) throw e;
      if (livepatch) errors.push(e);
      continue;
    }
    if (!livepatch) {
      if (name.startsWith(KLP_SYM_PREFIX)) {
        errors.push(new ObjectError(file, symtab.entryOffset(i),
          `symbol ${i} (${name}): named like a livepatch symbol, expected st_shndx SHN_LIVEPATCH (0xff20), found 0x${symtab.rawShndx(i).toString(16)}`));
      }
      continue;
    }
    const parsed = parseKlpSymName(name);
    if (!parsed) {
      errors.push(new ObjectError(file, symtab.entryOffset(i),
        `symbol ${i}: st_shndx is SHN_LIVEPATCH, expected a name .klp.sym.<objname>.<name>,<sympos>, found "${name}"`));
      continue;
    }
    const n = uses.get(i) ?? 0;
    out.push({ kind: 'klp_sym', ...parsed, where: `symbol ${i} ${name} (${n} .klp.rela entr${n === 1 ? 'y' : 'ies'})`, offset: symtab.entryOffset(i) });
  }
  return out;
}
