// A tiny assembler for hand-made DWARF in tests: append fields, read the offset, patch lengths.
export class Bytes {
  private parts: number[] = [];
  constructor(readonly little = true) {}

  get length(): number {
    return this.parts.length;
  }
  u8(...v: number[]): this {
    for (const x of v) this.parts.push(x & 0xff);
    return this;
  }
  uN(v: number | bigint, size: number): this {
    let x = BigInt.asUintN(size * 8, BigInt(v));
    const bytes: number[] = [];
    for (let i = 0; i < size; i++) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
    }
    if (!this.little) bytes.reverse();
    this.parts.push(...bytes);
    return this;
  }
  u16(v: number): this {
    return this.uN(v, 2);
  }
  u32(v: number): this {
    return this.uN(v, 4);
  }
  u64(v: number | bigint): this {
    return this.uN(v, 8);
  }
  uleb(v: number | bigint): this {
    let x = BigInt(v);
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) b |= 0x80;
      this.parts.push(b);
    } while (x !== 0n);
    return this;
  }
  sleb(v: number): this {
    let x = BigInt(v);
    for (;;) {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      const done = (x === 0n && !(b & 0x40)) || (x === -1n && b & 0x40);
      this.parts.push(done ? b : b | 0x80);
      if (done) return this;
    }
  }
  str(s: string): this {
    for (const c of Buffer.from(s, 'latin1')) this.parts.push(c);
    this.parts.push(0);
    return this;
  }
  raw(b: Uint8Array | number[]): this {
    this.parts.push(...b);
    return this;
  }
  /** Overwrites `size` bytes at `at` (for unit_length and similar back-patching). */
  patch(at: number, v: number, size: number): this {
    const tmp = new Bytes(this.little).uN(v, size).buffer();
    for (let i = 0; i < size; i++) this.parts[at + i] = tmp[i];
    return this;
  }
  buffer(): Buffer {
    return Buffer.from(this.parts);
  }
}
