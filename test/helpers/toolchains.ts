// The compilers and binutils the fixture builders use, one entry per architecture, with the flags that make
// kernel-shaped objects and how to install a missing one. Every builder looks its toolchain up here.
export const ARCHES = ['x86_64', 'i386', 's390x', 'aarch64'] as const;
export type Arch = (typeof ARCHES)[number];

export interface Toolchain {
  readonly arch: Arch;
  readonly cc: string;
  readonly ld: string;
  /** ld's emulation when the host ld links it (`-m elf_i386`); empty for a cross ld. */
  readonly ldEmulation: readonly string[];
  /** The binutils matching the target: host nm does not read every foreign architecture. */
  readonly nm: string;
  readonly strip: string;
  /** What selects the target on a multi-target gcc (`-m32`), and nothing else. */
  readonly targetCflags: readonly string[];
  readonly moduleCflags: readonly string[];
  readonly vmlinuxCflags: readonly string[];
  /** gcc flags that link a vmlinux where this architecture's kernels live. */
  readonly linkFlags: readonly string[];
  readonly is64: boolean;
  /** How to get the compiler when it is missing. */
  readonly install: string;
}

export const TOOLCHAINS: Readonly<Record<Arch, Toolchain>> = {
  x86_64: {
    arch: 'x86_64', cc: 'gcc', ld: 'ld', ldEmulation: ['-m', 'elf_x86_64'], nm: 'nm', strip: 'strip', targetCflags: ['-m64'],
    moduleCflags: ['-m64', '-mcmodel=kernel', '-mno-red-zone', '-fno-pic'],
    vmlinuxCflags: ['-m64', '-mcmodel=kernel', '-mno-red-zone', '-fno-pic'],
    // Linked where x86_64 kernels live, so that values need all 64 bits.
    linkFlags: ['-m64', '-no-pie', '-Wl,-Ttext-segment=0xffffffff81000000'],
    is64: true, install: 'try: apt-get install gcc binutils',
  },
  i386: {
    arch: 'i386', cc: 'gcc', ld: 'ld', ldEmulation: ['-m', 'elf_i386'], nm: 'nm', strip: 'strip', targetCflags: ['-m32'],
    moduleCflags: ['-m32', '-fno-pic'], vmlinuxCflags: ['-m32', '-fno-pic'],
    linkFlags: ['-m32', '-no-pie', '-Wl,-Ttext-segment=0xc1000000'],
    is64: false, install: 'needs a gcc that supports -m32, try: apt-get install gcc-multilib',
  },
  s390x: {
    arch: 's390x', cc: 's390x-linux-gnu-gcc', ld: 's390x-linux-gnu-ld', ldEmulation: [], nm: 's390x-linux-gnu-nm',
    strip: 's390x-linux-gnu-strip', targetCflags: [], moduleCflags: ['-fno-pic'], vmlinuxCflags: ['-fno-pic'], linkFlags: ['-no-pie'],
    is64: true, install: 'try: apt-get install gcc-s390x-linux-gnu binutils-s390x-linux-gnu',
  },
  aarch64: {
    arch: 'aarch64', cc: 'aarch64-linux-gnu-gcc', ld: 'aarch64-linux-gnu-ld', ldEmulation: [], nm: 'aarch64-linux-gnu-nm',
    strip: 'aarch64-linux-gnu-strip', targetCflags: [], moduleCflags: ['-fno-pic'], vmlinuxCflags: ['-fPIE'],
    // arm64 kernels are position independent: vmlinux is ET_DYN with a .dynsym next to .symtab.
    linkFlags: ['-Wl,-pie', '-Wl,--no-dynamic-linker'],
    is64: true, install: 'try: apt-get install gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu',
  },
};
