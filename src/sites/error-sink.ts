// ErrorSink, the error list of one site lookup: every problem once, repeats of the same kind counted, at most
// 200 listed, so that a broken section does not become one error row per unit or per symbol.
import { ObjectError } from '../errors.js';
import type { SiteResult } from './types.js';

export type SiteError = SiteResult['errors'][number];

/**
 * Keeps one object's error list readable: identical failures (one per unit of a broken section) are counted.
 * An error object added again is the same failure met again (the DWARF decoder throws a broken unit's error
 * on every later lookup of it): it is neither listed nor counted twice.
 */
export class ErrorSink {
  private seen = new Map<string, number>();
  private recorded = new WeakSet<object>();
  private static readonly LIMIT = 200;
  constructor(private errors: SiteError[]) {}

  add(e: unknown, file: string): void {
    if (typeof e === 'object' && e !== null) {
      if (this.recorded.has(e)) return;
      this.recorded.add(e);
    }
    let err: SiteError;
    if (e instanceof ObjectError) err = { offset: e.offset, kind: e.kind, message: e.message };
    else if (e && typeof (e as NodeJS.ErrnoException).code === 'string') err = { offset: 0, kind: 'io', message: `${file}: ${(e as Error).message}` };
    else err = { offset: 0, kind: 'internal', message: `${file}: internal error: ${(e as Error)?.stack ?? String(e)}` };
    const key = `${err.kind}:${err.message.replace(/0x[0-9a-f]+/g, '#')}`;
    const n = (this.seen.get(key) ?? 0) + 1;
    this.seen.set(key, n);
    if (n === 1 && this.errors.length < ErrorSink.LIMIT) this.errors.push(err);
  }

  close(): void {
    let repeats = 0;
    for (const n of this.seen.values()) repeats += n - 1;
    if (repeats > 0) this.errors.push({ offset: 0, kind: 'format', message: `${repeats} further errors of the same kinds were not listed` });
  }
}
