// The DWARF reader on hand-assembled sections: every form, 32/64-bit DWARF, both byte orders, DWARF 2
// ref_addr, subtree skipping, range lists, line programs, aranges, and typed errors.
import test from 'ava';
import { ArangeIndex } from '../src/dwarf/aranges.js';
import * as C from '../src/dwarf/constants.js';
import { Dwarf } from '../src/dwarf/dwarf.js';
import { DwarfError, DwarfReader, ReservedLengthError } from '../src/dwarf/reader.js';
import { dieRanges, unitRanges } from '../src/dwarf/ranges.js';
import type { DwarfSection } from '../src/dwarf/section.js';
import { parseUnitHeader } from '../src/dwarf/unit-header.js';
import { memorySection } from '../src/dwarf/memory-section.js';
import { RelocatedTargets } from '../src/elf/relocations.js';
import { Bytes } from './helpers/dwarf-bytes.js';

const FILE = 'synthetic.o';

class Strings {
  readonly b = new Bytes();
  private at = new Map<string, number>();
  off(s: string): number {
    let o = this.at.get(s);
    if (o === undefined) {
      o = this.b.length;
      this.b.str(s);
      this.at.set(s, o);
    }
    return o;
  }
}

function sections(map: Record<string, Buffer>, little = true, targets: Record<string, RelocatedTargets> = {}) {
  const made = new Map<string, DwarfSection>();
  let index = 1;
  for (const [name, bytes] of Object.entries(map)) made.set(name, memorySection(FILE, name, bytes, { index: index++, little, targets: targets[name] ?? null }));
  return { file: FILE, section: (name: string) => made.get(name) ?? null };
}

// Attribute numbers for the "form zoo" DIE: one attribute per form, in the user range.
const ZOO = 0x3000;
const zooForms = [
  C.DW_FORM_addr, C.DW_FORM_block2, C.DW_FORM_block4, C.DW_FORM_data2, C.DW_FORM_data4, C.DW_FORM_data8,
  C.DW_FORM_string, C.DW_FORM_block, C.DW_FORM_block1, C.DW_FORM_data1, C.DW_FORM_flag, C.DW_FORM_sdata,
  C.DW_FORM_strp, C.DW_FORM_udata, C.DW_FORM_ref_addr, C.DW_FORM_ref1, C.DW_FORM_ref2, C.DW_FORM_ref4,
  C.DW_FORM_ref8, C.DW_FORM_ref_udata, C.DW_FORM_indirect, C.DW_FORM_sec_offset, C.DW_FORM_exprloc,
  C.DW_FORM_flag_present, C.DW_FORM_strx, C.DW_FORM_addrx, C.DW_FORM_data16, C.DW_FORM_line_strp,
  C.DW_FORM_ref_sig8, C.DW_FORM_implicit_const, C.DW_FORM_loclistx, C.DW_FORM_rnglistx, C.DW_FORM_strx1,
  C.DW_FORM_strx2, C.DW_FORM_strx3, C.DW_FORM_strx4, C.DW_FORM_addrx1, C.DW_FORM_addrx2, C.DW_FORM_addrx3,
  C.DW_FORM_addrx4,
];

/**
 * A DWARF 5 compile unit: unit DIE (strx1 name, line_strp comp_dir, bases, addrx low_pc, rnglists ranges),
 * a subprogram with a DW_AT_sibling and a child, a subprogram without sibling but with children, a form zoo,
 * and a variable whose location is DW_OP_addrx.
 */
