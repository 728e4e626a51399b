// What a kernel image file is: its architecture (x86 bzImage, arm64 Image, plain or gzip'd as Debian's arm64
// vmlinuz may be) and its release (`uname -r`), read from the image itself.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export type ImageArch = 'amd64' | 'arm64';

export interface KernelImage {
  readonly arch: ImageArch;
  readonly release: string;
}

/** The x86 setup header's kernel_version string (offset at 0x20e, relative to 0x200): `<release> (<builder>) #1 ...`. */
function bzImageVersion(b: Buffer): string {
  const off = b.readUInt16LE(0x20e) + 0x200;
  return b.toString('latin1', off, b.indexOf(0, off));
}

function bzImageRelease(b: Buffer): string | null {
  return bzImageVersion(b).split(' ')[0] || null;
}

/** The release in the banner `Linux version <release> (...` of an uncompressed image. */
function bannerRelease(b: Buffer): string | null {
  const marker = Buffer.from('Linux version ');
  for (let at = b.indexOf(marker); at >= 0; at = b.indexOf(marker, at + 1)) {
    const m = /^Linux version (\S+) \(/.exec(b.toString('latin1', at, at + 200));
    if (m && !m[1].includes('%')) return m[1];
  }
  return null;
}

/**
 * Architecture and release of a kernel image: a bzImage ("HdrS" at 0x202), or an arm64 Image ("ARM\x64" at
 * 0x38, Documentation/arm64/booting.rst), possibly gzip'd. Null for anything else.
 */
export function kernelImage(file: string): KernelImage | null {
  let b = readFileSync(file);
  if (b.length > 0x210 && b.toString('latin1', 0x202, 0x206) === 'HdrS') {
    const release = bzImageRelease(b);
    return release ? { arch: 'amd64', release } : null;
  }
  if (b[0] === 0x1f && b[1] === 0x8b) b = gunzipSync(b);
  if (b.length > 0x40 && b.toString('latin1', 0x38, 0x3c) === 'ARM\x64') {
    const release = bannerRelease(b);
    return release ? { arch: 'arm64', release } : null;
  }
  return null;
}

/**
 * The Debian package version a Debian x86 kernel image was built as (`... Debian 6.1.176-1 (2026-07-02)` in its
 * setup header's version string); null for another image.
 */
export function debianKernelVersion(file: string): string | null {
  const b = readFileSync(file);
  if (b.length <= 0x210 || b.toString('latin1', 0x202, 0x206) !== 'HdrS') return null;
  return / Debian (\S+) /.exec(bzImageVersion(b))?.[1] ?? null;
}
