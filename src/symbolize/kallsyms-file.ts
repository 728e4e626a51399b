// A copy of /proc/kallsyms, for turning runtime addresses (KASLR, module load addresses) into symbols.
import { readFileSync } from 'node:fs';
import { FatalError } from '../errors.js';
import { partitionPoint } from '../partition-point.js';

export interface KallsymsHit {
  readonly name: string;
  /** null for vmlinux. */
  readonly module: string | null;
  readonly address: bigint;
  /** Which line of that name inside its object this is (1-based; the object's kallsyms order = sympos order). */
  readonly nth: number;
  /** Line number in the file (1-based). */
  readonly line: number;
}

export class KallsymsFile {
  private hits: KallsymsHit[] = [];
  private addresses: bigint[] = [];

  constructor(readonly path: string) {
    const seen = new Map<string, number>();
    const lines = readFileSync(path, 'latin1').split('\n');
    const all: KallsymsHit[] = [];
    lines.forEach((text, i) => {
      const m = /^([0-9a-fA-F]+) (\S) (\S+)(?:\t\[(\S+)\])?/.exec(text);
      if (!m) return;
      const module = m[4] ?? null;
      const key = `${module ?? ''}\0${m[3]}`;
      const nth = (seen.get(key) ?? 0) + 1;
      seen.set(key, nth);
      // Only code can be a frame; data and absolute symbols would swallow addresses between functions.
      if (!/[tTwW]/.test(m[2])) return;
      all.push({ name: m[3], module, address: BigInt(`0x${m[1]}`), nth, line: i + 1 });
    });
    if (all.length && all.every((h) => h.address === 0n)) throw new FatalError(`${path} shows zero addresses: copy it as root (kptr_restrict hides them)`);
    all.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.line - b.line));
    this.hits = all;
    this.addresses = all.map((h) => h.address);
  }

  /** The code symbol at or below `address` (the first of equal addresses, as the kernel's get_symbol_pos picks). */
  containing(address: bigint): KallsymsHit | null {
    const a = this.addresses;
    let k = partitionPoint(a.length, (j) => a[j] <= address) - 1;
    while (k > 0 && a[k - 1] === a[k]) k--;
    return k >= 0 ? this.hits[k] : null;
  }
}
