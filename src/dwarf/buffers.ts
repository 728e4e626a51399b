/**
 * Recycled buffers for section contents. A worker reads the same kinds of sections object after object;
 * handing back the previous object's buffers avoids first-touching fresh memory, which on the 2-core VMs
 * this runs on costs ~4 ms per MB — more than reading the bytes from the page cache.
 */
const free: Buffer[] = [];
let freeBytes = 0;
/** Bytes kept for reuse per thread; larger leftovers are left to the garbage collector. */
const KEEP = 192 << 20;

/** A buffer of at least `size` bytes (contents undefined); give it back with release(). */
export function takeBuffer(size: number): Buffer {
  let best = -1;
  for (let i = 0; i < free.length; i++) {
    const b = free[i];
    if (b.length >= size && (best < 0 || b.length < free[best].length)) best = i;
  }
  if (best >= 0) {
    const b = free.splice(best, 1)[0];
    freeBytes -= b.length;
    return b;
  }
  // A little slack so that a recycled buffer fits the next object's slightly larger section.
  return Buffer.allocUnsafeSlow(size + (size >> 3) + 4096);
}

export function releaseBuffer(b: Buffer): void {
  if (freeBytes + b.length > KEEP) {
    // Keep the larger buffers: they are the expensive ones to fault in again.
    free.sort((x, y) => x.length - y.length);
    while (free.length > 0 && freeBytes + b.length > KEEP && free[0].length < b.length) freeBytes -= free.shift()!.length;
    if (freeBytes + b.length > KEEP) return;
  }
  free.push(b);
  freeBytes += b.length;
}
