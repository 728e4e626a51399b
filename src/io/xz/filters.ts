// The filters an xz block may put before LZMA2, undone over the block's decoded bytes: delta, and the branch
// converters (BCJ) that turn call targets back from absolute to relative, one per instruction set.

/** Undoes one filter over `buf` in place; `start` is the stream position of `buf[0]` (the start offset). */
type Decoder = (buf: Buffer, start: number) => void;

/** xz filter ids (the .xz file format, section 5.3) and their names in `xz`'s options. */
export const XZ_FILTERS: ReadonlyMap<number, { name: string; decode: ((props: Buffer) => Decoder) | null }> = new Map([
  [0x03, { name: 'delta', decode: delta }],
  [0x04, { name: 'x86', decode: branch(x86) }],
  [0x05, { name: 'powerpc', decode: branch(powerpc) }],
  [0x06, { name: 'ia64', decode: null }],
  [0x07, { name: 'arm', decode: branch(arm) }],
  [0x08, { name: 'armthumb', decode: branch(armThumb) }],
  [0x09, { name: 'sparc', decode: branch(sparc) }],
  [0x0a, { name: 'arm64', decode: branch(arm64) }],
  [0x0b, { name: 'riscv', decode: null }],
]);

/** A branch filter's properties: nothing, or a 4-byte start offset. */
function branch(convert: (buf: Buffer, start: number) => void): (props: Buffer) => Decoder {
  return (props) => {
    if (props.length !== 0 && props.length !== 4) throw new Error(`expected 0 or 4 bytes of properties, found ${props.length}`);
    const offset = props.length === 4 ? props.readUInt32LE(0) : 0;
    return (buf, start) => convert(buf, (start + offset) >>> 0);
  };
}

/** delta: each byte is the sum of itself and the byte `distance` back (zeros before the start). */
function delta(props: Buffer): Decoder {
  if (props.length !== 1) throw new Error(`expected 1 byte of properties, found ${props.length}`);
  const distance = props[0] + 1;
  return (buf) => {
    for (let i = distance; i < buf.length; i++) buf[i] = (buf[i] + buf[i - distance]) & 0xff;
  };
}

const isX86MsByte = (b: number) => b === 0x00 || b === 0xff;
const X86_ALLOWED = [true, true, true, false, true, false, false, false];
const X86_BIT_NUMBER = [0, 1, 2, 2, 3, 3, 3, 3];

/**
 * x86: the 32-bit operand of an E8 (call) or E9 (jmp) whose top byte is 00 or FF, unless a recent E8/E9
 * byte pattern says the operand is part of another instruction; the last four bytes are never converted.
 */
function x86(buf: Buffer, start: number): void {
  let prevMask = 0;
  let prevPos = (start - 5) >>> 0;
  for (let i = 0; i + 5 <= buf.length;) {
    const b0 = buf[i];
    if (b0 !== 0xe8 && b0 !== 0xe9) {
      i++;
      continue;
    }
    const pos = (start + i) >>> 0;
    const gap = (pos - prevPos) >>> 0;
    prevPos = pos;
    if (gap > 5) prevMask = 0;
    else for (let k = 0; k < gap; k++) prevMask = ((prevMask & 0x77) << 1) & 0xff;
    let b = buf[i + 4];
    if (isX86MsByte(b) && X86_ALLOWED[(prevMask >>> 1) & 7] && prevMask >>> 1 < 0x10) {
      let src = buf.readUInt32LE(i + 1);
      let dest: number;
      for (;;) {
        dest = (src - (pos + 5)) >>> 0;
        if (prevMask === 0) break;
        const k = X86_BIT_NUMBER[prevMask >>> 1];
        b = (dest >>> (24 - k * 8)) & 0xff;
        if (!isX86MsByte(b)) break;
        src = (dest ^ (2 ** (32 - k * 8) - 1)) >>> 0;
      }
      dest = ((dest & 0x00ffffff) | ((dest >>> 24) & 1 ? 0xff000000 : 0)) >>> 0;
      buf.writeUInt32LE(dest, i + 1);
      i += 5;
      prevMask = 0;
    } else {
      i++;
      prevMask |= 1;
      if (isX86MsByte(b)) prevMask |= 0x10;
    }
  }
}