function buildV5(is64: boolean, little: boolean) {
  const off = (b: Bytes, v: number) => (is64 ? b.u64(v) : b.u32(v));
  const str = new Strings();
  const lineStr = new Strings();
  const strNames = ['unit.c', 'first', 'second', 'zoo_x1', 'zoo_x2', 'zoo_x3', 'zoo_x4', 'zoo_strx', 'var'];
  const strOffsets = new Bytes(little);
  const strOffsetsBody = new Bytes(little);
  for (const n of strNames) off(strOffsetsBody, str.off(n));
  if (is64) strOffsets.u32(0xffffffff).u64(4 + strOffsetsBody.length);
  else strOffsets.u32(4 + strOffsetsBody.length);
  strOffsets.u16(5).u16(0).raw(strOffsetsBody.buffer());
  const strOffsetsBase = is64 ? 16 : 8;
  const addresses = [0x1000n, 0xffffffff81000000n, 0x2000n, 0x2100n, 0x3000n, 0x4000n];
  const addr = new Bytes(little);
  if (is64) addr.u32(0xffffffff).u64(4 + addresses.length * 8);
  else addr.u32(4 + addresses.length * 8);
  addr.u16(5).u8(8, 0);
  for (const a of addresses) addr.u64(a);
  const addrBase = is64 ? 16 : 8;
  // .debug_rnglists: header, an offsets array of 2 lists, then the lists.
  const rl = new Bytes(little);
  const rlBody = new Bytes(little);
  const list0 = rlBody.length;
  rlBody.u8(C.DW_RLE_base_addressx).uleb(0).u8(C.DW_RLE_offset_pair).uleb(0x10).uleb(0x20)
    .u8(C.DW_RLE_startx_endx).uleb(2).uleb(3).u8(C.DW_RLE_startx_length).uleb(4).uleb(0x40).u8(C.DW_RLE_end_of_list);
  const list1 = rlBody.length;
  rlBody.u8(C.DW_RLE_base_address).u64(0x5000).u8(C.DW_RLE_offset_pair).uleb(1).uleb(2)
    .u8(C.DW_RLE_start_end).u64(0x6000).u64(0x6010).u8(C.DW_RLE_start_length).u64(0x7000).uleb(0x8).u8(C.DW_RLE_end_of_list);
  const offSize = is64 ? 8 : 4;
  const rnglistsBase = is64 ? 20 : 12;
  const rlOffsets = new Bytes(little);
  off(rlOffsets, 2 * offSize + list0);
  off(rlOffsets, 2 * offSize + list1);
  const rlTotal = 2 + 1 + 1 + 4 + rlOffsets.length + rlBody.length;
  if (is64) rl.u32(0xffffffff).u64(rlTotal);
  else rl.u32(rlTotal);
  rl.u16(5).u8(8, 0).u32(2).raw(rlOffsets.buffer()).raw(rlBody.buffer());

  const ab = new Bytes(little);
  const decl = (code: number, tag: number, children: boolean, attrs: [number, number, number?][]) => {
    ab.uleb(code).uleb(tag).u8(children ? 1 : 0);
    for (const [n, f, implicit] of attrs) {
      ab.uleb(n).uleb(f);
      if (f === C.DW_FORM_implicit_const) ab.sleb(implicit!);
    }
    ab.u8(0, 0);
  };
  decl(1, C.DW_TAG_compile_unit, true, [
    [C.DW_AT_name, C.DW_FORM_strx1], [C.DW_AT_comp_dir, C.DW_FORM_line_strp], [C.DW_AT_low_pc, C.DW_FORM_addrx1],
    [C.DW_AT_str_offsets_base, C.DW_FORM_sec_offset], [C.DW_AT_addr_base, C.DW_FORM_sec_offset],
    [C.DW_AT_rnglists_base, C.DW_FORM_sec_offset], [C.DW_AT_ranges, C.DW_FORM_rnglistx],
  ]);
  decl(2, C.DW_TAG_subprogram, true, [
    [C.DW_AT_name, C.DW_FORM_strx1], [C.DW_AT_decl_file, C.DW_FORM_implicit_const, 3], [C.DW_AT_decl_line, C.DW_FORM_udata],
    [C.DW_AT_low_pc, C.DW_FORM_addrx], [C.DW_AT_high_pc, C.DW_FORM_data4], [C.DW_AT_sibling, C.DW_FORM_ref4],
  ]);
  decl(3, C.DW_TAG_lexical_block, true, [[C.DW_AT_ranges, C.DW_FORM_sec_offset]]);
  decl(4, C.DW_TAG_variable, false, [[C.DW_AT_name, C.DW_FORM_string]]);
  decl(5, C.DW_TAG_subprogram, true, [[C.DW_AT_name, C.DW_FORM_strx2], [C.DW_AT_decl_line, C.DW_FORM_sdata]]);
  decl(6, 0x4321, false, zooForms.map((f, k) => [ZOO + k, f, f === C.DW_FORM_implicit_const ? -42 : undefined] as [number, number, number?]));
  decl(7, C.DW_TAG_variable, false, [[C.DW_AT_name, C.DW_FORM_strx4], [C.DW_AT_location, C.DW_FORM_exprloc], [C.DW_AT_abstract_origin, C.DW_FORM_ref_addr]]);
  ab.u8(0);

  const u = new Bytes(little);
  if (is64) u.u32(0xffffffff).u64(0);
  else u.u32(0);
  const lengthEnd = u.length;
  u.u16(5).u8(C.DW_UT_compile, 8);
  off(u, 0); // abbrev offset
  const rel = (at: number) => at; // unit-relative refs: the unit starts at section offset 0
  // unit DIE
  u.uleb(1).u8(0).uN(lineStr.off('/build/dir'), offSize).u8(0);
  off(u, strOffsetsBase);
  off(u, addrBase);
  off(u, rnglistsBase);
  u.uleb(0);
  // subprogram "first" with sibling and one child variable
  const first = u.length;
  u.uleb(2).u8(1).uleb(77).uleb(1).u32(0x30);
  const siblingAt = u.length;
  u.u32(0);
  u.uleb(3);
  off(u, rnglistsBase + 2 * offSize + list1); // lexical block ranges: DWARF 5 sec_offset into .debug_rnglists
  u.uleb(4).str('inner');
  u.u8(0); // end of lexical block children
  u.u8(0); // end of first's children
  const second = u.length;
  u.patch(siblingAt, rel(second), 4);
  // subprogram "second": children, no sibling attribute
  u.uleb(5).u16(2).sleb(-5);
  u.uleb(4).str('nested');
  u.u8(0);
  // the zoo
  const zoo = u.length;
  u.uleb(6);
  const sig = 0x0123456789abcdefn;
  for (const f of zooForms) {
    switch (f) {
      case C.DW_FORM_addr: u.u64(0xdeadbeefcafe); break;
      case C.DW_FORM_block2: u.u16(2).u8(7, 8); break;
      case C.DW_FORM_block4: u.u32(1).u8(9); break;
      case C.DW_FORM_data2: u.u16(0xbeef); break;
      case C.DW_FORM_data4: u.u32(0xfeedface); break;
      case C.DW_FORM_data8: u.u64(0x1_0000_0001n); break;
      case C.DW_FORM_string: u.str('inline string'); break;
      case C.DW_FORM_block: u.uleb(3).u8(1, 2, 3); break;
      case C.DW_FORM_block1: u.u8(1, 4); break;
      case C.DW_FORM_data1: u.u8(0x7f); break;
      case C.DW_FORM_flag: u.u8(1); break;
      case C.DW_FORM_sdata: u.sleb(-1000); break;
      case C.DW_FORM_strp: u.uN(str.off('by strp'), offSize); break;
      case C.DW_FORM_udata: u.uleb(300000); break;
      case C.DW_FORM_ref_addr: u.uN(first, offSize); break;
      case C.DW_FORM_ref1: u.u8(first); break;
      case C.DW_FORM_ref2: u.u16(second); break;
      case C.DW_FORM_ref4: u.u32(zoo); break;
      case C.DW_FORM_ref8: u.u64(first); break;
      case C.DW_FORM_ref_udata: u.uleb(second); break;
      case C.DW_FORM_indirect: u.uleb(C.DW_FORM_data2).u16(0x1234); break;
      case C.DW_FORM_sec_offset: u.uN(0x99, offSize); break;
      case C.DW_FORM_exprloc: u.uleb(2).u8(0x50, 0x9f); break; // DW_OP_reg0; DW_OP_stack_value
      case C.DW_FORM_flag_present: break;
      case C.DW_FORM_strx: u.uleb(7); break;
      case C.DW_FORM_addrx: u.uleb(5); break;
      case C.DW_FORM_data16: u.raw(new Array(16).fill(0xaa)); break;
      case C.DW_FORM_line_strp: u.uN(lineStr.off('by line_strp'), offSize); break;
      case C.DW_FORM_ref_sig8: u.u64(sig); break;
      case C.DW_FORM_implicit_const: break;
      case C.DW_FORM_loclistx: u.uleb(3); break;
      case C.DW_FORM_rnglistx: u.uleb(1); break;
      case C.DW_FORM_strx1: u.u8(3); break;
      case C.DW_FORM_strx2: u.u16(4); break;
      case C.DW_FORM_strx3: u.uN(5, 3); break;
      case C.DW_FORM_strx4: u.u32(6); break;
      case C.DW_FORM_addrx1: u.u8(1); break;
      case C.DW_FORM_addrx2: u.u16(2); break;
      case C.DW_FORM_addrx3: u.uN(3, 3); break;
      case C.DW_FORM_addrx4: u.u32(4); break;
    }
  }
  const variable = u.length;
  u.uleb(7).u32(8).uleb(2).u8(C.DW_OP_addrx).uleb(1).uN(first, offSize);
  u.u8(0); // end of unit DIE children
  if (is64) u.patch(4, u.length - lengthEnd, 8);
  else u.patch(0, u.length - lengthEnd, 4);
  const dwarf = new Dwarf(sections({
    '.debug_info': u.buffer(), '.debug_abbrev': ab.buffer(), '.debug_str': str.b.buffer(), '.debug_line_str': lineStr.b.buffer(),
    '.debug_str_offsets': strOffsets.buffer(), '.debug_addr': addr.buffer(), '.debug_rnglists': rl.buffer(),
  }, little));
  return { dwarf, first, second, zoo, variable, sig, addresses };
}

