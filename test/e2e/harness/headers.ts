// Debian's linux-headers for a Debian kernel image, to build out-of-tree modules against it: the flavour's headers
// package, the common one and linux-kbuild it depends on, all of the image's own package version, fetched with
// `apt-get download` and unpacked once into the e2e cache (`headers-<release>_<version>/`). The packages expect to
// live at /usr: their absolute links and include lines are pointed into the unpacked tree instead.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { exec } from '../../helpers/exec.js';
import { CACHE_DIR } from './boot.js';
import { debianKernelVersion, kernelImage } from './image.js';

/** The headers package and the packages of the same version it depends on (the common headers, linux-kbuild). */
async function packages(release: string, version: string): Promise<string[]> {
  const headers = `linux-headers-${release}`;
  let show: string;
  try {
    show = (await exec('apt-cache', ['show', `${headers}=${version}`])).stdout;
  } catch (e) {
    throw new Error(`${(e as Error).message}\n(apt knows no ${headers} of the kernel's version ${version}: run apt-get update, or fetch a corpus `
      + 'of a version the archive still has)');
  }
  const depends = /^Depends: (.*)$/m.exec(show)?.[1] ?? '';
  // linux-headers-<abi>-common (= version), linux-kbuild-<series> (>= version): both taken at the version
  const same = depends.split(',').map((d) => /^\s*(linux-(?:headers-\S+-common|kbuild-\S+))\s*\([=>]+ ([^)]+)\)/.exec(d)).filter((m) => m && m[2] === version).map((m) => m![1]);
  if (same.length !== 2) throw new Error(`${headers}=${version}: expected a common headers and a linux-kbuild package of its version in Depends: ${depends}`);
  return [headers, ...same];
}

/** Points every absolute link, and every `/usr/...` path in the top-level Makefiles of usr/src, into `root`. */
function relocate(root: string): void {
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) {
        const target = readlinkSync(p);
        if (target.startsWith('/')) {
          rmSync(p);
          symlinkSync(relative(dirname(p), join(root, target)) || '.', p);
        }
      } else if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  const src = join(root, 'usr/src');
  for (const tree of readdirSync(src)) {
    const makefile = join(src, tree, 'Makefile');
    if (!existsSync(makefile) || lstatSync(makefile).isSymbolicLink()) continue;
    writeFileSync(makefile, readFileSync(makefile, 'utf8').replace(/(^|[\s=])\/usr\//g, `$1${root}/usr/`));
  }
}

/**
 * The headers tree (`.../usr/src/linux-headers-<release>`) of a Debian kernel image, for `make -C TREE M=DIR`.
 * Throws when the image is not Debian's or apt cannot give its headers (a test then fails, saying why).
 */
export async function debianHeaders(kernel: string): Promise<string> {
  const release = kernelImage(kernel)?.release;
  const version = debianKernelVersion(kernel);
  if (!release || !version) throw new Error(`${kernel}: not a Debian x86 kernel image (no "Debian <version>" in its version string)`);
  const dir = join(CACHE_DIR, `headers-${release}_${version}`);
  const tree = join(dir, 'root/usr/src', `linux-headers-${release}`);
  if (existsSync(join(dir, '.complete'))) return tree;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'debs'), { recursive: true });
  const wanted = await packages(release, version);
  await exec('apt-get', ['download', ...wanted.map((p) => `${p}=${version}`)], { cwd: join(tmp, 'debs') });
  for (const deb of readdirSync(join(tmp, 'debs')).sort()) await exec('dpkg-deb', ['-x', join(tmp, 'debs', deb), join(tmp, 'root')]);
  rmSync(join(tmp, 'debs'), { recursive: true });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  relocate(join(dir, 'root'));
  writeFileSync(join(dir, '.complete'), `${wanted.map((p) => `${p}=${version}`).join('\n')}\n`);
  return tree;
}
