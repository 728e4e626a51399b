// StringPages, the strings of a large on-disk string section (.debug_str) read page by page and cached.
import { DwarfError } from './reader.js';
import type { DwarfSection } from './section.js';

const PAGE = 4096;
/** Pages kept, the most recently used. */
const PAGES = 512;

/**
 * Strings of a large string section read page by page (amdgpu.ko's .debug_str is 72 MB; a lookup needs a
 * few thousand names from it). Pages are cached, the most recently used kept.
 */
export class StringPages {
  private pages = new Map<number, Buffer>();
  constructor(private section: DwarfSection, private read: (offset: number, length: number) => Buffer) {}

  get(offset: number, what: string): string {
    const size = this.section.size;
    if (offset < 0 || offset >= size) throw new DwarfError(this.section, offset, `${what}: expected an offset below 0x${size.toString(16)}`);
    let start = offset;
    const parts: Buffer[] = [];
    for (;;) {
      const page = Math.floor(start / PAGE);
      const b = this.page(page);
      const from = start - page * PAGE;
      const z = b.indexOf(0, from);
      if (z >= 0) {
        parts.push(b.subarray(from, z));
        break;
      }
      parts.push(b.subarray(from));
      start = (page + 1) * PAGE;
      if (start >= size) throw new DwarfError(this.section, offset, `${what}: expected a NUL-terminated string`, 'truncated');
    }
    return (parts.length === 1 ? parts[0] : Buffer.concat(parts)).toString('latin1');
  }

  private page(n: number): Buffer {
    let b = this.pages.get(n);
    if (b) {
      this.pages.delete(n);
      this.pages.set(n, b);
      return b;
    }
    b = this.read(n * PAGE, Math.min(PAGE, this.section.size - n * PAGE));
    this.pages.set(n, b);
    if (this.pages.size > PAGES) this.pages.delete(this.pages.keys().next().value!);
    return b;
  }
}
