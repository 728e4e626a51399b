// contrib/ksymtree-kernel-hook run as its callers run it, on a root folder holding a real Debian kernel
// package (dpkg-deb -x of the cached linux-image-*-unsigned .deb): the package's own postinst and postrm
// (their run-parts lines, with /etc/kernel and /lib/modules moved into the root), and systemd's kernel-install.
// Checked: the index appears beside the modules, holds every module file `find` sees and the vmlinuz,
// `ksymtree verify` passes after the configured apply, and removal leaves nothing of ksymtree behind.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { openDatabase } from '../../src/db/sqlite.js';
import { CLI } from '../helpers/cli.js';
import { repoPath } from '../helpers/repo.js';

const HOOK = repoPath('contrib', 'ksymtree-kernel-hook');
const corpus = process.env.KSYMTREE_CORPUS ?? join(homedir(), '.cache/ksymtree-corpus');
const debs = existsSync(join(corpus, 'debs')) ? readdirSync(join(corpus, 'debs')) : [];
const deb = debs.filter((d) => /^linux-image-6\.1\.\S+-cloud-amd64-unsigned_\S+_amd64\.deb$/.test(d)).sort().pop();
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const missing = !deb ? 'no cached linux-image-6.1.*-cloud-amd64-unsigned .deb (scripts/test.sh fetches it)'
  : ['dpkg-deb', 'run-parts', 'depmod'].find((c) => !have(c));
const hookTest = missing ? test.skip : test.serial;
const why = missing ? ` (SKIPPED: ${missing.includes(' ') ? missing : `${missing} not installed`})` : '';

/** The package unpacked once per .deb, cached beside the corpus; each test works on a copy (apply refuses hard links). */
function unpacked(): { pristine: string; version: string; control: string } {
  const cache = join(corpus, 'contrib-roots', deb!.replace(/\.deb$/, ''));
  if (!existsSync(join(cache, '.complete'))) {
    rmSync(cache, { recursive: true, force: true });
    mkdirSync(cache, { recursive: true });
    execFileSync('dpkg-deb', ['-x', join(corpus, 'debs', deb!), join(cache, 'root')]);
    execFileSync('dpkg-deb', ['-e', join(corpus, 'debs', deb!), join(cache, 'control')]);
    writeFileSync(join(cache, '.complete'), '');
  }
  const [version] = readdirSync(join(cache, 'root/lib/modules'));
  return { pristine: join(cache, 'root'), version, control: join(cache, 'control') };
}

function freshRoot(name: string): { root: string; version: string; control: string } {
  const u = unpacked();
  const work = mkdtempSync(join(corpus, 'contrib-roots', `${name}-`));
  const root = join(work, 'root');
  execFileSync('cp', ['-a', u.pristine, root]);
  return { root, version: u.version, control: u.control };
}

/** /etc/default/ksymtree in the root: this checkout's CLI; apply with --strip-signature when asked. */
function configure(root: string, apply: boolean): void {
  mkdirSync(join(root, 'etc/default'), { recursive: true });
  writeFileSync(join(root, 'etc/default/ksymtree'), `KSYMTREE=${CLI}\n${apply ? 'KSYMTREE_APPLY=yes\nKSYMTREE_APPLY_OPTIONS=--strip-signature\n' : ''}`);
}

