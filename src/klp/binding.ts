/**
 * Which copy a livepatch reference binds to in one build, by the rule of kernel/livepatch/core.c
 * klp_find_object_symbol (6.1), and whether it is the copy the patch was made for (same definition site as
 * in the reference build). Pure functions over index rows.
 */
import type { KallsymsCopy } from '../index/kallsyms-copies.js';

export type BindStatus =
  | 'ok'            // binds, and (with a reference build) to the copy of the reference's definition site
  | 'no-object'     // the build has no such object (module not built)
  | 'no-symbol'     // "symbol 'X' not found in symbol table"
  | 'ambiguous'     // sympos 0 but several copies: "unresolvable ambiguity"
  | 'out-of-range'  // "symbol position N for symbol 'X' in object 'O' not found"
  | 'other-copy'    // binds, but not to the reference's copy
  | 'no-match'      // no copy of this build has the reference's definition site
  | 'unverifiable'; // a site needed for the comparison is not in an index

export interface Binding {
  readonly status: BindStatus;
  /** The copy the kernel would bind (null when loading would fail). */
  readonly bound: KallsymsCopy | null;
}

/** klp_find_object_symbol: sympos 0 needs a unique name, N >= 1 is the N-th copy in the walk. */
export function bind(copies: readonly KallsymsCopy[], sympos: number): Binding {
  if (!copies.length) return { status: 'no-symbol', bound: null };
  if (sympos === 0 && copies.length > 1) return { status: 'ambiguous', bound: null };
  if (sympos > copies.length) return { status: 'out-of-range', bound: null };
  return { status: 'ok', bound: copies[Math.max(sympos, 1) - 1] };
}

/** How a copy of another build was recognised as the reference's: same file, line and unit, or same file and unit alone (moved). */
export type SiteMatch = 'site' | 'moved' | 'unique';

function known(c: KallsymsCopy): boolean {
  return c.decl_file !== null || c.unit !== null;
}

/**
 * The copy of `copies` defined where `ref` is: same decl file, line and unit; else, when no copy has that
 * line, the only copy with the same decl file and unit (the function moved within its file, as stable
 * releases do). Null when none matches; 'unverifiable' when a site needed is missing.
 */
export function sameSite(ref: KallsymsCopy, copies: readonly KallsymsCopy[]): { copy: KallsymsCopy; match: SiteMatch } | null | 'unverifiable' {
  if (!known(ref) || copies.some((c) => !known(c))) return 'unverifiable';
  const place = (c: KallsymsCopy) => c.decl_file === ref.decl_file && c.unit === ref.unit;
  const exact = copies.filter((c) => place(c) && c.decl_line === ref.decl_line);
  if (exact.length === 1) return { copy: exact[0], match: 'site' };
  if (exact.length > 1) return 'unverifiable';
  const moved = copies.filter(place);
  return moved.length === 1 ? { copy: moved[0], match: 'moved' } : null;
}

export interface TargetCheck extends Binding {
  readonly match: SiteMatch | null;
  /** The sympos that binds the reference's copy in this build (0 when it is the only copy), when that differs. */
  readonly symposToBind: number | null;
}

/** The sympos that names `copy` among `copies`. */
function symposOf(copy: KallsymsCopy, copies: readonly KallsymsCopy[]): number {
  return copies.length === 1 ? 0 : copy.rank;
}

/**
 * One reference in one target build, against the copy it binds in the reference build (null: no reference
 * build given, only the kernel's rule is checked).
 */
export function checkTarget(copies: readonly KallsymsCopy[], sympos: number, refCopies: readonly KallsymsCopy[] | null): TargetCheck {
  const b = bind(copies, sympos);
  if (!refCopies) return { ...b, match: null, symposToBind: null };
  const ref = bind(refCopies, sympos).bound;
  if (!ref) return { ...b, status: b.status === 'ok' ? 'unverifiable' : b.status, match: null, symposToBind: null };
  if (refCopies.length === 1 && copies.length === 1) return { ...b, match: 'unique', symposToBind: null };
  const found = copies.length ? sameSite(ref, copies) : null;
  if (found === 'unverifiable') return { ...b, status: b.status === 'ok' ? 'unverifiable' : b.status, match: null, symposToBind: null };
  if (!found) return { ...b, status: b.status === 'ok' ? 'no-match' : b.status, match: null, symposToBind: null };
  const want = symposOf(found.copy, copies);
  if (b.status === 'ok' && b.bound === found.copy) return { ...b, match: found.match, symposToBind: null };
  return { ...b, status: b.status === 'ok' ? 'other-copy' : b.status, match: found.match, symposToBind: want };
}
