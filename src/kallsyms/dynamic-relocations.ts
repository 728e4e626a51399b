// Link-time values of address words in a PIE vmlinux, from its dynamic relocations: what the kallsyms tables'
// relative_base and address words hold before the kernel relocates itself.
//
// Position-independent kernels (arm64, s390x, ppc64le, riscv) are linked with `-pie`: a word that holds an
// address (such as `kallsyms_relative_base`, `PTR _text + x`) is left 0 in the file, and its link-time value
// is in a dynamic relocation that the kernel applies to itself at boot. Only SHT_RELA sections that are
// SHF_ALLOC are dynamic: x86_64's `--emit-relocs` `.rela.*` sections are not allocated and describe the
// link, not a fix-up. SHT_REL (i386, arm) keeps its addend in place, so the stored word is already right.
//
// Read with BigInt: the relocated places of a 64-bit kernel (0xffff8000…) do not fit a double.
import { EM_386, EM_AARCH64, EM_ARM, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64, SHF_ALLOC, SHT_RELA } from '../elf/constants.js';
import type { ElfHeader } from '../elf/header.js';
import { type Section, sectionBytes } from '../elf/sections.js';
import type { ByteSource } from '../io/source.js';

const RELATIVE: Readonly<Record<number, number>> = {
  [EM_X86_64]: 8, [EM_386]: 8, [EM_AARCH64]: 1027, [EM_S390]: 12, [EM_PPC64]: 22, [EM_RISCV]: 3, [EM_ARM]: 23,
  258: 3, // EM_LOONGARCH
};

/** r_offset → the value the relocation stores: the addend for RELATIVE, symbol value + addend otherwise. */
export function dynamicRelocationValues(src: ByteSource, h: ElfHeader, sections: readonly Section[]): Map<bigint, bigint> {
  const out = new Map<bigint, bigint>();
  const relative = RELATIVE[h.machine];
  const mask = h.is64 ? (1n << 64n) - 1n : (1n << 32n) - 1n;
  for (const s of sections) {
    if (s.type !== SHT_RELA || (s.flags & SHF_ALLOC) === 0) continue;
    const bytes = sectionBytes(src, s);
    const ent = h.is64 ? 24 : 12;
    const dynsym = sections[s.link];
    const symbols = dynsym && s.link !== 0 ? sectionBytes(src, dynsym) : null;
    for (let o = 0; o + ent <= bytes.length; o += ent) {
      const offset = word(bytes, o, h);
      const info = word(bytes, o + (h.is64 ? 8 : 4), h);
      const addend = signed(word(bytes, o + (h.is64 ? 16 : 8), h), h.is64);
      const type = Number(h.is64 ? info & 0xffffffffn : info & 0xffn);
      const sym = Number(h.is64 ? info >> 32n : info >> 8n);
      let value = addend;
      if (type !== relative && sym !== 0 && symbols) {
        const at = sym * (h.is64 ? 24 : 16) + (h.is64 ? 8 : 4);
        if (at + (h.is64 ? 8 : 4) <= symbols.length) value += word(symbols, at, h);
      }
      out.set(offset, value & mask);
    }
  }
  return out;
}

function word(b: Buffer, at: number, h: ElfHeader): bigint {
  if (!h.is64) return BigInt(h.little ? b.readUInt32LE(at) : b.readUInt32BE(at));
  return h.little ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at);
}

function signed(v: bigint, is64: boolean): bigint {
  return is64 ? BigInt.asIntN(64, v) : BigInt.asIntN(32, v);
}
