/**
 * The `.ksymtree.apply` section: what `ksymtree apply` keeps inside a module it rewrote so that the original
 * file can be restored byte for byte, with no state outside the module.
 *
 * apply never overwrites a byte of the original ELF image except its file header: the old `.symtab`,
 * `.strtab`, relocation sections and section header table stay where they were, and everything new
 * (grown tables, renumbered relocations, a new section header table) is appended after the old end. So the
 * original is: the bytes before `elfSize`, with the saved file header put back, followed by the saved
 * module signature. For a compressed module the marker also says how to get the original *compressed*
 * bytes: either a recipe from src/io/compress.ts that reproduced them exactly when apply ran (checked
 * then, and checked again by sha256 on revert), or the original compressed file itself, embedded.
 *
 * Layout (little-endian whatever the ELF's byte order; sizes in bytes):
 *   0  magic "KSYMTREE-APPLY\0\0" (16)     16 u32 format version (1)      20 u32 e_ehsize of the original
 *   24 u64 original ELF size               32 u32 original symbol count   36 u32 original first global (sh_info)
 *   40 u32 local aliases inserted          44 u32 non-local aliases appended
 *   48 u32 original signature length       52 u32 compression (0 none, 1 gzip, 2 xz, 3 zstd)
 *   56 u32 original-file mode (0 the image itself, 1 recipe, 2 embedded)
 *   60 u32 recipe name length              64 u64 embedded original length
 *   72 sha256 of the original image (ELF + signature, decompressed) (32)
 *   104 sha256 of the original file as it was on disk (32)
 *   136 original file header, original signature, recipe name, embedded original
 */
import { createHash } from 'node:crypto';
import type { Compression } from '../io/decompress.js';

export const MARKER_SECTION = '.ksymtree.apply';
export const MARKER_MAGIC = Buffer.from('KSYMTREE-APPLY\0\0', 'latin1');
export const MARKER_VERSION = 1;
const FIXED = 136;

const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'xz', 'zstd'];

export type OriginalFileMode = 'image' | 'recipe' | 'embedded';
const MODES: readonly OriginalFileMode[] = ['image', 'recipe', 'embedded'];

/** Everything about the file before apply that revert needs, and that apply carries over on re-apply. */
export interface OriginalFile {
  /** Size of the original ELF image without signature. */
  readonly elfSize: number;
  /** The original ELF file header (e_ehsize bytes). */
  readonly header: Buffer;
  /** The original signature block (PKCS#7, struct module_signature, marker), empty when unsigned. */
  readonly signature: Buffer;
  readonly imageSha256: Buffer;
  readonly compression: Compression;
  readonly fileMode: OriginalFileMode;
  /** Name of the recipe (src/io/compress.ts) that reproduces the original compressed file, for mode `recipe`. */
  readonly recipe: string;
  /** The original compressed file, for mode `embedded`. */
  readonly embedded: Buffer;
  readonly fileSha256: Buffer;
}

export interface Marker extends OriginalFile {
  readonly version: number;
  readonly symbolCount: number;
  readonly firstGlobal: number;
  readonly localAliases: number;
  readonly globalAliases: number;
}

export function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

export function encodeMarker(m: Omit<Marker, 'version'>): Buffer {
  const recipe = Buffer.from(m.recipe, 'utf8');
  const out = Buffer.alloc(FIXED + m.header.length + m.signature.length + recipe.length + m.embedded.length);
  MARKER_MAGIC.copy(out, 0);
  out.writeUInt32LE(MARKER_VERSION, 16);
  out.writeUInt32LE(m.header.length, 20);
  out.writeBigUInt64LE(BigInt(m.elfSize), 24);
  out.writeUInt32LE(m.symbolCount, 32);
  out.writeUInt32LE(m.firstGlobal, 36);
  out.writeUInt32LE(m.localAliases, 40);
  out.writeUInt32LE(m.globalAliases, 44);
  out.writeUInt32LE(m.signature.length, 48);
  out.writeUInt32LE(COMPRESSIONS.indexOf(m.compression), 52);
  out.writeUInt32LE(MODES.indexOf(m.fileMode), 56);
  out.writeUInt32LE(recipe.length, 60);
  out.writeBigUInt64LE(BigInt(m.embedded.length), 64);
  m.imageSha256.copy(out, 72);
  m.fileSha256.copy(out, 104);
  let at = FIXED;
  for (const part of [m.header, m.signature, recipe, m.embedded]) {
    part.copy(out, at);
    at += part.length;
  }
  return out;
}

/** Decodes a marker section's contents; throws with what is wrong when they are not a marker. */
export function decodeMarker(bytes: Buffer): Marker {
  if (bytes.length < FIXED || !bytes.subarray(0, 16).equals(MARKER_MAGIC)) {
    throw new Error(`section ${MARKER_SECTION}: expected the magic KSYMTREE-APPLY and ${FIXED} bytes of fixed fields`);
  }
  const version = bytes.readUInt32LE(16);
  if (version !== MARKER_VERSION) {
    throw new Error(`section ${MARKER_SECTION}: format version ${version}, this ksymtree reads version ${MARKER_VERSION}`);
  }
  const headerLength = bytes.readUInt32LE(20);
  const signatureLength = bytes.readUInt32LE(48);
  const compression = COMPRESSIONS[bytes.readUInt32LE(52)];
  const fileMode = MODES[bytes.readUInt32LE(56)];
  const recipeLength = bytes.readUInt32LE(60);
  const embeddedLength = Number(bytes.readBigUInt64LE(64));
  if (!compression || !fileMode || (headerLength !== 52 && headerLength !== 64)
    || FIXED + headerLength + signatureLength + recipeLength + embeddedLength !== bytes.length) {
    throw new Error(`section ${MARKER_SECTION}: inconsistent field values (damaged marker)`);
  }
  let at = FIXED;
  const take = (n: number) => bytes.subarray(at, (at += n));
  const header = take(headerLength);
  const signature = take(signatureLength);
  const recipe = take(recipeLength).toString('utf8');
  const embedded = take(embeddedLength);
  return {
    version,
    elfSize: Number(bytes.readBigUInt64LE(24)),
    symbolCount: bytes.readUInt32LE(32),
    firstGlobal: bytes.readUInt32LE(36),
    localAliases: bytes.readUInt32LE(40),
    globalAliases: bytes.readUInt32LE(44),
    header, signature, compression, fileMode, recipe, embedded,
    imageSha256: bytes.subarray(72, 104),
    fileSha256: bytes.subarray(104, 136),
  };
}
