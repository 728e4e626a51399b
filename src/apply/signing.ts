/**
 * Module signatures for apply: splitting a signed image, finding the kernel's `scripts/sign-file`, and
 * re-signing a rewritten module with it. A rewritten module never keeps the old signature: it is either
 * refused, stripped, or signed again and the new signature checked before the file is written.
 */
import { execFile } from 'node:child_process';
import { X509Certificate, createHash, verify } from 'node:crypto';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { FatalError } from '../errors.js';
import { MODULE_SIG_INFO_SIZE, MODULE_SIG_MARKER, findModuleSignature } from '../elf/signature.js';

export interface SplitImage {
  /** The ELF image without signature. */
  readonly elf: Buffer;
  /** The signature block (PKCS#7, struct module_signature, marker); empty when unsigned. */
  readonly signature: Buffer;
}

export function splitSignature(file: string, image: Buffer): SplitImage {
  const tailLength = Math.min(image.length, MODULE_SIG_MARKER.length + MODULE_SIG_INFO_SIZE);
  const found = findModuleSignature(image.subarray(image.length - tailLength), image.length);
  if (found === 'malformed') throw new Error(`${file}: module signature marker found but its length field does not fit the file`);
  if (!found) return { elf: image, signature: Buffer.alloc(0) };
  return { elf: image.subarray(0, found.elfSize), signature: image.subarray(found.elfSize) };
}

/** DER encodings of the digest algorithm OIDs sign-file may use, by the name sign-file takes. */
const DIGESTS: ReadonlyArray<readonly [string, Buffer]> = [
  ['sha256', Buffer.from('0609608648016503040201', 'hex')],
  ['sha384', Buffer.from('0609608648016503040202', 'hex')],
  ['sha512', Buffer.from('0609608648016503040203', 'hex')],
  ['sha224', Buffer.from('0609608648016503040204', 'hex')],
  ['sha3-256', Buffer.from('0609608648016503040208', 'hex')],
  ['sha3-384', Buffer.from('0609608648016503040209', 'hex')],
  ['sha3-512', Buffer.from('060960864801650304020a', 'hex')],
  ['sha1', Buffer.from('06052b0e03021a', 'hex')],
];

/** The digest the original signature used (the first digest OID in its PKCS#7), or null. */
export function signatureDigest(signature: Buffer): string | null {
  let best: { name: string; at: number } | null = null;
  for (const [name, oid] of DIGESTS) {
    const at = signature.indexOf(oid);
    if (at >= 0 && (!best || at < best.at)) best = { name, at };
  }
  return best?.name ?? null;
}

/**
 * sign-file: `--sign-file PATH`, else `sign-file` on PATH, else the newest
 * `/usr/lib/linux-kbuild-<ver>/scripts/sign-file` (Debian's linux-kbuild-<ver>), else the running kernel's
 * `/lib/modules/$(uname -r)/build/scripts/sign-file`.
 */
export function findSignFile(given?: string): string {
  if (given) {
    if (!isExecutable(given)) throw new FatalError(`--sign-file ${given}: not an executable file`);
    return given;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, 'sign-file'))) return join(dir, 'sign-file');
  }
  const kbuild = existsSync('/usr/lib') ? readdirSync('/usr/lib').filter((d) => d.startsWith('linux-kbuild-')) : [];
  kbuild.sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
  for (const d of kbuild) {
    const p = join('/usr/lib', d, 'scripts', 'sign-file');
    if (isExecutable(p)) return p;
  }
  throw new FatalError('--resign needs the kernel\'s scripts/sign-file: none on PATH or in /usr/lib/linux-kbuild-*/scripts '
    + '(Debian: apt-get install linux-kbuild-<version>); give its path with --sign-file PATH');
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface SignerOptions {
  readonly signFile: string;
  readonly key: string;
  readonly cert: string;
  /** Digest for sign-file; null: the one the module's original signature used, else sha256. */
  readonly hash: string | null;
}

/**
 * Runs sign-file on rewritten modules in a private temporary directory, and checks each result: the ELF
 * bytes are exactly the ones given, the trailer is well formed and the PKCS#7 signature verifies against
 * the certificate over those bytes (checked here, with node:crypto: no second process per module).
 */
export class Signer {
  private dir: string;
  private serial = 0;
  private cert: X509Certificate;

