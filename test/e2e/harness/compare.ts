// Compare /proc/kallsyms-format listings: the running kernel's against ksymtree's, per object.

export interface KsymLine {
  readonly address: bigint;
  readonly letter: string;
  readonly name: string;
  /** '' for vmlinux, else the module name (or `bpf`, `__builtin__ftrace`, ...). */
  readonly object: string;
}

export function parseKallsyms(text: string): KsymLine[] {
  const out: KsymLine[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = /^([0-9a-f]+) (\S) (\S+)(?:\t\[(\S+)\])?\s*$/.exec(line);
    if (!m) throw new Error(`not a kallsyms line: ${JSON.stringify(line)}`);
    out.push({ address: BigInt(`0x${m[1]}`), letter: m[2], name: m[3], object: m[4] ?? '' });
  }
  return out;
}

/** Lines by object ('' = vmlinux), each object's lines in the kernel's order. */
export function byObject(lines: readonly KsymLine[]): Map<string, KsymLine[]> {
  const m = new Map<string, KsymLine[]>();
  for (const l of lines) {
    let a = m.get(l.object);
    if (!a) m.set(l.object, (a = []));
    a.push(l);
  }
  return m;
}

export interface Difference {
  readonly reason: 'missing' | 'extra' | 'letter' | 'address' | 'order' | 'percpu-base';
  readonly name: string;
  readonly detail: string;
}

export interface Comparison {
  readonly kernelCount: number;
  readonly ksymtreeCount: number;
  readonly differences: readonly Difference[];
  /** Reason -> count. */
  readonly byReason: Readonly<Record<string, number>>;
  /** The module's per-cpu area base, when per-cpu symbols were compared up to it. */
  readonly percpuBase?: bigint;
  readonly percpuCount: number;
  /** Lines in a section /sys/module does not list: compared in everything but the address. */
  readonly unlistedCount: number;
}

const hex = (a: bigint) => a.toString(16).padStart(16, '0');

/** Length of a longest strictly increasing subsequence (patience sorting). */
function lisLength(seq: readonly number[]): number {
  const tails: number[] = [];
  for (const x of seq) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tails[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    tails[lo] = x;
  }
  return tails.length;
}

/**
 * Differences between the kernel's lines of one object and ksymtree's. The k-th line named N on one side is
 * paired with the k-th line named N on the other; unpaired lines are `missing` (kernel only) or `extra`
 * (ksymtree only); paired lines may differ in `letter` or `address`; `order` counts the paired lines that must
 * move for ksymtree's order to equal the kernel's (pairs minus a longest common ordered subsequence).
 *
 * `percpu` names ksymtree's per-cpu symbols of a module (index into `ours`): their kernel address is the
 * module's per-cpu area (mod->percpu, a runtime allocation that /sys/module does not show) plus the offset
 * ksymtree prints, so they are compared up to one constant per module: every per-cpu symbol must give the
 * same base (else `percpu-base` differences).
 *
 * `unlisted` names ksymtree's symbols in sections /sys/module/<mod>/sections does not list: the loader gives
 * an empty section (sh_size 0, e.g. a `.bss` holding only zero-size lockdep keys `__key.N`) a place in the
 * module's layout, but sysfs shows only non-empty allocated sections (sect_empty() in kernel/module/sysfs.c),
 * so no input ksymtree gets holds that address. Their name, letter and order are compared, not the address.
 */
export function compareObject(kernel: readonly KsymLine[], ours: readonly KsymLine[], percpu: ReadonlySet<number> = new Set(), unlisted: ReadonlySet<number> = new Set()): Comparison {
  const differences: Difference[] = [];
  const queues = new Map<string, number[]>();
  ours.forEach((l, i) => {
    let q = queues.get(l.name);
    if (!q) queues.set(l.name, (q = []));
    q.push(i);
  });
  const pairedOurs = new Set<number>();
  const order: number[] = [];
  const bases = new Map<bigint, number>();
  const percpuPairs: [KsymLine, KsymLine][] = [];
  let unlistedCount = 0;
  for (const k of kernel) {
    const i = queues.get(k.name)?.shift();
    if (i === undefined) {
      differences.push({ reason: 'missing', name: k.name, detail: `${hex(k.address)} ${k.letter} only in the kernel` });
      continue;
    }
    const o = ours[i];
    pairedOurs.add(i);
    order.push(i);
    if (k.letter !== o.letter) differences.push({ reason: 'letter', name: k.name, detail: `kernel ${k.letter}, ksymtree ${o.letter}` });
    if (unlisted.has(i)) {
      unlistedCount++;
    } else if (percpu.has(i)) {
      percpuPairs.push([k, o]);
      const base = k.address - o.address;
      bases.set(base, (bases.get(base) ?? 0) + 1);
    } else if (k.address !== o.address) {
      differences.push({ reason: 'address', name: k.name, detail: `kernel ${hex(k.address)}, ksymtree ${hex(o.address)}` });
    }
  }
  ours.forEach((o, i) => {
    if (!pairedOurs.has(i)) differences.push({ reason: 'extra', name: o.name, detail: `${hex(o.address)} ${o.letter} only in ksymtree` });
  });
  const moved = order.length - lisLength(order);
  if (moved) differences.push({ reason: 'order', name: '*', detail: `${moved} of ${order.length} paired lines out of the kernel's order` });
  let percpuBase: bigint | undefined;
  if (bases.size) {
    percpuBase = [...bases.entries()].sort((a, b) => b[1] - a[1])[0][0];
    for (const [k, o] of percpuPairs) {
      if (k.address - o.address !== percpuBase) {
        differences.push({ reason: 'percpu-base', name: k.name, detail: `kernel ${hex(k.address)} = ${hex(k.address - o.address)} + offset ${hex(o.address)}, others use base ${hex(percpuBase)}` });
      }
    }
  }
  const byReason: Record<string, number> = {};
  for (const d of differences) byReason[d.reason] = (byReason[d.reason] ?? 0) + (d.reason === 'order' ? order.length - lisLength(order) : 1);
  return { kernelCount: kernel.length, ksymtreeCount: ours.length, differences, byReason, percpuBase, percpuCount: percpuPairs.length, unlistedCount };
}