for (const [is64, little] of [[false, true], [true, true], [false, false], [true, false]] as const) {
  const shape = `${is64 ? '64' : '32'}-bit DWARF, ${little ? 'little' : 'big'} endian`;

  test(`DWARF 5 unit DIE: strx1, line_strp, bases, addrx low_pc, rnglistx ranges (${shape})`, (t) => {
    const { dwarf, addresses } = buildV5(is64, little);
    const u = dwarf.unit(0);
    t.is(u.header.version, 5);
    t.is(u.header.is64, is64);
    t.is(u.name, 'unit.c');
    t.is(u.compDir, '/build/dir');
    t.deepEqual(u.lowPc, { value: addresses[0], section: 0 });
    t.deepEqual(unitRanges(u), [
      { section: 0, start: 0x1010n, end: 0x1020n },
      { section: 0, start: 0x2000n, end: 0x2100n },
      { section: 0, start: 0x3000n, end: 0x3040n },
    ]);
  });

  test(`DIE walk, sibling jumps and subtree skipping (${shape})`, (t) => {
    const { dwarf, first, second, zoo, variable } = buildV5(is64, little);
    const u = dwarf.unit(0);
    const seen: [number, number, number][] = [];
    const c = u.cursor();
    while (c.next()) seen.push([c.offset, c.tag, c.depth]);
    t.deepEqual(seen.map(([, tag, depth]) => [tag, depth]), [
      [C.DW_TAG_compile_unit, 0], [C.DW_TAG_subprogram, 1], [C.DW_TAG_lexical_block, 2], [C.DW_TAG_variable, 3],
      [C.DW_TAG_subprogram, 1], [C.DW_TAG_variable, 2], [0x4321, 1], [C.DW_TAG_variable, 1],
    ]);
    const s = u.cursor();
    const top: number[] = [];
    s.next();
    while (s.next()) {
      top.push(s.offset);
      s.skipChildren(); // with DW_AT_sibling for "first", by walking for "second"
    }
    t.deepEqual(top, [first, second, zoo, variable].map((o) => o + u.offset));
  });

  test(`every attribute form decodes (${shape})`, (t) => {
    const { dwarf, first, second, zoo, sig, addresses } = buildV5(is64, little);
    const u = dwarf.unit(0);
    const c = u.cursor(zoo);
    c.seek(zoo);
    const k = (f: number) => c.find(ZOO + zooForms.indexOf(f));
    t.deepEqual(c.address(k(C.DW_FORM_addr)), { value: 0xdeadbeefcafen, section: 0 });
    t.deepEqual(c.block(k(C.DW_FORM_block2))!.end - c.block(k(C.DW_FORM_block2))!.start, 2);
    t.is(c.constant(k(C.DW_FORM_data2)), 0xbeef);
    t.is(c.constant(k(C.DW_FORM_data4)), 0xfeedface);
    t.is(c.constant(k(C.DW_FORM_data8)), 0x1_0000_0001);
    t.is(c.string(k(C.DW_FORM_string)), 'inline string');
    t.is(c.constant(k(C.DW_FORM_data1)), 0x7f);
    t.true(c.flag(k(C.DW_FORM_flag)));
    t.is(c.constant(k(C.DW_FORM_sdata)), -1000);
    t.is(c.string(k(C.DW_FORM_strp)), 'by strp');
    t.is(c.constant(k(C.DW_FORM_udata)), 300000);
    const ref = (f: number) => {
      const r = c.reference(k(f));
      return r && r.kind === 'offset' ? r.offset : r;
    };
    t.is(ref(C.DW_FORM_ref_addr), first);
    t.is(ref(C.DW_FORM_ref1), first);
    t.is(ref(C.DW_FORM_ref2), second);
    t.is(ref(C.DW_FORM_ref4), zoo);
    t.is(ref(C.DW_FORM_ref8), first);
    t.is(ref(C.DW_FORM_ref_udata), second);
    t.is(c.form(k(C.DW_FORM_indirect)), C.DW_FORM_data2);
    t.is(c.constant(k(C.DW_FORM_indirect)), 0x1234);
    t.is(c.sectionOffset(k(C.DW_FORM_sec_offset)), 0x99);
    t.is(c.locationAddress(k(C.DW_FORM_exprloc)), null, 'DW_OP_reg0 is not an address');
    t.true(c.flag(k(C.DW_FORM_flag_present)));
    t.is(c.string(k(C.DW_FORM_strx)), 'zoo_strx');
    t.deepEqual(c.address(k(C.DW_FORM_addrx)), { value: addresses[5], section: 0 });
    t.is(c.constant(k(C.DW_FORM_data16)), null);
    t.is(c.string(k(C.DW_FORM_line_strp)), 'by line_strp');
    t.deepEqual(c.reference(k(C.DW_FORM_ref_sig8)), { kind: 'signature', signature: sig });
    t.is(c.constant(k(C.DW_FORM_implicit_const)), -42);
    t.is(c.index(k(C.DW_FORM_loclistx)), 3);
    t.is(c.index(k(C.DW_FORM_rnglistx)), 1);
    t.is(c.string(k(C.DW_FORM_strx1)), 'zoo_x1');
    t.is(c.string(k(C.DW_FORM_strx2)), 'zoo_x2');
    t.is(c.string(k(C.DW_FORM_strx3)), 'zoo_x3');
    t.is(c.string(k(C.DW_FORM_strx4)), 'zoo_x4');
    t.deepEqual(c.address(k(C.DW_FORM_addrx1)), { value: addresses[1], section: 0 });
    t.deepEqual(c.address(k(C.DW_FORM_addrx2)), { value: addresses[2], section: 0 });
    t.deepEqual(c.address(k(C.DW_FORM_addrx3)), { value: addresses[3], section: 0 });
    t.deepEqual(c.address(k(C.DW_FORM_addrx4)), { value: addresses[4], section: 0 });
  });

  test(`subprogram entry, ranges of a block, DW_OP_addrx location, implicit_const decl_file (${shape})`, (t) => {
    const { dwarf, first, variable, addresses } = buildV5(is64, little);
    const u = dwarf.unit(0);
    const c = u.cursor(first);
    c.seek(first);
    t.is(c.string(c.find(C.DW_AT_name)), 'first');
    t.is(c.constant(c.find(C.DW_AT_decl_file)), 3);
    t.is(c.constant(c.find(C.DW_AT_decl_line)), 77);
    t.deepEqual(dieRanges(c), [{ section: 0, start: addresses[1], end: addresses[1] + 0x30n }]);
    c.next();
    t.is(c.tag, C.DW_TAG_lexical_block);
    t.deepEqual(dieRanges(c), [
      { section: 0, start: 0x5001n, end: 0x5002n }, { section: 0, start: 0x6000n, end: 0x6010n }, { section: 0, start: 0x7000n, end: 0x7008n },
    ]);
    const v = u.cursor(variable);
    v.seek(variable);
    t.deepEqual(v.locationAddress(v.find(C.DW_AT_location)), { value: addresses[1], section: 0 });
    t.is(v.string(v.find(C.DW_AT_name)), 'var');
  });
}

