/** Examples shown by `ksymtree help COMMAND`, `--help` and the man page: one list, by command and by user. */

export interface Example { readonly command: string; readonly what: string }

export const COMMAND_EXAMPLES: Readonly<Record<string, readonly Example[]>> = {
  index: [
    { command: 'ksymtree index', what: 'the running kernel: /lib/modules/$(uname -r), its debug tree when installed; writes <tree>/ksymtree.db' },
    { command: 'ksymtree index debian/tmp/lib/modules/$KVER --debug-dir debian/tmp/usr/lib/debug/lib/modules/$KVER', what: 'a package build: installed tree with its debug copies' },
    { command: 'ksymtree index ~/linux --db /tmp/ksymtree.db', what: 'a build tree after `make`' },
    { command: 'DEBUGINFOD_URLS=https://debuginfod.debian.net ksymtree index /lib/modules/$(uname -r) /boot/vmlinuz-$(uname -r)',
      what: 'no debug package: the debug files of objects with duplicates (vmlinux\'s by the vmlinuz\'s build-id) fetched and cached' },
    { command: 'ksymtree index /srv/arm64/lib/modules/$KVER --config /srv/arm64/boot/config-$KVER', what: 'another machine\'s kernel: its .config decides what kallsyms lists (CONFIG_KALLSYMS_ALL)' },
  ],
  symbols: [{ command: 'ksymtree symbols --object bridge --format json', what: 'every .symtab entry of bridge.ko' }],
  aliases: [
    { command: 'ksymtree aliases --object bridge --format livepatch', what: 'klp_object.name, old_name and old_sympos of every duplicated name of bridge.ko' },
    { command: 'ksymtree aliases --object vmlinux --format nm -o vmlinux.aliases', what: 'nm -n with aliases, for scripts/kallsyms at link time' },
  ],
  'kallsyms-aliases': [
    { command: 'make KSYMTREE=$(command -v ksymtree)', what: 'with contrib/kbuild\'s patch, link-vmlinux.sh runs this on every temporary vmlinux' },
    { command: 'ksymtree kallsyms-aliases --config .config --sysmap .tmp_vmlinux.kallsyms1.syms .tmp_vmlinux.kallsyms1', what: 'the same by hand: the list with alias lines, on stdout' },
  ],
  lookup: [
    { command: 'ksymtree lookup name_show', what: 'every copy of name_show in the tree, with sympos, alias and site' },
    { command: 'ksymtree lookup name_show@kernel_irq_irqdesc_c_230 --format json', what: 'the one copy an alias names, as JSON' },
  ],
  where: [{ command: 'ksymtree where jhash', what: 'the definition sites of jhash in every object (all names after `index --all-sites`)' }],
  resolve: [
    { command: 'ksymtree resolve name_show@kernel_irq_irqdesc_c_230', what: 'livepatch fields and a kprobe line anchored at a unique neighbour' },
    { command: 'sudo ksymtree resolve jhash@include_linux_jhash_h_70@net_bridge_br_fdb_c --kallsyms /proc/kallsyms', what: 'plus this boot\'s address and perf/bpftrace lines' },
  ],
  symbolize: [
    { command: 'dmesg | ksymtree symbolize --kallsyms /proc/kallsyms', what: 'annotate a kernel log in place: the copy each frame ran in, file:line and inlined callers' },
    { command: "ksymtree symbolize 'jhash+0x10/0x165 [bridge]' --format json", what: 'one frame, as JSON' },
  ],
  diff: [{ command: 'ksymtree diff 6.1/ksymtree.db 6.12/ksymtree.db --format json', what: 'aliases added, removed, or whose sympos changed between two releases' }],
  kallsyms: [{ command: 'ksymtree kallsyms --object bridge --sections /sys/module', what: 'bridge.ko as /proc/kallsyms shows it once loaded' }],
  apply: [
    { command: 'ksymtree apply debian/tmp/lib/modules/$KVER --dry-run', what: 'which modules would get aliases' },
    { command: 'ksymtree apply debian/tmp/lib/modules/$KVER --resign certs/signing_key.pem certs/signing_key.x509', what: 'write the aliases and re-sign' },
    { command: 'ksymtree apply /lib/modules/$KVER --revert', what: 'the exact original modules back' },
  ],
  verify: [{ command: 'ksymtree verify debian/tmp/lib/modules/$KVER', what: 'the modules still hold what apply wrote (a package-build sanity step)' }],
  stats: [{ command: 'ksymtree stats --format json', what: 'counts of objects, symbols, duplicates, aliases, sites, errors' }],
  errors: [{ command: 'ksymtree errors --db /lib/modules/$KVER/ksymtree.db', what: 'every file that could not be fully read: file, offset, what was expected' }],
  'klp check': [
    { command: 'ksymtree klp check livepatch-fix.ko --reference 6.1.0-50/ksymtree.db --db 6.1.0-51/ksymtree.db --db 6.1.0-52/ksymtree.db', what: 'does every reference bind the copy it was written for in each release?' },
    { command: 'ksymtree klp check livepatch-fix.ko --db /lib/modules/$(uname -r)/ksymtree.db --format json', what: 'would it load on this kernel (the kernel\'s rules only), as JSON' },
  ],
  'klp funcs': [
    { command: 'ksymtree klp funcs name_show@kernel_irq_irqdesc_c_230 jhash@include_linux_jhash_h_70@net_bridge_br_fdb_c', what: 'klp_func arrays for vmlinux and bridge and the klp_object array, to paste into a livepatch module' },
  ],
  'catalog add': [
    { command: 'ksymtree catalog add builds.db farm/6.1.0-*/ksymtree.db', what: 'merge the indexes the build farm made into one catalogue' },
  ],
  'catalog sympos': [
    { command: 'ksymtree catalog sympos name_show --catalog builds.db --object vmlinux', what: 'the copies of name_show, their aliases and sympos, in every build' },
  ],
  man: [{ command: 'ksymtree man > ksymtree.1 && man -l ksymtree.1', what: 'this help as a man page' }],
};

