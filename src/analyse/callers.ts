// Who calls one function copy inside its object: the call sites the compiler recorded in DWARF
// (DW_TAG_call_site: its return address and the callee it names), each confirmed by the call instruction's
// own target (x86-64 `call`/`jmp rel32` or `jmp rel8`, through the instruction's relocation when it has one).
// Relocations alone cannot answer this: the assembler resolves a call to a static function of the same
// section itself, so such calls (bridge.ko's `jhash` copies) leave no relocation behind.
import * as C from '../dwarf/constants.js';
import { Dwarf } from '../dwarf/dwarf.js';
import { originName } from '../dwarf/refs.js';
import { DwarfFile } from '../dwarf/dwarf-file.js';
import { UnitAddressIndex } from '../dwarf/unit-index.js';
import { EM_X86_64, ET_REL, SHT_NOBITS } from '../elf/constants.js';
import { readRelocations, relocationSectionsFor } from '../elf/relocations.js';
import { type Section, sectionBytes } from '../elf/sections.js';
import { type OpenedObject, openObject } from '../sites/object.js';

const R_X86_64_PC32 = 2;
const R_X86_64_PLT32 = 4;

/** The copy whose callers are wanted: where it is (section index and offset; vmlinux: index 0 and its address). */
export interface Callee {
  readonly name: string;
  readonly section: number;
  readonly value: bigint;
  /** A local symbol can only be called directly from its own unit; a global one from any. */
  readonly local: boolean;
}

/** One call instruction that reaches the callee. */
export interface CallSite {
  /** Section index of the call instruction (0 in vmlinux, whose addresses are absolute). */
  readonly section: number;
  /** Its first byte (section offset, or vmlinux address). */
  readonly at: bigint;
  /** A jump that ends the caller (the callee returns to the caller's caller). */
  readonly tail: boolean;
}