/** A DWARF 2/3/4 unit for 32-bit targets: ref_addr is address-sized in DWARF 2 only. */
function buildOld(version: number, addressSize: 4 | 8) {
  const ab = new Bytes().uleb(1).uleb(C.DW_TAG_compile_unit).u8(1).uleb(C.DW_AT_name).uleb(C.DW_FORM_string)
    .uleb(C.DW_AT_low_pc).uleb(C.DW_FORM_addr).uleb(C.DW_AT_ranges).uleb(C.DW_FORM_data4).u8(0, 0)
    .uleb(2).uleb(C.DW_TAG_variable).u8(0).uleb(C.DW_AT_specification).uleb(C.DW_FORM_ref_addr)
    .uleb(C.DW_AT_location).uleb(C.DW_FORM_block1).u8(0, 0).u8(0);
  const u = new Bytes().u32(0).u16(version).u32(0).u8(addressSize);
  u.uleb(1).str('old.c').uN(0x100, addressSize).u32(0);
  const varAt = u.length;
  u.uleb(2).uN(varAt, version <= 2 ? addressSize : 4).u8(1 + addressSize, C.DW_OP_addr).uN(0x8000, addressSize);
  u.u8(0);
  u.patch(0, u.length - 4, 4);
  // .debug_ranges: a base selection entry, a base-relative range, end of list.
  const max = addressSize === 8 ? 0xffffffffffffffffn : 0xffffffffn;
  const ranges = new Bytes().uN(max, addressSize).uN(0x4000, addressSize).uN(0x10, addressSize).uN(0x20, addressSize)
    .uN(0, addressSize).uN(0, addressSize);
  return { dwarf: new Dwarf(sections({ '.debug_info': u.buffer(), '.debug_abbrev': ab.buffer(), '.debug_ranges': ranges.buffer() })), varAt };
}