/** The three users and the commands each one runs. */
export const USER_EXAMPLES: readonly { readonly user: string; readonly examples: readonly Example[] }[] = [
  { user: 'Packager (after make modules_install, or in a package build)', examples: [
    { command: 'ksymtree index $DESTDIR/lib/modules/$KVER --debug-dir $DEBUGDIR/lib/modules/$KVER', what: 'index the tree; exit 1 names each file that failed' },
    { command: 'ksymtree apply $DESTDIR/lib/modules/$KVER --resign $KEY $CERT', what: 'write the aliases into the modules' },
    { command: 'ksymtree verify $DESTDIR/lib/modules/$KVER', what: 'check before packaging' },
    { command: 'make KSYMTREE=$(command -v ksymtree)', what: 'vmlinux aliases in the running kernel (contrib/kbuild patch; README)' },
  ] },
  { user: 'Livepatch author', examples: [
    { command: 'ksymtree aliases --object bridge --format livepatch', what: 'old_sympos of every duplicated name' },
    { command: 'ksymtree diff old/ksymtree.db new/ksymtree.db', what: 'which sympos changed in the new release' },
    { command: 'ksymtree klp funcs name_show@kernel_irq_irqdesc_c_230', what: 'the klp_func initializer for exactly that copy' },
    { command: 'ksymtree klp check fix.ko --reference built-for.db --db other-release.db', what: 'does the patch bind the same copies in another build?' },
  ] },
  { user: 'Tracer', examples: [
    { command: 'ksymtree lookup name_show', what: 'which copy is which' },
    { command: 'sudo ksymtree resolve name_show@kernel_irq_irqdesc_c_230 --kallsyms /proc/kallsyms', what: 'kprobe, perf and bpftrace lines for exactly that copy' },
    { command: 'dmesg | ksymtree symbolize --kallsyms /proc/kallsyms', what: 'which copy each stack-trace frame ran in, with file:line' },
  ] },
];

export function examplesText(examples: readonly Example[]): string {
  return examples.map((e) => `  $ ${e.command}\n      ${e.what}`).join('\n');
}