  constructor(readonly opts: SignerOptions) {
    for (const [what, p] of [['key', opts.key], ['certificate', opts.cert]] as const) {
      if (!existsSync(p)) throw new FatalError(`--resign: ${what} ${p} does not exist`);
    }
    try {
      this.cert = new X509Certificate(readFileSync(opts.cert));
    } catch (e) {
      throw new FatalError(`--resign: ${opts.cert} is not an X.509 certificate (PEM or DER): ${(e as Error).message}`);
    }
    this.dir = mkdtempSync(join(tmpdir(), 'ksymtree-sign-'));
  }

  async sign(file: string, elf: Buffer, originalSignature: Buffer): Promise<Buffer> {
    const hash = this.opts.hash ?? signatureDigest(originalSignature) ?? 'sha256';
    const id = ++this.serial;
    const input = join(this.dir, `${id}.ko`);
    const output = join(this.dir, `${id}.signed.ko`);
    try {
      writeFileSync(input, elf);
      await execTool(this.opts.signFile, [hash, this.opts.key, this.opts.cert, input, output]);
      const signed = readFileSync(output);
      const split = splitSignature(file, signed);
      if (!split.signature.length || !split.elf.equals(elf)) {
        throw new Error(`${file}: ${this.opts.signFile} did not produce the module followed by a signature`);
      }
      this.check(file, elf, split.signature);
      return signed;
    } finally {
      rmSync(input, { force: true });
      rmSync(output, { force: true });
    }
  }

  private check(file: string, elf: Buffer, block: Buffer): void {
    const sigLength = block.readUInt32BE(block.length - MODULE_SIG_MARKER.length - 4);
    const problem = verifyPkcs7(block.subarray(0, sigLength), elf, this.cert);
    if (problem) throw new Error(`${file}: the new signature does not verify against ${this.opts.cert}: ${problem}`);
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function execTool(tool: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') return reject(e);
      reject(new Error(`${tool} ${args.join(' ')}: ${String(stderr).trim() || e.message}`));
    });
  });
}

/* ------------------------------------------------------------------------------------------------ */

interface Tlv {
  readonly tag: number;
  /** The whole element, header included. */
  readonly start: number;
  /** Its contents. */
  readonly body: number;
  readonly end: number;
}

function tlv(b: Buffer, at: number, limit = b.length): Tlv {
  if (at + 2 > limit) throw new Error('truncated DER');
  const tag = b[at];
  let len = b[at + 1];
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || body + n > limit) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[body + i];
    body += n;
  }
  if (body + len > limit) throw new Error('truncated DER');
  return { tag, start: at, body, end: body + len };
}

function children(b: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.body; at < parent.end;) {
    const c = tlv(b, at, parent.end);
    out.push(c);
    at = c.end;
  }
  return out;
}

const MESSAGE_DIGEST_OID = Buffer.from('06092a864886f70d010904', 'hex');

/**
 * Checks a PKCS#7/CMS SignedData as sign-file writes it (detached content, one signer) over `content`
 * with the certificate's public key. Returns null when it verifies, else what is wrong.
 */
export function verifyPkcs7(der: Buffer, content: Buffer, cert: X509Certificate): string | null {
  try {
    const top = tlv(der, 0);
    const signedData = children(der, children(der, children(der, top)[1])[0]);
    const signerInfos = [...signedData].reverse().find((c) => c.tag === 0x31);
    if (!signerInfos) return 'no signerInfos';
    const signer = children(der, children(der, signerInfos)[0]);
    const digestOid = der.subarray(children(der, signer[2])[0].start, children(der, signer[2])[0].end);
    const digest = DIGESTS.find(([, oid]) => oid.equals(digestOid))?.[0];
    if (!digest) return `unknown digest algorithm ${digestOid.toString('hex')}`;
    const attrs = signer[3].tag === 0xa0 ? signer[3] : null;
    const signature = signer[attrs ? 5 : 4];
    if (!signature || signature.tag !== 0x04) return 'no signature in the signer info';
    let signed: Buffer = content;
    if (attrs) {
      const raw = der.subarray(attrs.body, attrs.end);
      const at = raw.indexOf(MESSAGE_DIGEST_OID);
      if (at < 0) return 'signed attributes without a message digest';
      const set = tlv(raw, at + MESSAGE_DIGEST_OID.length);
      const value = tlv(raw, set.body);
      if (!raw.subarray(value.body, value.end).equals(createHash(digest).update(content).digest())) return 'message digest does not match the module';
      signed = Buffer.concat([Buffer.from([0x31]), der.subarray(attrs.start + 1, attrs.end)]);
    }
    return verify(digest, signed, cert.publicKey, der.subarray(signature.body, signature.end)) ? null : 'signature does not match';
  } catch (e) {
    return `unreadable PKCS#7 (${(e as Error).message})`;
  }
}