for (const version of [2, 3, 4]) {
  test(`DWARF ${version}: header, ref_addr size, DW_OP_addr in a block1, .debug_ranges with a base selection`, (t) => {
    const { dwarf, varAt } = buildOld(version, 4);
    const u = dwarf.unit(0);
    t.is(u.header.version, version);
    t.is(u.name, 'old.c');
    t.deepEqual(unitRanges(u), [{ section: 0, start: 0x4010n, end: 0x4020n }]);
    const c = u.cursor();
    c.next();
    c.next();
    t.is(c.offset, varAt);
    const ref = c.reference(c.find(C.DW_AT_specification));
    t.deepEqual(ref && ref.kind === 'offset' ? ref.offset : null, varAt);
    t.deepEqual(c.locationAddress(c.find(C.DW_AT_location)), { value: 0x8000n, section: 0 });
  });
}

test('relocatable sections: addresses carry the section of their relocation, -1 when unrelocated', (t) => {
  const ab = new Bytes().uleb(1).uleb(C.DW_TAG_compile_unit).u8(0).uleb(C.DW_AT_low_pc).uleb(C.DW_FORM_addr)
    .uleb(C.DW_AT_high_pc).uleb(C.DW_FORM_addr).u8(0, 0).u8(0);
  const u = new Bytes().u32(0).u16(4).u32(0).u8(8).uleb(1).u64(0x40).u64(0x80);
  u.patch(0, u.length - 4, 4);
  // A relocation at the low_pc field (offset 12) against a symbol of section 7; none at high_pc.
  const targets = new RelocatedTargets(Float64Array.from([12]), Int32Array.from([7]));
  const dwarf = new Dwarf(sections({ '.debug_info': u.buffer(), '.debug_abbrev': ab.buffer() }, true, { '.debug_info': targets }));
  const c = dwarf.unit(0).cursor();
  c.next();
  t.deepEqual(c.address(c.find(C.DW_AT_low_pc)), { value: 0x40n, section: 7 });
  t.deepEqual(c.address(c.find(C.DW_AT_high_pc)), { value: 0x80n, section: -1 });
});

