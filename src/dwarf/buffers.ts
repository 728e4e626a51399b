// BufferPool, recycled buffers: handing back memory already touched avoids first-touching fresh memory, which
// on the 2-core VMs this runs on costs ~4 ms per MB, more than reading the bytes from the page cache.

/** Buffers handed out and taken back; take() picks the smallest free one that fits. */
export class BufferPool {
  private free: Buffer[] = [];
  private freeBytes = 0;

  constructor(
    /** The size to allocate for a request of `size` bytes no free buffer fits: slack lets it fit later ones. */
    private allocation: (size: number) => number,
    /** Free buffers kept at most, by count and by total bytes; beyond them buffers are left to the collector. */
    private keep: { count: number; bytes: number },
  ) {}

  /** A buffer of at least `size` bytes (contents undefined); give it back with release(). */
  take(size: number): Buffer {
    const free = this.free;
    let best = -1;
    for (let i = 0; i < free.length; i++) {
      const b = free[i];
      if (b.length >= size && (best < 0 || b.length < free[best].length)) best = i;
    }
    if (best >= 0) {
      const b = free.splice(best, 1)[0];
      this.freeBytes -= b.length;
      return b;
    }
    return Buffer.allocUnsafeSlow(this.allocation(size));
  }

  release(b: Buffer): void {
    const free = this.free;
    if (free.length >= this.keep.count) return;
    if (this.freeBytes + b.length > this.keep.bytes) {
      // Keep the larger buffers: they are the expensive ones to fault in again.
      free.sort((x, y) => x.length - y.length);
      while (free.length > 0 && this.freeBytes + b.length > this.keep.bytes && free[0].length < b.length) this.freeBytes -= free.shift()!.length;
      if (this.freeBytes + b.length > this.keep.bytes) return;
    }
    free.push(b);
    this.freeBytes += b.length;
  }
}

/**
 * Section contents and relocation slices, per thread: a worker reads the same kinds of sections object after
 * object, so the previous object's buffers fit the next one's (a little slack for its slightly larger sections).
 */
export const sectionBuffers = new BufferPool((size) => size + (size >> 3) + 4096, { count: Infinity, bytes: 192 << 20 });