/** Total differences (order counts each moved line). */
export function differenceCount(c: Comparison): number {
  return Object.values(c.byReason).reduce((a, b) => a + b, 0);
}

export function summarize(c: Comparison): string {
  const reasons = Object.entries(c.byReason).map(([r, n]) => `${r} ${n}`).join(', ');
  return `kernel ${c.kernelCount} lines, ksymtree ${c.ksymtreeCount}: ${differenceCount(c)} differences${reasons ? ` (${reasons})` : ''}` +
    (c.percpuCount ? `; ${c.percpuCount} per-cpu symbols compared up to the module's per-cpu base ${hex(c.percpuBase!)}` : '') +
    (c.unlistedCount ? `; ${c.unlistedCount} symbols in sections /sys/module does not list (empty sections): address not comparable` : '');
}

export interface DuplicateCopy {
  readonly name: string;
  readonly sympos: number;
  /** Runtime address ksymtree gives this copy; null when its section's load address is not known (unlisted). */
  readonly address: bigint | null;
  readonly alias: string;
}

/**
 * Part (b): for every name the kernel lists 2+ times in one object, the n-th such line (the kernel's walk
 * order) must be the copy ksymtree gives sympos n, at the same address; every copy ksymtree numbers must be one
 * the kernel lists. Returns one problem string per mismatch.
 */
export function checkSympos(kernel: readonly KsymLine[], copies: readonly DuplicateCopy[], percpuBase = 0n, isPercpu: (c: DuplicateCopy) => boolean = () => false): { duplicated: number; copies: number; unverifiable: number; problems: string[] } {
  const kernelByName = new Map<string, KsymLine[]>();
  for (const k of kernel) {
    let a = kernelByName.get(k.name);
    if (!a) kernelByName.set(k.name, (a = []));
    a.push(k);
  }
  const oursByName = new Map<string, DuplicateCopy[]>();
  for (const c of copies) {
    let a = oursByName.get(c.name);
    if (!a) oursByName.set(c.name, (a = []));
    a.push(c);
  }
  const problems: string[] = [];
  let duplicated = 0;
  let copiesChecked = 0;
  let unverifiable = 0;
  for (const [name, lines] of kernelByName) {
    if (lines.length < 2) continue;
    duplicated++;
    const ours = (oursByName.get(name) ?? []).slice().sort((a, b) => a.sympos - b.sympos);
    if (ours.length !== lines.length) {
      problems.push(`${name}: the kernel lists ${lines.length} copies, ksymtree numbers ${ours.length} (sympos ${ours.map((c) => c.sympos).join(',') || 'none'})`);
      continue;
    }
    lines.forEach((k, n) => {
      copiesChecked++;
      const c = ours[n];
      const address = c.address === null ? null : isPercpu(c) ? c.address + percpuBase : c.address;
      if (c.sympos !== n + 1) problems.push(`${name}: sympos ${c.sympos} where ${n + 1} was expected`);
      else if (address === null) unverifiable++;
      else if (address !== k.address) problems.push(`${name}: kernel's copy ${n + 1} is at ${hex(k.address)}, ksymtree's sympos ${n + 1} (${c.alias}) at ${hex(address)}`);
    });
  }
  for (const [name, ours] of oursByName) {
    if ((kernelByName.get(name)?.length ?? 0) < 2) problems.push(`${name}: ksymtree numbers ${ours.length} copies, the kernel lists ${kernelByName.get(name)?.length ?? 0}`);
  }
  return { duplicated, copies: copiesChecked, unverifiable, problems };
}
