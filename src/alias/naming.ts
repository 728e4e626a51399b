// The alias naming rule, pure (the rule the kas_alias review settled on): names for the copies of a name duplicated
// inside one object; applied by the alias pass (analyse/alias-pass.ts) and the kernel build step (kallsyms-aliases).
//
//   stage 'site'   NAME@<mangled decl file>_<line>        name_show@kernel_irq_irqdesc_c_230
//                  NAME@<mangled unit>                    when only the compilation unit is known
//   stage 'unit'   ...@<mangled unit>                     copies that share one decl site (header statics)
//   stage 'sympos' ...@<sympos>                           anything still ambiguous, or nothing known at all
//
// An alias never equals another alias of the object nor any existing symbol name of the object.
import { createHash } from 'node:crypto';
import { versionAtLeast } from '../config/kernel-config.js';

export interface AliasInput {
  readonly idx: number;
  readonly name: string;
  readonly sympos: number;
  readonly declFile: string | null;
  readonly declLine: number | null;
  readonly unit: string | null;
}

export type AliasStage = 'site' | 'unit' | 'sympos';

export interface Alias {
  readonly idx: number;
  readonly alias: string;
  readonly stage: AliasStage;
  /** The unshortened alias when it exceeded the length limit, else null. */
  readonly fullAlias: string | null;
}

/** Every character outside [A-Za-z0-9_] becomes `_`, as kas_alias printed paths. */
export function mangle(path: string): string {
  return path.replace(/[^A-Za-z0-9_]/g, '_');
}

/** KSYM_NAME_LEN - 1: 511 characters from 6.1 on, 127 before. */
export function maxSymbolLength(kernelRelease: string | null): number {
  // A release that cannot be read gets today's limit.
  const before61 = kernelRelease !== null && /^\d+\.\d+/.test(kernelRelease) && !versionAtLeast(kernelRelease, 6, 1);
  return before61 ? 127 : 511;
}

function siteSuffix(s: AliasInput): string | null {
  if (s.declFile && s.declLine) return `${mangle(s.declFile)}_${s.declLine}`;
  if (s.unit) return mangle(s.unit);
  return null;
}

/**
 * Shortening rule for aliases over the limit: keep NAME@, then `h` and the first 10 hex digits of the
 * SHA-256 of the full alias, `_`, and as much of the end of the full suffix as fits (the end holds the
 * file name and line, the most telling part). Deterministic, and distinct aliases stay distinct.
 */
export function shorten(name: string, full: string, limit: number): string {
  const hash = `h${createHash('sha256').update(full).digest('hex').slice(0, 10)}`;
  const head = `${name}@${hash}`;
  const room = limit - head.length - 1;
  const suffix = full.slice(name.length + 1);
  if (room <= 0) return head.slice(0, limit);
  return `${head}_${suffix.slice(Math.max(0, suffix.length - room))}`;
}

/**
 * Aliases for every copy of every duplicated name of one object. `copies` holds only symbols of
 * duplicated names; `existingNames` is every symbol name of the object.
 */
export function aliasesForObject(copies: readonly AliasInput[], existingNames: ReadonlySet<string>, limit: number): Alias[] {
  const current = new Map<number, { alias: string; stage: AliasStage }>();
  for (const s of copies) {
    const site = siteSuffix(s);
    current.set(s.idx, site ? { alias: `${s.name}@${site}`, stage: 'site' } : { alias: `${s.name}@${s.sympos}`, stage: 'sympos' });
  }
  const byIdx = new Map(copies.map((s) => [s.idx, s]));
  const escalate = (s: AliasInput, from: { alias: string; stage: AliasStage }) => {
    if (from.stage === 'site' && s.unit && !from.alias.endsWith(`@${mangle(s.unit)}`)) {
      return { alias: `${from.alias}@${mangle(s.unit)}`, stage: 'unit' as const };
    }
    return { alias: `${from.alias}@${s.sympos}`, stage: 'sympos' as const };
  };
  // Escalate until unique: each round moves every clashing alias one stage on; sympos makes them unique.
  for (let round = 0; round < 4; round++) {
    const count = new Map<string, number>();
    for (const a of current.values()) count.set(a.alias, (count.get(a.alias) ?? 0) + 1);
    let clashes = 0;
    for (const [idx, a] of current) {
      if ((count.get(a.alias) ?? 0) > 1 || existingNames.has(a.alias)) {
        current.set(idx, escalate(byIdx.get(idx)!, a));
        clashes++;
      }
    }
    if (!clashes) break;
  }
  return copies.map((s) => {
    const a = current.get(s.idx)!;
    return a.alias.length > limit
      ? { idx: s.idx, alias: shorten(s.name, a.alias, limit), stage: a.stage, fullAlias: a.alias }
      : { idx: s.idx, alias: a.alias, stage: a.stage, fullAlias: null };
  });
}
