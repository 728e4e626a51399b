/**
 * An independent transcription of what /proc/kallsyms shows for a loaded module after init (6.1–6.12):
 * kernel/module/kallsyms.c (is_core_symbol, elf_type) and kernel/kallsyms.c s_show + is_exported, over
 * `readelf` output, where exports are read the way the kernel reads them: the `struct kernel_symbol`
 * entries of `__ksymtab` (value and name pointers, through their relocations).
 */
import {
  type ReadelfSection, type ReadelfSymbol, ndxNumber, readelfHexDump, readelfRelocs, readelfSections, readelfSymbols,
  symbolNameOffsets,
} from './oracle.js';

const SHN_LORESERVE = 0xff00;
const SHN_ABS = 0xfff1;

interface Export {
  readonly name: string;
  readonly ndx: number;
  readonly value: bigint;
}

/**
 * The entries of one export table (`__ksymtab` or `__ksymtab_gpl`): struct kernel_symbol
 * { unsigned long value; const char *name; const char *namespace; }, or with
 * CONFIG_HAVE_ARCH_PREL32_RELOCATIONS (Debian's x86_64 and arm64 kernels) three `int` offsets, each
 * relocated place-relative: the kernel adds the field's own address back, so each still names symbol + addend.
 */
async function exportTable(file: string, table: string, is64: boolean, little: boolean,
  sections: readonly ReadelfSection[], symbols: readonly ReadelfSymbol[]): Promise<Export[]> {
  const sec = sections.find((s) => s.name === table);
  if (!sec) return [];
  const relocs = await readelfRelocs(file, is64);
  const rel = relocs.get(`.rela${table}`) ?? relocs.get(`.rel${table}`) ?? [];
  const prel32 = rel.length > 0 && /_(PREL32|PC32)$/.test(rel[0].type);
  const ptr = is64 && !prel32 ? 8 : 4;
  const contents = await readelfHexDump(file, table);
  const dumps = new Map<string, Buffer>();
  const bytesOf = async (name: string) => {
    if (!dumps.has(name)) dumps.set(name, await readelfHexDump(file, name));
    return dumps.get(name)!;
  };
  // Where a pointer field points: symbol + addend (REL keeps the addend in the field itself).
  const target = (at: number) => {
    const r = rel.find((x) => x.offset === at);
    if (!r) throw new Error(`${file}: no relocation for ${table}+0x${at.toString(16)}`);
    const implicit = ptr === 8 ? (little ? contents.readBigUInt64LE(at) : contents.readBigUInt64BE(at))
      : BigInt(little ? contents.readUInt32LE(at) : contents.readUInt32BE(at));
    const sym = symbols[r.symIndex];
    return { ndx: ndxNumber(sym.ndx), value: sym.value + (r.addend ?? implicit) };
  };
  const out: Export[] = [];
  for (let at = 0; at + 3 * ptr <= sec.size; at += 3 * ptr) {
    const value = target(at);
    const name = target(at + ptr);
    const strings = await bytesOf(sections[name.ndx].name);
    const start = Number(name.value);
    out.push({ name: strings.toString('latin1', start, strings.indexOf(0, start)), ndx: value.ndx, value: value.value });
  }
  return out;
}

/**
 * The /proc/kallsyms letter of each .symtab entry of an uncompressed module, ' ' for entries it does not
 * print; `all` is CONFIG_KALLSYMS_ALL.
 */
export async function moduleKallsymsOracle(file: string, is64: boolean, little: boolean, all: boolean): Promise<string[]> {
  const [symbols, sections, stName] = await Promise.all([readelfSymbols(file), readelfSections(file), symbolNameOffsets(file)]);
  const shnum = sections.length;
  // The loader clears SHF_ALLOC on .modinfo and __versions before laying the module out.
  const alloc = sections.map((s) => s.flags.includes('A') && s.name !== '.modinfo' && s.name !== '__versions');
  const pcpu = Math.max(0, sections.findIndex((s, i) => i > 0 && alloc[i] && s.name === '.data..percpu'));
  const exported = await exportTable(file, '__ksymtab', is64, little, sections, symbols);

  return symbols.map((sym) => {
    const ndx = ndxNumber(sym.ndx);
    // is_core_symbol()
    if (sym.index === 0 || ndx === 0 || ndx >= shnum || stName[sym.index] === 0) return ' ';
    // The per-cpu exception exists only with CONFIG_KALLSYMS_ALL; without it, executable sections only.
    if (!(all && ndx === pcpu) && (!alloc[ndx] || (!all && !sections[ndx].flags.includes('X')) || sections[ndx].name.startsWith('.init'))) return ' ';
    // elf_type()
    let letter: string;
    const sec = sections[ndx];
    if (sym.bind === 'WEAK') letter = sym.type === 'OBJECT' ? 'v' : 'w';
    else if (ndx === SHN_ABS || ndx === pcpu) letter = 'a';
    else if (ndx >= SHN_LORESERVE) letter = '?';
    else if (sec.flags.includes('X')) letter = 't';
    else if (alloc[ndx] && sec.type !== 'NOBITS') letter = sec.flags.includes('W') ? 'd' : 'r';
    else if (sec.type === 'NOBITS') letter = 'b';
    else if (sec.name.startsWith('.debug')) letter = 'n';
    else letter = '?';
    // s_show(): upper case when is_exported() finds the name in the module's __ksymtab at this address.
    const isExported = exported.some((e) => e.name === sym.name && e.ndx === ndx && e.value === sym.value);
    return isExported ? letter.toUpperCase() : letter.toLowerCase();
  });
}