/** PowerPC (big-endian): `bl` (opcode 18 with AA=0, LK=1). */
function powerpc(buf: Buffer, start: number): void {
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    if (buf[i] >>> 2 !== 0x12 || (buf[i + 3] & 3) !== 1) continue;
    const src = (((buf[i] & 3) << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | (buf[i + 3] & ~3)) >>> 0;
    const dest = (src - start - i) >>> 0;
    buf[i] = 0x48 | ((dest >>> 24) & 3);
    buf[i + 1] = dest >>> 16;
    buf[i + 2] = dest >>> 8;
    buf[i + 3] = (buf[i + 3] & 3) | (dest & 0xff);
  }
}

/** ARM: `bl` (condition AL), its 24-bit word offset relative to the instruction + 8. */
function arm(buf: Buffer, start: number): void {
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    if (buf[i + 3] !== 0xeb) continue;
    const src = ((buf[i + 2] << 16) | (buf[i + 1] << 8) | buf[i]) * 4;
    const dest = ((src - (start + i + 8)) >>> 0) >>> 2;
    buf[i] = dest;
    buf[i + 1] = dest >>> 8;
    buf[i + 2] = dest >>> 16;
  }
}

/** ARM Thumb: the two halves of `bl`, relative to the instruction + 4, on 2-byte steps. */
function armThumb(buf: Buffer, start: number): void {
  for (let i = 0; i + 4 <= buf.length; i += 2) {
    if ((buf[i + 1] & 0xf8) !== 0xf0 || (buf[i + 3] & 0xf8) !== 0xf8) continue;
    const src = (((buf[i + 1] & 7) << 19) | (buf[i] << 11) | ((buf[i + 3] & 7) << 8) | buf[i + 2]) * 2;
    const dest = ((src - (start + i + 4)) >>> 0) >>> 1;
    buf[i + 1] = 0xf0 | ((dest >>> 19) & 7);
    buf[i] = dest >>> 11;
    buf[i + 3] = 0xf8 | ((dest >>> 8) & 7);
    buf[i + 2] = dest;
    i += 2;
  }
}

/** SPARC: `call` whose displacement is a small positive or negative number. */
function sparc(buf: Buffer, start: number): void {
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    const ok = (buf[i] === 0x40 && (buf[i + 1] & 0xc0) === 0x00) || (buf[i] === 0x7f && (buf[i + 1] & 0xc0) === 0xc0);
    if (!ok) continue;
    const src = (buf.readUInt32BE(i) * 4) >>> 0;
    let dest = ((src - (start + i)) >>> 0) >>> 2;
    dest = (((0 - ((dest >>> 22) & 1)) << 22) & 0x3fffffff) | (dest & 0x3fffff) | 0x40000000;
    buf.writeUInt32BE(dest >>> 0, i);
  }
}

/** ARM64: `bl` (26-bit word offset) and `adrp` (page offset, when within +-512 MB). */
function arm64(buf: Buffer, start: number): void {
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    let instr = buf.readUInt32LE(i);
    const pc = (start + i) >>> 0;
    if (instr >>> 26 === 0x25) {
      instr = (0x94000000 | ((instr - (pc >>> 2)) & 0x03ffffff)) >>> 0;
      buf.writeUInt32LE(instr, i);
    } else if (((instr & 0x9f000000) >>> 0) === 0x90000000) {
      const src = ((instr >>> 29) & 3) | ((instr >>> 3) & 0x001ffffc);
      if ((src + 0x00020000) & 0x001c0000) continue;
      const dest = (src - (pc >>> 12)) >>> 0;
      instr = (instr & 0x9000001f) | ((dest & 3) << 29) | ((dest & 0x0003fffc) << 3) | ((0 - (dest & 0x00020000)) & 0x00e00000);
      buf.writeUInt32LE(instr >>> 0, i);
    }
  }
}
