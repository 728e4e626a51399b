/**
 * One module file: read (and decompress), add or remove the aliases, sign or strip, compress again, and
 * replace the file atomically with its mode, owner and times kept.
 *
 * mtime policy: the rewritten file keeps the original's mtime (and atime). The aliases change neither the
 * module's code, data, exports nor dependencies, so `depmod -A`, make and package tools have nothing to
 * redo, and the timestamps a reproducible package build clamped (SOURCE_DATE_EPOCH) stay as they were. The
 * change is still visible: size and content differ, and the index records the new sha256 (`ksymtree verify`).
 * Times are kept to the precision utimes takes (package files carry whole seconds). Extended attributes
 * (IMA/EVM hashes, SELinux labels) are not copied: a tree that carries them needs them set again.
 */
import { fchmodSync, fchownSync, futimesSync, realpathSync, statSync, type Stats } from 'node:fs';
import { removeStaleTemps, writeFileAtomic } from '../io/atomic.js';
import { type CompressKind, compress, defaultRecipe, findReproducingRecipe, recipeByName, recipeName } from '../io/compress.js';
import type { Compression } from '../io/decompress.js';
import { findBuildId } from '../elf/notes.js';
import { readElfHeader } from '../elf/header.js';
import { readSections, sectionBytes } from '../elf/sections.js';
import { type ObjectFile, openObjectFile } from '../io/object-file.js';
import { BufferSource } from '../io/source.js';
import { MARKER_SECTION, type Marker, type OriginalFile, sha256 } from './marker.js';
import { type AliasRequest, ApplyRefusal, type ParsedElf, addAliases, findMarker, parseElf, reconstructOriginal } from './rewrite.js';
import { type Signer, splitSignature } from './signing.js';

export type SignaturePolicy = 'refuse' | 'strip' | 'resign';

export interface ApplyOptions {
  readonly dryRun: boolean;
  readonly policy: SignaturePolicy;
  readonly signer: Signer | null;
}

export type Action = 'applied' | 'unchanged' | 'reverted' | 'would-apply' | 'would-revert' | 'refused' | 'failed' | 'not-applied';

/** What happened to the signature: the module had none, or apply stripped it, re-signed it, or left it. */
export type SignatureOutcome = 'none' | 'stripped' | 'resigned' | 'kept';

export interface Outcome {
  readonly action: Action;
  /** The file as found (the index's path or the tree's), and the real file that was read and written. */
  readonly path: string;
  readonly realPath: string;
  readonly aliases: number;
  readonly reason?: string;
  readonly compression?: Compression;
  readonly signature?: SignatureOutcome;
  readonly originalSha256?: string;
  readonly newSha256?: string;
}

interface Loaded {
  readonly realPath: string;
  readonly stat: Stats;
  readonly file: Buffer;
  readonly compression: Compression;
  readonly image: Buffer;
  readonly elf: Buffer;
  readonly signature: Buffer;
  readonly parsed: ParsedElf;
  readonly marker: Marker | null;
}

/**
 * True when the file is certainly an uncompressed module without a marker: only its headers are read
 * (pread), so looking at the thousand modules that have no aliases costs little. False means "load it".
 */
async function plainWithoutMarker(path: string): Promise<boolean> {
  let obj: ObjectFile | null = null;
  try {
    obj = openObjectFile(path);
    if (obj.compression !== 'none' || obj.size < 64) return false;
    const src = await obj.image();
    return !readSections(src, readElfHeader(src)).some((s) => s.name === MARKER_SECTION);
  } catch {
    return false;
  } finally {
    obj?.close();
  }
}

function safeRealpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

async function load(path: string): Promise<Loaded> {
  const realPath = realpathSync(path);
  const stat = statSync(realPath);
  if (!stat.isFile()) throw new ApplyRefusal(path, 'not a regular file');
  if (stat.nlink > 1) {
    throw new ApplyRefusal(path, `has ${stat.nlink} hard links: replacing it by rename would leave the other names with the old bytes`);
  }
  const obj = openObjectFile(realPath);
  try {
    const file = obj.stored();
    const image = await obj.imageBytes();
    const { elf, signature } = splitSignature(realPath, image);
    const parsed = parseElf(realPath, elf);
    return { realPath, stat, file, compression: obj.compression, image, elf, signature, parsed, marker: findMarker(parsed) };
  } finally {
    obj.close();
  }
}

/** True when the file carries a `.ksymtree.apply` marker (apply rewrote it); false for anything else. */
export async function carriesAliases(path: string): Promise<boolean> {
  if (await plainWithoutMarker(path)) return false;
  try {
    return (await load(path)).marker !== null;
  } catch {
    return false;
  }
}

