/**
 * Livepatch symbol positions (kernel/livepatch/core.c klp_find_object_symbol): the N-th symbol of that name
 * in the object's kallsyms walk, 0 for a name that occurs once. The one rule, over the two walks: modules in
 * `.symtab` order; vmlinux in kallsyms_seqs_of_names order (by name, then address, then original order), or
 * the table's own order before 6.2. Computed once per object, by the scan.
 */
export interface SymposInput {
  readonly idx: number;
  readonly name: string;
  /** 16 hex digits. */
  readonly value: string;
}

/** For each position of a walk (its names in walk order), the rank among same-named positions; 0 when unique. */
export function ranksInWalk(names: readonly string[]): Uint32Array {
  const total = new Map<string, number>();
  for (const name of names) total.set(name, (total.get(name) ?? 0) + 1);
  const seen = new Map<string, number>();
  const ranks = new Uint32Array(names.length);
  names.forEach((name, k) => {
    if (total.get(name)! < 2) return;
    const rank = (seen.get(name) ?? 0) + 1;
    seen.set(name, rank);
    ranks[k] = rank;
  });
  return ranks;
}

/**
 * Sympos of the symbols kallsyms lists, from the symbol table: modules walk `.symtab` order; vmlinux (a
 * vmlinux without tables of its own) by address, then `.symtab` order. Names that are unique are absent.
 */
export function symposOf(visible: readonly SymposInput[], kind: 'vmlinux' | 'module'): Map<number, number> {
  const walk = [...visible].sort(kind === 'vmlinux'
    ? (a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : a.idx - b.idx)
    : (a, b) => a.idx - b.idx);
  const ranks = ranksInWalk(walk.map((s) => s.name));
  const sympos = new Map<number, number>();
  walk.forEach((s, k) => { if (ranks[k]) sympos.set(s.idx, ranks[k]); });
  return sympos;
}

/**
 * Sympos of each entry of vmlinux's decoded kallsyms table: kallsyms_on_each_match_symbol visits the entries
 * of one name in kallsyms_seqs_of_names order (6.2+); older kernels walk the whole table in order.
 */
export function tableSympos(names: readonly string[], seqsOfNames: Uint32Array | null): Uint32Array {
  const order = seqsOfNames ?? Uint32Array.from(names, (_, i) => i);
  const ranks = ranksInWalk(Array.from(order, (i) => names[i]));
  const sympos = new Uint32Array(names.length);
  order.forEach((i, k) => { sympos[i] = ranks[k]; });
  return sympos;
}
