// Collision classes of names duplicated inside one object, in DepSurf's (EuroSys'25) terms: why the name
// occurs more than once. Pure functions over rows.
import { STB_LOCAL } from '../elf/constants.js';

export type CollisionClass = 'static-duplication' | 'distinct' | 'compiler-clone' | 'static-global' | 'unknown';

export const COLLISION_CLASSES: readonly CollisionClass[] = ['static-duplication', 'distinct', 'compiler-clone', 'static-global', 'unknown'];

/** One copy of a duplicated name: its binding and its definition site (null when DWARF gave none). */
export interface CollisionCopy {
  readonly name: string;
  readonly bind: number;
  readonly declFile: string | null;
  readonly declLine: number | null;
}

/** gcc's clone suffixes: one function's specialised (`.constprop.N`, `.isra.N`), split (`.part.N`) or cold parts. */
const CLONE = /\.(constprop|isra|part|cold|lto_priv)(\.\d+)?(\.|$)/;

/**
 * The class of one duplicated name from all its copies in the object, first rule that holds:
 * `compiler-clone` the name is a gcc clone of a function; `static-global` a global and statics share it;
 * `unknown` some copy has no decl site; `static-duplication` every copy has one site (a header static
 * emitted in several units, or a .c file included twice); `distinct` the sites differ.
 */
export function collisionClass(copies: readonly CollisionCopy[]): CollisionClass {
  if (copies.some((c) => CLONE.test(c.name))) return 'compiler-clone';
  const local = copies.filter((c) => c.bind === STB_LOCAL).length;
  if (local > 0 && local < copies.length) return 'static-global';
  if (copies.some((c) => c.declFile === null || c.declLine === null)) return 'unknown';
  const site = (c: CollisionCopy) => `${c.declFile}:${c.declLine}`;
  return copies.every((c) => site(c) === site(copies[0])) ? 'static-duplication' : 'distinct';
}