/** The original ELF (without signature) and what the marker must say about the original file. */
async function originalOf(m: Loaded, dryRun: boolean): Promise<{ elf: Buffer; info: OriginalFile }> {
  if (m.marker) {
    const orig = reconstructOriginal(m.parsed, m.marker);
    return { elf: orig.elf, info: m.marker };
  }
  const info: OriginalFile = {
    elfSize: m.elf.length,
    header: Buffer.from(m.elf.subarray(0, m.parsed.h.is64 ? 64 : 52)),
    signature: Buffer.from(m.signature),
    imageSha256: sha256(m.image),
    compression: m.compression,
    fileSha256: sha256(m.file),
    ...(await originalFileMode(m, dryRun)),
  };
  return { elf: m.elf, info };
}

/**
 * How revert gets the original compressed file back: by compressing the original image again with the
 * recipe that reproduced it exactly now, or, when none does, from a copy embedded in the marker.
 */
async function originalFileMode(m: Loaded, dryRun: boolean): Promise<Pick<OriginalFile, 'fileMode' | 'recipe' | 'embedded'>> {
  if (m.compression === 'none') return { fileMode: 'image', recipe: '', embedded: Buffer.alloc(0) };
  if (dryRun) return { fileMode: 'recipe', recipe: recipeName(defaultRecipe(m.compression)), embedded: Buffer.alloc(0) };
  // The kernel's xz decompressor knows CRC32 only, and every xz recipe uses it: skip them for other checks.
  const xzCheck = m.compression === 'xz' ? m.file[7] & 0x0f : 1;
  const recipe = xzCheck === 1 ? await findReproducingRecipe(m.compression, m.image, m.file) : null;
  if (recipe) return { fileMode: 'recipe', recipe: recipeName(recipe), embedded: Buffer.alloc(0) };
  return { fileMode: 'embedded', recipe: '', embedded: Buffer.from(m.file) };
}

function buildIdOf(p: ParsedElf): string | null {
  const src = new BufferSource(p.file, p.bytes);
  return findBuildId(p.h, p.sections, (s) => sectionBytes(src, s));
}

export interface ModuleTask {
  readonly path: string;
  readonly aliases: readonly AliasRequest[];
  /** The build-id the index recorded for this module, checked against the file's original. */
  readonly buildId: string | null;
}

/**
 * Makes the file carry exactly `task.aliases` (none: the original file). Never throws for a problem of the
 * module: refusals and failures come back as outcomes.
 */
export async function applyModule(task: ModuleTask, opts: ApplyOptions): Promise<Outcome> {
  const base = { path: task.path, realPath: task.path, aliases: task.aliases.length };
  if (!opts.dryRun) removeStaleTemps(safeRealpath(task.path)); // what a killed apply left beside it
  if (!task.aliases.length && await plainWithoutMarker(task.path)) return { ...base, realPath: safeRealpath(task.path), action: 'unchanged' };
  let m: Loaded;
  try {
    m = await load(task.path);
  } catch (e) {
    return problem(base, e);
  }
  const at = { ...base, realPath: m.realPath, compression: m.compression };
  try {
    if (!task.aliases.length) {
      // The index gives this module no aliases: a module that still carries some from an earlier apply is
      // put back to its original.
      if (!m.marker) return { ...at, action: 'unchanged', signature: m.signature.length ? 'kept' : 'none' };
      return await revertLoaded(m, at, opts.dryRun);
    }
    const { elf: origElf, info } = await originalOf(m, opts.dryRun);
    if (task.buildId) {
      const found = buildIdOf(m.marker ? parseElf(m.realPath, origElf) : m.parsed);
      if (found && found !== task.buildId) {
        throw new ApplyRefusal(task.path, `build-id ${found} differs from the index's ${task.buildId}: the index describes another build of this module (re-run \`ksymtree index\`)`);
      }
    }
    const signedOriginal = info.signature.length > 0;
    const target = addAliases(m.realPath, origElf, task.aliases, info).elf;
    const original = { originalSha256: info.fileSha256.toString('hex') };
    const elfMatches = m.marker !== null && m.elf.equals(target);
    const signatureOk = !signedOriginal || opts.policy === 'refuse'
      || (opts.policy === 'strip' ? m.signature.length === 0 : m.signature.length > 0);
    if (elfMatches && signatureOk) {
      return { ...at, ...original, action: 'unchanged', newSha256: sha256(m.file).toString('hex'),
        signature: !signedOriginal ? 'none' : m.signature.length ? 'resigned' : 'stripped' };
    }
    if (signedOriginal && opts.policy === 'refuse') {
      throw new ApplyRefusal(task.path, 'signed module: adding symbols would invalidate its signature; '
        + 'give --resign KEY CERT to sign it again or --strip-signature to remove the signature');
    }
    const signature: SignatureOutcome = !signedOriginal ? 'none' : opts.policy === 'strip' ? 'stripped' : 'resigned';
    if (opts.dryRun) return { ...at, ...original, action: 'would-apply', signature };
    let image = target;
    if (signature === 'resigned') {
      if (!opts.signer) throw new Error('internal: --resign without a signer');
      image = await opts.signer.sign(task.path, target, info.signature);
    }
    const out = m.compression === 'none' ? image : await compress(image, recipeFor(info, m.compression));
    writePreserving(m.realPath, out, m.stat);
    return { ...at, ...original, action: 'applied', newSha256: sha256(out).toString('hex'), signature };
  } catch (e) {
    return problem(at, e);
  }
}

