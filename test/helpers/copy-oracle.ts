/**
 * Which copy of a duplicated name is which, from tools no one here wrote: vmlinux copies in address order
 * (`nm -n`, 6.1's kallsyms walk) with llvm-symbolizer-19's file or llvm-dwarfdump-19's compilation unit; module
 * copies in `.symtab` order (`readelf -s`) with the STT_FILE symbol before each.
 */
import { execFileSync } from 'node:child_process';
import { basename } from 'node:path';

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });

/** Addresses of the copies of `name` in vmlinux, in address order; `letters` picks nm's type letters. */
export function vmlinuxAddresses(vmlinux: string, name: string, letters = /^[a-zA-Z]$/): string[] {
  return sh('nm', ['-n', vmlinux]).split('\n').map((l) => /^([0-9a-f]{16}) (\S) (\S+)$/.exec(l))
    .filter((m) => m && m[3] === name && letters.test(m[2])).map((m) => `0x${m![1]}`);
}

/** Source file of the first instruction of each copy, in address order, as its line table names it. */
export function vmlinuxSourcePaths(vmlinux: string, name: string, letters?: RegExp): string[] {
  const out = sh('llvm-symbolizer-19', [`--obj=${vmlinux}`, ...vmlinuxAddresses(vmlinux, name, letters)]).split('\n').filter((l) => l.includes(':'));
  return out.map((l) => l.split(':')[0]);
}

/** Source file (basename) of the first instruction of each copy, in address order. */
export function vmlinuxFiles(vmlinux: string, name: string, letters?: RegExp): string[] {
  return vmlinuxSourcePaths(vmlinux, name, letters).map((p) => basename(p));
}

/** Compilation unit (basename) of each copy, in address order: header statics share a file, not a unit. */
export function vmlinuxUnits(vmlinux: string, name: string): string[] {
  return vmlinuxAddresses(vmlinux, name).map((a) => basename(/DW_TAG_compile_unit[\s\S]*?DW_AT_name\s+\("([^"]+)"\)/
    .exec(sh('llvm-dwarfdump-19', [`--lookup=${a}`, vmlinux]))![1]));
}

/** Source file (the STT_FILE before it) of each defined copy of `name` in a module, in .symtab order. */
export function moduleFiles(ko: string, name: string): string[] {
  let file = '';
  const files: string[] = [];
  for (const l of sh('readelf', ['-sW', ko]).split('\n')) {
    const cols = l.trim().split(/\s+/);
    if (cols[3] === 'FILE') file = cols[7];
    else if (cols[7] === name && cols[6] !== 'UND') files.push(file);
  }
  return files;
}