test('line program v5: directory/file entry formats, special opcodes, first row per address, file paths', (t) => {
  const lineStr = new Strings();
  const str = new Strings();
  const body = new Bytes();
  // directories: format (path, line_strp); files: (path, string) (directory_index, udata) (MD5, data16)
  body.u8(1).uleb(C.DW_LNCT_path).uleb(C.DW_FORM_line_strp).uleb(3)
    .u32(lineStr.off('/work/build')).u32(lineStr.off('lib')).u32(lineStr.off('/usr/include'));
  body.u8(3).uleb(C.DW_LNCT_path).uleb(C.DW_FORM_string).uleb(C.DW_LNCT_directory_index).uleb(C.DW_FORM_udata)
    .uleb(5).uleb(C.DW_FORM_data16).uleb(3);
  body.str('lib/x.c').uleb(0).raw(new Array(16).fill(1));
  body.str('x.h').uleb(1).raw(new Array(16).fill(2));
  body.str('stdio.h').uleb(2).raw(new Array(16).fill(3));
  const headerFields = new Bytes().u8(1, 1, 1).u8(0xfb).u8(14).u8(13).u8(0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1);
  const program = new Bytes();
  program.u8(0).uleb(9).u8(C.DW_LNE_set_address).u64(0x1000); // sequence at 0x1000
  program.u8(C.DW_LNS_advance_line).sleb(9); // line 10
  program.u8(C.DW_LNS_copy); // row 0x1000 line 10 (first)
  program.u8(C.DW_LNS_advance_line).sleb(1).u8(C.DW_LNS_copy); // row 0x1000 line 11 (later, same address)
  program.u8(C.DW_LNS_set_file).uleb(1);
  program.u8(13 + (14 * 4) + (2 - -5)); // special: address += 4, line += 2 → 0x1004 line 13
  program.u8(C.DW_LNS_const_add_pc); // address += (255-13)/14 = 17 → 0x1015
  program.u8(C.DW_LNS_fixed_advance_pc).u16(0x0b).u8(C.DW_LNS_copy); // 0x1020 line 13 file 1
  program.u8(C.DW_LNS_advance_pc).uleb(0x10).u8(0).uleb(1).u8(C.DW_LNE_end_sequence); // end at 0x1030
  const afterVersion = new Bytes().u8(8, 0); // address_size, seg_sel
  const headerRest = new Bytes().raw(headerFields.buffer()).raw(body.buffer());
  const unit = new Bytes().u32(0).u16(5).raw(afterVersion.buffer()).u32(headerRest.length).raw(headerRest.buffer()).raw(program.buffer());
  unit.patch(0, unit.length - 4, 4);
  const ab = new Bytes().uleb(1).uleb(C.DW_TAG_compile_unit).u8(0).uleb(C.DW_AT_stmt_list).uleb(C.DW_FORM_sec_offset)
    .uleb(C.DW_AT_comp_dir).uleb(C.DW_FORM_strp).u8(0, 0).u8(0);
  const info = new Bytes().u32(0).u16(5).u8(C.DW_UT_compile, 8).u32(0).uleb(1).u32(0).u32(str.off('/work/build'));
  info.patch(0, info.length - 4, 4);
  const dwarf = new Dwarf(sections({
    '.debug_info': info.buffer(), '.debug_abbrev': ab.buffer(), '.debug_line': unit.buffer(),
    '.debug_line_str': lineStr.b.buffer(), '.debug_str': str.b.buffer(),
  }));
  const lp = dwarf.lineProgram(dwarf.unit(0))!;
  t.is(lp.version, 5);
  t.is(lp.filePath(0), '/work/build/lib/x.c', 'directory 0 is the compilation directory itself');
  t.is(lp.filePath(1), '/work/build/lib/x.h', 'other relative directories go under comp_dir');
  t.is(lp.filePath(2), '/usr/include/stdio.h');
  t.is(lp.filePath(3), null);
  const rows = lp.firstRows([0x1000n, 0x1004n, 0x1020n, 0x1030n, 0x1015n].map((value) => ({ section: 0, value })));
  t.deepEqual(rows, [{ file: 1, line: 10 }, { file: 1, line: 13 }, { file: 1, line: 13 }, null, null]);
});