function recipeFor(info: OriginalFile, kind: CompressKind) {
  return (info.fileMode === 'recipe' && info.compression === kind ? recipeByName(info.recipe) : null) ?? defaultRecipe(kind);
}

/** Restores the exact original file of a module apply rewrote; a module it never touched is left alone. */
export async function revertModule(path: string, dryRun: boolean): Promise<Outcome> {
  const base = { path, realPath: path, aliases: 0 };
  if (!dryRun) removeStaleTemps(safeRealpath(path));
  if (await plainWithoutMarker(path)) return { ...base, realPath: safeRealpath(path), action: 'not-applied' };
  let m: Loaded;
  try {
    m = await load(path);
  } catch (e) {
    return problem(base, e);
  }
  const at = { ...base, realPath: m.realPath, compression: m.compression };
  if (!m.marker) return { ...at, action: 'not-applied' };
  try {
    return await revertLoaded(m, at, dryRun);
  } catch (e) {
    return problem(at, e);
  }
}

async function revertLoaded(m: Loaded, at: Omit<Outcome, 'action'>, dryRun: boolean): Promise<Outcome> {
  const marker = m.marker!;
  const aliases = marker.localAliases + marker.globalAliases;
  const orig = reconstructOriginal(m.parsed, marker);
  const shas = { originalSha256: marker.fileSha256.toString('hex') };
  if (dryRun) return { ...at, ...shas, aliases, action: 'would-revert' };
  let bytes: Buffer;
  switch (marker.fileMode) {
    case 'image':
      bytes = orig.image;
      break;
    case 'embedded':
      bytes = marker.embedded;
      break;
    case 'recipe': {
      const recipe = recipeByName(marker.recipe);
      if (!recipe || marker.compression === 'none') throw new ApplyRefusal(at.path, `${marker.recipe}: not a compression recipe this ksymtree knows`);
      bytes = await compress(orig.image, recipe);
      break;
    }
  }
  if (!sha256(bytes).equals(marker.fileSha256)) {
    throw new ApplyRefusal(at.path, marker.fileMode === 'recipe'
      ? `\`${marker.recipe}\` here no longer reproduces the original ${marker.compression} file that it reproduced when apply ran (another ${marker.compression} version?); the module is left as it is`
      : 'the restored bytes do not hash to the original sha256 apply recorded; the module is left as it is');
  }
  writePreserving(m.realPath, bytes, m.stat);
  return { ...at, ...shas, aliases, action: 'reverted', newSha256: marker.fileSha256.toString('hex') };
}

function problem(base: Omit<Outcome, 'action'>, e: unknown): Outcome {
  if (e instanceof ApplyRefusal) return { ...base, action: 'refused', reason: e.reason };
  const err = e as Error & { code?: string };
  const message = (err?.message ?? String(e)).replace(`${base.realPath}: `, '').replace(`${base.path}: `, '');
  return { ...base, action: 'failed', reason: err?.code === 'ENOENT' ? 'no such file' : message };
}

/**
 * Writes `data` beside `path` and renames it over `path` (fsync first): readers see the old file or the new
 * one, never a mix. Mode, owner, atime and mtime are the old file's.
 */
export function writePreserving(path: string, data: Buffer, st: Stats): void {
  writeFileAtomic(path, data, (fd) => {
    try {
      fchownSync(fd, st.uid, st.gid);
    } catch (e) {
      throw new Error(`cannot give the new file the owner ${st.uid}:${st.gid} of the old one (${(e as NodeJS.ErrnoException).code}); `
        + 'run as root or as the owner; the module is left as it is');
    }
    fchmodSync(fd, st.mode & 0o7777);
    futimesSync(fd, st.atime, st.mtime);
  });
}