/** The package's maintainer script with its host paths moved into the root (depmod -b ROOT; no boot symlinks). */
function maintainerScript(control: string, name: 'postinst' | 'postrm', root: string): string {
  const text = readFileSync(join(control, name), 'utf8')
    .replace(/^depmod \$version$/m, `depmod -b ${root} $version`)
    .replace(/linux-update-symlinks/g, 'true')
    .replace(/\/etc\/kernel\//g, `${root}/etc/kernel/`)
    .replace(/\/lib\/modules\//g, `${root}/lib/modules/`);
  const path = join(root, '..', name);
  writeFileSync(path, text);
  chmodSync(path, 0o755);
  return path;
}

function run(cmd: string, args: string[], env: Record<string, string>): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function indexedPaths(db: string): string[] {
  const s = openDatabase(db, { readonly: true });
  try {
    return s.prepare('SELECT path FROM objects ORDER BY path').pluck().all() as string[];
  } finally {
    s.close();
  }
}

function moduleFiles(tree: string): string[] {
  return execFileSync('find', [tree, '-name', '*.ko*', '-type', 'f'], { encoding: 'utf8' }).trim().split('\n').sort();
}

hookTest(`Debian: the package's postinst runs postinst.d/ksymtree: index beside the modules, apply, verify; postrm remove+purge leave no trace${why}`, (t) => {
  const { root, version, control } = freshRoot('debian');
  configure(root, true);
  for (const dir of ['postinst.d', 'postrm.d']) {
    mkdirSync(join(root, 'etc/kernel', dir), { recursive: true });
    copyFileSync(HOOK, join(root, 'etc/kernel', dir, 'ksymtree'));
    chmodSync(join(root, 'etc/kernel', dir, 'ksymtree'), 0o755);
  }
  const tree = join(root, 'lib/modules', version);
  const db = join(tree, 'ksymtree.db');
  const env = { KSYMTREE_ROOT: root };
  const installed = run('sh', ['-e', maintainerScript(control, 'postinst', root), 'configure'], env);
  t.is(installed.status, 0, installed.out);
  t.true(existsSync(db), installed.out);
  const vmlinuz = join(root, 'boot', `vmlinuz-${version}`);
  t.deepEqual(indexedPaths(db), [...moduleFiles(tree), vmlinuz].sort());
  const verify = spawnSync(CLI, ['verify', tree], { encoding: 'utf8', env: { ...process.env, KSYMTREE_DB: '' } });
  t.is(verify.status, 0, verify.stderr);
  t.regex(verify.stderr, /modules with aliases: [1-9]\d* match the index, 0 changed since apply, 0 missing, 0 not applied/);

  // dpkg removes the package's files and then its directories that are empty, deepest first; then it runs
  // postrm remove, and postrm purge.
  const listing = execFileSync('dpkg-deb', ['-c', join(corpus, 'debs', deb!)], { encoding: 'utf8' }).split('\n');
  const entries = (type: string) => listing.filter((l) => l.startsWith(type)).map((l) => /\s\.(\/\S*?)\/?$/.exec(l)?.[1]).filter((p): p is string => !!p && p !== '/');
  for (const f of entries('-')) rmSync(join(root, f), { force: true });
  for (const d of entries('d').sort((a, b) => b.split('/').length - a.split('/').length)) spawnSync('rmdir', [join(root, d)]);
  const removed = run('sh', ['-e', maintainerScript(control, 'postrm', root), 'remove'], env);
  t.is(removed.status, 0, removed.out);
  t.false(existsSync(db));
  const purged = run('sh', ['-e', maintainerScript(control, 'postrm', root), 'purge'], env);
  t.is(purged.status, 0, purged.out);
  t.false(existsSync(tree), `${tree} left behind: ${existsSync(tree) ? readdirSync(tree).join(' ') : ''}`);
  rmSync(join(root, '..'), { recursive: true, force: true });
});

const kernelInstall = missing || !have('kernel-install') ? test.skip : test.serial;
kernelInstall(`systemd kernel-install add/remove runs install.d/85-ksymtree.install: index beside the modules, then removed${why || (have('kernel-install') ? '' : ' (SKIPPED: kernel-install not installed)')}`, (t) => {
  const { root, version } = freshRoot('kernel-install');
  configure(root, false);
  const plugin = join(root, 'etc/kernel/install.d/85-ksymtree.install');
  mkdirSync(join(root, 'etc/kernel/install.d'), { recursive: true });
  copyFileSync(HOOK, plugin);
  chmodSync(plugin, 0o755);
  // kernel-install's documented knobs keep it inside the root: its plugin list, config root, boot root, machine id.
  const env = { KSYMTREE_ROOT: root, KERNEL_INSTALL_PLUGINS: plugin, KERNEL_INSTALL_CONF_ROOT: join(root, 'etc/kernel'),
    BOOT_ROOT: join(root, 'boot'), MACHINE_ID: '0123456789abcdef0123456789abcdef' };
  const tree = join(root, 'lib/modules', version);
  const db = join(tree, 'ksymtree.db');
  const vmlinuz = join(root, 'boot', `vmlinuz-${version}`);
  const added = run('kernel-install', ['--verbose', 'add', version, vmlinuz], env);
  t.is(added.status, 0, added.out);
  t.regex(added.out, new RegExp(`85-ksymtree\\.install add ${version.replace(/[.+]/g, '\\$&')} `));
  t.true(existsSync(db), added.out);
  t.deepEqual(indexedPaths(db), [...moduleFiles(tree), vmlinuz].sort());
  const objects = spawnSync(CLI, ['stats', '--db', db, '--format', 'json'], { encoding: 'utf8' });
  t.is(JSON.parse(objects.stdout).objects.failed, 0);
  const removed = run('kernel-install', ['--verbose', 'remove', version], env);
  t.is(removed.status, 0, removed.out);
  t.false(existsSync(db));
  t.true(existsSync(tree), 'the kernel\'s own files stay');
  rmSync(join(root, '..'), { recursive: true, force: true });
});
