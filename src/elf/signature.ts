// Appended module signatures (scripts/sign-file: signature, struct module_signature, "~Module signature
// appended~"): whether a module is signed and where its ELF image ends.
import { ObjectError } from '../errors.js';
import type { ByteSource } from '../io/source.js';

/** The marker scripts/sign-file appends after a module's signature (include/linux/module_signature.h). */
export const MODULE_SIG_MARKER = Buffer.from('~Module signature appended~\n', 'latin1');
/** struct module_signature: algo, hash, id_type, signer_len, key_id_len, pad[3], __be32 sig_len. */
export const MODULE_SIG_INFO_SIZE = 12;

export interface ModuleSignature {
  /** Where the ELF image ends and the signature block begins. */
  readonly elfSize: number;
  readonly signatureLength: number;
}

/**
 * Finds an appended module signature from the last bytes of a module. Returns null when the module is not
 * signed, and `malformed` when the marker is present but the length field does not fit the file.
 */
export function findModuleSignature(tail: Buffer, fileSize: number): ModuleSignature | 'malformed' | null {
  if (tail.length < MODULE_SIG_MARKER.length || !tail.subarray(tail.length - MODULE_SIG_MARKER.length).equals(MODULE_SIG_MARKER)) {
    return null;
  }
  const infoEnd = tail.length - MODULE_SIG_MARKER.length;
  if (infoEnd < MODULE_SIG_INFO_SIZE) return 'malformed';
  const signatureLength = tail.readUInt32BE(infoEnd - 4);
  const elfSize = fileSize - MODULE_SIG_MARKER.length - MODULE_SIG_INFO_SIZE - signatureLength;
  if (elfSize <= 0) return 'malformed';
  return { elfSize, signatureLength };
}

/** The appended signature of a module image (null when unsigned); a marker with an impossible length is an ObjectError. */
export function signatureOf(src: ByteSource): ModuleSignature | null {
  const tailLength = Math.min(src.size, MODULE_SIG_MARKER.length + 12);
  const tail = src.read(src.size - tailLength, tailLength, 'module signature trailer');
  const found = findModuleSignature(tail, src.size);
  if (found === 'malformed') {
    const lengthAt = src.size - MODULE_SIG_MARKER.length - 4;
    throw new ObjectError(src.file, Math.max(lengthAt, 0),
      `module signature: expected a signature length (big-endian sig_len) that fits before the ${MODULE_SIG_MARKER.length}-byte marker, found ${lengthAt >= 0 ? src.read(lengthAt, 4, 'sig_len').readUInt32BE(0) : 'none'} (file size ${src.size})`);
  }
  return found;
}
