/**
 * Which copy a livepatch reference binds to in one build, by the rule of kernel/livepatch/core.c
 * klp_find_object_symbol (6.1), and whether it is the copy the patch was made for (same definition site as
 * in the reference build). Pure functions over index rows.
 */
import type { KallsymsCopy } from '../db/kallsyms-copies.js';

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

/**
 * How a copy of another build was recognised as the reference's: same decl file, line and unit (`site`); same
 * file and unit, other line (`moved`: stable releases move functions inside their file); same unit where one
 * side has no decl file (`unit`: an index whose DWARF gave only units); both names unique (`unique`).
 */
export type SiteMatch = 'site' | 'moved' | 'unit' | 'unique';

/**
 * The copy of `copies` defined where `ref` is, by the first rule of SiteMatch that picks exactly one copy.
 * Null when none matches; 'unverifiable' when the sites needed to tell are not in an index.
 */
export function sameSite(ref: KallsymsCopy, copies: readonly KallsymsCopy[]): { copy: KallsymsCopy; match: SiteMatch } | null | 'unverifiable' {
  const only = (found: KallsymsCopy[], match: SiteMatch) => (found.length === 1 ? { copy: found[0], match } : null);
  if (ref.decl_file !== null) {
    const place = copies.filter((c) => c.decl_file === ref.decl_file && c.unit === ref.unit);
    const exact = place.filter((c) => c.decl_line === ref.decl_line);
    if (exact.length > 1) return 'unverifiable'; // copies that share file, line and unit cannot be told apart
    const hit = only(exact, 'site') ?? only(place, 'moved');
    if (hit) return hit;
  }
  if (ref.unit !== null) {
    const hit = only(copies.filter((c) => c.unit === ref.unit && (c.decl_file === null || ref.decl_file === null)), 'unit');
    if (hit) return hit;
  }
  const unknown = (c: KallsymsCopy) => c.decl_file === null && c.unit === null;
  return unknown(ref) || copies.some(unknown) ? 'unverifiable' : null;
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