/** The call sites of `callee` in the object whose DWARF is at `debugPath`, in address order. */
export async function callSitesOf(debugPath: string, callee: Callee): Promise<CallSite[]> {
  const obj = await openObject(debugPath);
  const problems: string[] = [];
  const file = new DwarfFile(obj.src, obj.h, obj.sections, obj.symtab, (e) => problems.push(e.message));
  try {
    if (obj.h.machine !== EM_X86_64) throw new Error(`${debugPath}: finding callers needs x86-64 call instructions (machine ${obj.h.machine})`);
    const dwarf = new Dwarf(file);
    if (!dwarf.info) throw new Error(`${debugPath}: no .debug_info, so no call sites`);
    const units = new UnitAddressIndex(dwarf, (e) => problems.push(String((e as Error)?.message ?? e)));
    const scope = callee.local ? units.unitsAt(callee.section, callee.value) : units.unitOffsets();
    const base = callee.name.replace(/\..*$/, '');
    const code = new CodeReader(obj);
    const out: CallSite[] = [];
    for (const unitOff of scope) {
      for (const site of recordedCalls(dwarf, unitOff, base)) {
        const call = code.callAt(site.section, site.returnPc);
        if (call && call.target.section === callee.section && call.target.value === callee.value) out.push({ section: site.section, at: call.at, tail: site.tail });
      }
    }
    if (problems.length) throw new Error(`${debugPath}: ${problems[0]}`);
    return out.sort((a, b) => a.section - b.section || (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  } finally {
    file.close();
    obj.close();
  }
}

/** The DWARF call sites of one unit whose callee is named `name` (its DW_AT_name or its origin's). */
function recordedCalls(dwarf: Dwarf, unitOff: number, name: string): { section: number; returnPc: bigint; tail: boolean }[] {
  const out: { section: number; returnPc: bigint; tail: boolean }[] = [];
  const c = dwarf.unit(unitOff).cursor();
  while (c.next()) {
    const gnu = c.tag === C.DW_TAG_GNU_call_site;
    if (c.tag !== C.DW_TAG_call_site && !gnu) continue;
    const k = c.find(gnu ? C.DW_AT_abstract_origin : C.DW_AT_call_origin);
    const ref = k >= 0 ? c.reference(k) : null;
    if (!ref || ref.kind !== 'offset') continue; // an indirect call: no callee to name
    const pcAt = c.find(gnu ? C.DW_AT_low_pc : C.DW_AT_call_return_pc);
    const pc = pcAt >= 0 ? c.address(pcAt) : null;
    if (!pc) continue;
    const tailAt = c.find(gnu ? C.DW_AT_GNU_tail_call : C.DW_AT_call_tail_call);
    const tail = tailAt >= 0 && c.flag(tailAt);
    if (originName(dwarf, unitOff, ref.offset) === name) out.push({ section: pc.section, returnPc: pc.value, tail });
  }
  return out;
}

/** Call instructions of an object's code, decoded backwards from their return addresses. */
class CodeReader {
  private relocatable: boolean;
  private bytes = new Map<number, Buffer>();
  private relocs = new Map<number, Map<number, { section: number; value: bigint }>>();

  constructor(private obj: OpenedObject) {
    this.relocatable = obj.h.type === ET_REL;
  }

  /** The section holding a call site: by index in a module, by address in vmlinux. */
  private sectionOf(section: number, address: bigint): Section | undefined {
    if (this.relocatable) return this.obj.sections[section];
    return this.obj.sections.find((s) => s.type !== SHT_NOBITS && s.size > 0 && BigInt(`0x${s.addr}`) <= address && address < BigInt(`0x${s.addr}`) + BigInt(s.size));
  }

  private contents(s: Section): Buffer {
    let b = this.bytes.get(s.index);
    if (!b) this.bytes.set(s.index, (b = sectionBytes(this.obj.src, s)));
    return b;
  }

  /** PC-relative call relocations of a code section (a module's), by place: where each one points. */
  private relocations(s: Section): Map<number, { section: number; value: bigint }> {
    let m = this.relocs.get(s.index);
    if (m) return m;
    m = new Map();
    const symtab = this.obj.symtab;
    for (const rs of relocationSectionsFor(this.obj.sections, s)) {
      const t = readRelocations(this.obj.src, this.obj.h, rs);
      for (let i = 0; i < t.count; i++) {
        const type = t.type(i);
        if ((type !== R_X86_64_PC32 && type !== R_X86_64_PLT32) || !symtab) continue;
        const sym = t.symbol(i);
        // S + A - P is stored at P, and the target is P + 4 + that: S + A + 4.
        m.set(t.offset(i), { section: symtab.shndx(sym), value: symtab.value(sym) + BigInt(t.addend(i)) + 4n });
      }
    }
    this.relocs.set(s.index, m);
    return m;
  }

  /**
   * The direct call or jump that ends at `returnPc`: `call`/`jmp rel32` (e8/e9 + 4 bytes) or `jmp rel8`
   * (eb + 1 byte), and where it goes. Null for anything else (an indirect call has no target here).
   */
  callAt(section: number, returnPc: bigint): { at: bigint; target: { section: number; value: bigint } } | null {
    const s = this.sectionOf(section, returnPc);
    if (!s) return null;
    const start = this.relocatable ? 0n : BigInt(`0x${s.addr}`);
    const end = Number(returnPc - start);
    const b = this.contents(s);
    if (end < 2 || end > b.length) return null;
    if (end >= 5 && (b[end - 5] === 0xe8 || b[end - 5] === 0xe9)) {
      const moved = this.relocatable ? this.relocations(s).get(end - 4) : undefined;
      const target = moved ?? { section, value: returnPc + BigInt(b.readInt32LE(end - 4)) };
      return { at: returnPc - 5n, target };
    }
    if (b[end - 2] === 0xeb) return { at: returnPc - 2n, target: { section, value: returnPc + BigInt(b.readInt8(end - 1)) } };
    return null;
  }
}
