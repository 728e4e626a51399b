/**
 * Which copy of a duplicated name is which, from tools no one here wrote: vmlinux copies in address order
 * (`nm -n`, 6.1's kallsyms walk) with llvm-symbolizer-19's file or llvm-dwarfdump-19's compilation unit; module
 * copies in `.symtab` order (`readelf -s`) with the STT_FILE symbol before each.
 */
import { basename } from 'node:path';
import { exec } from './exec.js';

/** Addresses of the copies of `name` in vmlinux, in address order; `letters` picks nm's type letters. */
export async function vmlinuxAddresses(vmlinux: string, name: string, letters = /^[a-zA-Z]$/): Promise<string[]> {
  return (await exec('nm', ['-n', vmlinux])).stdout.split('\n').map((l) => /^([0-9a-f]{16}) (\S) (\S+)$/.exec(l))
    .filter((m) => m && m[3] === name && letters.test(m[2])).map((m) => `0x${m![1]}`);
}

/** Source file of the first instruction of each copy, in address order, as its line table names it. */
export async function vmlinuxSourcePaths(vmlinux: string, name: string, letters?: RegExp): Promise<string[]> {
  const addresses = await vmlinuxAddresses(vmlinux, name, letters);
  const out = (await exec('llvm-symbolizer-19', [`--obj=${vmlinux}`, ...addresses])).stdout.split('\n').filter((l) => l.includes(':'));
  return out.map((l) => l.split(':')[0]);
}

/** Source file (basename) of the first instruction of each copy, in address order. */
export async function vmlinuxFiles(vmlinux: string, name: string, letters?: RegExp): Promise<string[]> {
  return (await vmlinuxSourcePaths(vmlinux, name, letters)).map((p) => basename(p));
}

/** Compilation unit (basename) of each copy, in address order: header statics share a file, not a unit. */
export async function vmlinuxUnits(vmlinux: string, name: string): Promise<string[]> {
  const units: string[] = [];
  for (const a of await vmlinuxAddresses(vmlinux, name)) {
    const dump = (await exec('llvm-dwarfdump-19', [`--lookup=${a}`, vmlinux])).stdout;
    units.push(basename(/DW_TAG_compile_unit[\s\S]*?DW_AT_name\s+\("([^"]+)"\)/.exec(dump)![1]));
  }
  return units;
}

/** Source file (the STT_FILE before it) of each defined copy of `name` in a module, in .symtab order. */
export async function moduleFiles(ko: string, name: string): Promise<string[]> {
  let file = '';
  const files: string[] = [];
  for (const l of (await exec('readelf', ['-sW', ko])).stdout.split('\n')) {
    const cols = l.trim().split(/\s+/);
    if (cols[3] === 'FILE') file = cols[7];
    else if (cols[7] === name && cols[6] !== 'UND') files.push(file);
  }
  return files;
}