test('line program v4: include_directories, file_names (1-based) and DW_LNE_define_file', (t) => {
  const headerRest = new Bytes().u8(1, 1).u8(1).u8(0xfb).u8(14).u8(13).u8(0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1)
    .str('inc').str('/abs').u8(0)
    .str('a.c').uleb(0).uleb(0).uleb(0).str('b.h').uleb(1).uleb(0).uleb(0).str('c.h').uleb(2).uleb(0).uleb(0).u8(0);
  const program = new Bytes().u8(0).uleb(5).u8(C.DW_LNE_set_address).u32(0x10).u8(0).uleb(8).u8(C.DW_LNE_define_file).str('d.c').uleb(1).uleb(0).uleb(0)
    .u8(C.DW_LNS_set_file).uleb(4).u8(C.DW_LNS_copy).u8(0).uleb(1).u8(C.DW_LNE_end_sequence);
  const unit = new Bytes().u32(0).u16(4).u32(headerRest.length).raw(headerRest.buffer()).raw(program.buffer());
  unit.patch(0, unit.length - 4, 4);
  const ab = new Bytes().uleb(1).uleb(C.DW_TAG_compile_unit).u8(0).uleb(C.DW_AT_stmt_list).uleb(C.DW_FORM_data4)
    .uleb(C.DW_AT_comp_dir).uleb(C.DW_FORM_string).u8(0, 0).u8(0);
  const info = new Bytes().u32(0).u16(4).u32(0).u8(4).uleb(1).u32(0).str('/cd');
  info.patch(0, info.length - 4, 4);
  const dwarf = new Dwarf(sections({ '.debug_info': info.buffer(), '.debug_abbrev': ab.buffer(), '.debug_line': unit.buffer() }));
  const lp = dwarf.lineProgram(dwarf.unit(0))!;
  t.is(lp.filePath(0), null, 'DWARF 4 file 0 means "no file"');
  t.is(lp.filePath(1), '/cd/a.c');
  t.is(lp.filePath(2), '/cd/inc/b.h');
  t.is(lp.filePath(3), '/abs/c.h');
  t.deepEqual(lp.firstRows([{ section: 0, value: 0x10n }]), [{ file: 4, line: 1 }]);
  t.is(lp.filePath(4), '/cd/inc/d.c', 'DW_LNE_define_file adds to the table');
});

test('.debug_aranges: padding, several sets, relocated sections, lookup', (t) => {
  const set = (unit: number, tuples: [number, number][]) => {
    const b = new Bytes().u32(0).u16(2).u32(unit).u8(8, 0).u32(0); // 12 header bytes + 4 padding to 16
    for (const [a, l] of tuples) b.u64(a).u64(l);
    b.u64(0).u64(0);
    return b.patch(0, b.length - 4, 4).buffer();
  };
  const bytes = Buffer.concat([set(0x0, [[0x1000, 0x100], [0x0, 0x40]]), set(0x200, [[0x1100, 0x50], [0x0, 0x10]])]);
  // Relocations: each set's second tuple is in section 9 (think .text.unlikely), the first in section 3.
  const targets = new RelocatedTargets(Float64Array.from([16, 32, 64 + 16, 64 + 32]), Int32Array.from([3, 9, 3, 9]));
  const errors: unknown[] = [];
  const idx = ArangeIndex.parse(memorySection(FILE, '.debug_aranges', bytes, { targets }), (e) => errors.push(e));
  t.deepEqual(errors, []);
  t.deepEqual(idx.lookup(3, 0x1000n), [0x0]);
  t.deepEqual(idx.lookup(3, 0x1120n), [0x200]);
  t.deepEqual(idx.lookup(9, 0x8n), [0x200, 0x0]);
  t.deepEqual(idx.lookup(9, 0x20n), [0x0]);
  t.deepEqual(idx.lookup(3, 0x20n), []);
});

