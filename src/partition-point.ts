/**
 * The number of leading positions of [0, count) for which `before` holds, for a `before` that is true on a
 * prefix and false after it (Rust's `partition_point`): with `before = k => a[k] < x` it is the index of the
 * first element not below x in a sorted `a`.
 */
export function partitionPoint(count: number, before: (k: number) => boolean): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
