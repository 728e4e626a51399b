// A decoder's output: bytes appended one at a time or copied from earlier in the output (LZ77 matches), grown
// by doubling but never past a cap, so no input can make a decoder allocate more than the cap allows.

/** Called when the output would pass its cap or another limit; it throws, naming the input offset. */
export type OverflowError = (message: string) => never;

export class CappedOutput {
  bytes: Buffer;
  size = 0;

  /**
   * `expected`: the size a header claims, or null. A claim is trusted for the first 16 MB only: memory beyond
   * that comes as the output grows.
   */
  constructor(expected: number | null, readonly cap: number, private readonly overflow: OverflowError) {
    this.bytes = Buffer.allocUnsafe(Math.max(Math.min(expected ?? 1 << 16, cap, 1 << 24), 1));
  }

  /** Room for `n` more bytes: an error past the cap. */
  room(n: number): void {
    if (this.size + n <= this.bytes.length) return;
    if (this.size + n > this.cap) this.overflow(capMessage(this.cap));
    const grown = Buffer.allocUnsafe(Math.min(Math.max(this.bytes.length * 2, this.size + n), this.cap));
    this.bytes.copy(grown, 0, 0, this.size);
    this.bytes = grown;
  }

  /** Capacity for `total` bytes in all (at most the cap) ahead of time: a frame whose size is known. */
  reserve(total: number): void {
    const want = Math.min(total, this.cap);
    if (want <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(want);
    this.bytes.copy(grown, 0, 0, this.size);
    this.bytes = grown;
  }

  put(b: number): void {
    this.room(1);
    this.bytes[this.size++] = b;
  }

  /** Appends `data` as it is (a stored block, an uncompressed chunk). */
  append(data: Uint8Array): void {
    this.room(data.length);
    this.bytes.set(data, this.size);
    this.size += data.length;
  }

  /** `len` bytes from `distance` bytes back (overlapping copies repeat the pattern, as LZ77 means). */
  copy(distance: number, len: number): void {
    this.room(len);
    const { bytes } = this;
    let from = this.size - distance;
    for (let i = 0; i < len; i++) bytes[this.size++] = bytes[from++];
  }

  /** The byte `distance` bytes back from the end. */
  back(distance: number): number {
    return this.bytes[this.size - distance];
  }

  /** The output, without unused capacity beyond a quarter of it. */
  result(): Buffer {
    return this.size * 4 >= this.bytes.length * 3 ? this.bytes.subarray(0, this.size) : Buffer.from(this.bytes.subarray(0, this.size));
  }
}

/** The one wording of a decompressed-size cap error, whichever decoder meets it. */
export function capMessage(cap: number): string {
  return `decompressed size: expected at most ${cap} bytes, the stream produces more`;
}