test('corrupt DWARF raises DwarfError naming file, section and offset', (t) => {
  const ab = new Bytes().uleb(1).uleb(C.DW_TAG_compile_unit).u8(1).uleb(C.DW_AT_name).uleb(0x7777).u8(0, 0).u8(0);
  const mk = (info: Buffer) => new Dwarf(sections({ '.debug_info': info, '.debug_abbrev': ab.buffer() }));
  const bad = (info: Bytes) => info.patch(0, info.length - 4, 4).buffer();
  // Unknown form in the unit DIE's abbreviation.
  let e = t.throws(() => mk(bad(new Bytes().u32(0).u16(4).u32(0).u8(8).uleb(1).u8(0))).unit(0), { instanceOf: DwarfError });
  t.regex(e!.message, /^synthetic\.o: .*\.debug_info\+0xc \(uncompressed section offset\): unknown attribute form 0x7777/);
  // Abbreviation code not in the table.
  e = t.throws(() => mk(bad(new Bytes().u32(0).u16(4).u32(0).u8(8).uleb(9))).unit(0), { instanceOf: DwarfError });
  t.regex(e!.message, /\.debug_info\+0xb \(uncompressed section offset\): abbreviation code 9 is not in the unit's table/);
  // Unsupported version.
  e = t.throws(() => mk(bad(new Bytes().u32(0).u16(9).u32(0).u8(8))).unit(0), { instanceOf: DwarfError });
  t.regex(e!.message, /\.debug_info\+0x4 \(uncompressed section offset\): unit version: expected 2 to 5, found 9/);
  t.is(e!.kind, 'unsupported');
  // unit_length past the end.
  e = t.throws(() => mk(new Bytes().u32(0x1000).u16(4).buffer()).unit(0), { instanceOf: DwarfError });
  t.is(e!.kind, 'truncated');
  // Abbreviation offset outside .debug_abbrev.
  e = t.throws(() => mk(bad(new Bytes().u32(0).u16(4).u32(0x999).u8(8).uleb(1))).unit(0), { instanceOf: DwarfError });
  t.regex(e!.message, /abbreviation table offset 0x999 is beyond the section/);
});

test('LEB128 decodes the DWARF 5 standard\'s examples (tables 7.7 and 7.8) and rejects cut-off and overlong numbers', (t) => {
  const at = (...bytes: number[]) => new DwarfReader(Buffer.from(bytes), true, { file: FILE, name: '.debug_info', fileOffset: null }, 0x20);
  const unsigned: [number, number[]][] = [[2, [2]], [127, [127]], [128, [0x80, 1]], [129, [0x81, 1]], [130, [0x82, 1]], [12857, [0xb9, 100]]];
  for (const [value, bytes] of unsigned) {
    const r = at(...bytes, 0x55);
    t.is(r.uleb(), value);
    t.is(r.pos, bytes.length, 'the cursor stops after the last byte');
    t.is(at(...bytes).ulebBig(), BigInt(value));
    const skip = at(...bytes, 0x55);
    skip.skipLeb();
    t.is(skip.pos, bytes.length);
  }
  const signed: [number, number[]][] = [[2, [2]], [-2, [0x7e]], [127, [0xff, 0]], [-127, [0x81, 0x7f]], [128, [0x80, 1]], [-128, [0x80, 0x7f]], [129, [0x81, 1]], [-129, [0xff, 0x7e]]];
  for (const [value, bytes] of signed) t.is(at(...bytes).sleb(), value);
  t.is(at(...new Array(9).fill(0xff), 1).ulebBig(), 2n ** 64n - 1n, 'ten bytes hold all 64 bits');
  let e = t.throws(() => at(0x80, 0x80).uleb('abbrev code'), { instanceOf: DwarfError });
  t.regex(e!.message, /\.debug_info\+0x20 \(uncompressed section offset\): abbrev code: LEB128 runs past the end/);
  t.is(e!.kind, 'truncated');
  e = t.throws(() => at(...new Array(10).fill(0x80), 0).sleb('line advance'), { instanceOf: DwarfError });
  t.regex(e!.message, /line advance: LEB128 longer than 10 bytes/);
  e = t.throws(() => at(...new Array(7).fill(0xff), 0x7f).uleb('offset'), { instanceOf: DwarfError });
  t.regex(e!.message, /offset: ULEB128 value exceeds 2\^53/);
});

test('initial lengths 0xfffffff0-0xfffffffe are reserved: units, line programs and address range sets reject them with a typed error', (t) => {
  const ctx = { file: FILE, name: '.debug_info', fileOffset: 0x1000 };
  const length = (v: number) => new DwarfReader(new Bytes().u32(v).u64(0x30).buffer(), true, ctx, 0x40).initialLength();
  t.deepEqual(length(0xffffffef), { length: 0xffffffef, is64: false });
  t.deepEqual(length(0xffffffff), { length: 0x30, is64: true });
  for (const v of [0xfffffff0, 0xfffffff7, 0xfffffffe]) {
    const e = t.throws(() => length(v), { instanceOf: ReservedLengthError });
    t.is(e!.file, FILE);
    t.is(e!.offset, 0x1040, 'the file offset of the field');
    t.regex(e!.message, new RegExp(`\\.debug_info\\+0x40: unit_length 0x${v.toString(16)} is a reserved value`));
  }
  const reserved = new Bytes().u32(0xfffffff5).u16(4).u32(0).u8(8).u8(0, 0, 0, 0).buffer();
  t.throws(() => parseUnitHeader(new DwarfReader(reserved, true, ctx), memorySection(FILE, '.debug_info', reserved)), { instanceOf: ReservedLengthError });
  // Hopping over units stops there and says why, once.
  const ab = new Bytes().uleb(1).uleb(C.DW_TAG_compile_unit).u8(0).uleb(C.DW_AT_stmt_list).uleb(C.DW_FORM_data4).u8(0, 0).u8(0);
  const unit = new Bytes().u32(0).u16(4).u32(0).u8(8).uleb(1).u32(0);
  unit.patch(0, unit.length - 4, 4);
  const withTail = Buffer.concat([unit.buffer(), reserved]);
  const dwarf = new Dwarf(sections({ '.debug_info': withTail, '.debug_abbrev': ab.buffer(), '.debug_line': new Bytes().u32(0xfffffffe).u16(4).buffer() }));
  t.deepEqual(dwarf.unitOffsets(), [0]);
  t.regex(dwarf.unitListError()!.message, /\.debug_info\+0x10 .*: unit_length 0xfffffff5 is a reserved value; the 0xf bytes from here to the end of the section are not read as units/);
  const line = t.throws(() => dwarf.lineProgram(dwarf.unit(0)), { instanceOf: ReservedLengthError });
  t.regex(line!.message, /\.debug_line\+0x0 .*: line program unit_length 0xfffffffe is a reserved value/);
  const errors: unknown[] = [];
  ArangeIndex.parse(memorySection(FILE, '.debug_aranges', new Bytes().u32(0xfffffff0).u16(2).u32(0).u8(8, 0).buffer()), (err) => errors.push(err));
  t.is(errors.length, 1);
  t.true(errors[0] instanceof ReservedLengthError);
  t.regex((errors[0] as Error).message, /\.debug_aranges\+0x0 .*: aranges unit_length 0xfffffff0 is a reserved value/);
});
