/**
 * Livepatch symbol positions (kernel/livepatch/core.c klp_find_object_symbol): the N-th symbol of that name
 * in the object's kallsyms walk. Modules walk their kallsyms in `.symtab` order; vmlinux visits same-named
 * symbols in kallsyms_seqs_of_names order, i.e. by address, then by original order.
 */
export interface SymposInput {
  readonly idx: number;
  readonly name: string;
  /** 16 hex digits. */
  readonly value: string;
}

/** Sympos of every symbol whose name occurs more than once in `visible`; names that are unique are absent (sympos 0). */
export function symposOf(visible: readonly SymposInput[], kind: 'vmlinux' | 'module'): Map<number, number> {
  const byName = new Map<string, SymposInput[]>();
  for (const s of visible) {
    const list = byName.get(s.name);
    if (list) list.push(s);
    else byName.set(s.name, [s]);
  }
  const sympos = new Map<number, number>();
  for (const copies of byName.values()) {
    if (copies.length < 2) continue;
    const order = [...copies].sort(kind === 'vmlinux'
      ? (a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : a.idx - b.idx)
      : (a, b) => a.idx - b.idx);
    order.forEach((s, i) => sympos.set(s.idx, i + 1));
  }
  return sympos;
}
