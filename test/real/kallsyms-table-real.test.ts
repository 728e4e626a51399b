/**
 * Real-kernel tier of the vmlinux kallsyms decoder: Debian's 6.1 and 6.12 cloud-amd64 and 6.1 amd64 vmlinux
 * (debug packages) and their vmlinuz. Oracle: GNU nm and readelf over the same files. Each kernel's tests are
 * skipped, by name, when its corpus is absent (../shared/corpus/fetch-debian-kernel FLAVOUR SERIES).
 *
 * The last test of each kernel logs how the decoded view differs from the nm-based emulation that
 * src/scan/scan-object.ts falls back to without tables (src/kallsyms/vmlinux-rules.ts over nm's letters,
 * per-cpu symbols 'A'), and from plain nm, counted by reason.
 */
import test from 'ava';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { matchSymtab } from '../../src/kallsyms/symtab-match.js';
import { decodeVmlinuxKallsyms, type VmlinuxKallsyms } from '../../src/kallsyms/vmlinux-table.js';
import { extractVmlinuz } from '../../src/kallsyms/vmlinuz.js';
import { symposOf, type SymposInput } from '../../src/alias/sympos.js';
import { vmlinuxIgnores } from '../../src/kallsyms/vmlinux-rules.js';
import { scanObject } from '../../src/scan/scan-object.js';
import { hex16, nmSymbols, openElf, storedSymbolCount } from '../helpers/build-kallsyms-fixtures.js';

interface Kernel {
  readonly series: string;
  readonly vmlinux: string;
  readonly vmlinuz: string | null;
}

function corpus(series: string, flavour: string): Kernel | null {
  const env = flavour === 'cloud-amd64' ? process.env[`KSYMTREE_CORPUS_${series.replace('.', '')}`] : undefined;
  const base = env ?? join(process.env.KSYMTREE_CORPUS ?? join(homedir(), '.cache/ksymtree-corpus'), `${series}-${flavour}`);
  const vmlinux = join(base, 'debug', 'vmlinux');
  if (!existsSync(vmlinux)) return null;
  const boot = join(base, 'boot');
  const z = existsSync(boot) ? readdirSync(boot).find((f) => f.startsWith('vmlinuz-')) : undefined;
  return { series, vmlinux, vmlinuz: z ? join(boot, z) : null };
}

const cache = new Map<string, VmlinuxKallsyms>();
function decoded(k: Kernel): VmlinuxKallsyms {
  let r = cache.get(k.vmlinux);
  if (!r) {
    const o = openElf(k.vmlinux);
    r = decodeVmlinuxKallsyms(o.src, o.h, o.sections, o.symtab)!;
    cache.set(k.vmlinux, r);
  }
  return r;
}

// Debian 6.1 cloud (lz4 vmlinuz), 6.12 cloud (zstd), 6.1 generic amd64 (xz with the x86 branch filter).
for (const [series, flavour] of [['6.1', 'cloud-amd64'], ['6.12', 'cloud-amd64'], ['6.1', 'amd64']]) {
  const k = corpus(series, flavour);
  const real = k ? test.serial : test.skip;
  const title = (s: string) => `real ${series} ${flavour}: ${s}${k ? '' : ` [skipped: no corpus; run ../shared/corpus/fetch-debian-kernel ${flavour} ${series}]`}`;

  real(title('decoded count equals kallsyms_num_syms; names, letters and addresses agree with nm'), async (t) => {
    const nm = await nmSymbols('nm', k!.vmlinux);
    const r = decoded(k!);
    t.is(r.entries.length, await storedSymbolCount(k!.vmlinux, nm, true, false));
    t.is(r.encoding, 'absolute-percpu');
    t.is(r.tables.located, 'symtab');
    t.not(r.seqsOfNames, null);
    const start = nm.find((s) => s.name === '__per_cpu_start')!.address;
    const end = nm.find((s) => s.name === '__per_cpu_end')!.address;
    const letters = new Map<string, string[]>();
    for (const s of nm) {
      const key = `${hex16(s.address)} ${s.name}`;
      const percpu = s.address >= start && s.address <= end;
      letters.set(key, [...(letters.get(key) ?? []), percpu ? 'A' : s.letter]);
    }
    const bad = r.entries.filter((e) => !letters.get(`${e.address} ${e.name}`)?.includes(e.letter));
    t.deepEqual(bad.slice(0, 5), [], `${bad.length} entries have no nm line with that address, name and letter`);
    t.log(`${r.entries.length} entries; ${[...r.sympos].filter((x) => x > 0).length} carry a sympos`);
  });

  real(title('every decoded entry has its .symtab twin'), (t) => {
    const o = openElf(k!.vmlinux);
    const r = decoded(k!);
    const m = matchSymtab(r.entries, o.symtab!);
    t.deepEqual(m.unmatched, []);
  });

  real(title('the same vmlinux decodes the same without .symtab (by shape)'), (t) => {
    const o = openElf(k!.vmlinux);
    const byShape = decodeVmlinuxKallsyms(o.src, o.h, o.sections, null)!;
    t.is(byShape.tables.located, 'shape');
    t.deepEqual(byShape.entries, decoded(k!).entries);
    t.deepEqual(byShape.seqsOfNames, decoded(k!).seqsOfNames);
  });

  (k?.vmlinuz ? test.serial : test.skip)(title('the vmlinuz decodes to the debug vmlinux\'s list'), async (t) => {
    const x = await extractVmlinuz(k!.vmlinuz!, readFileSync(k!.vmlinuz!));
    t.is(x.found, 'setup-header');
    const o = openElf(k!.vmlinuz!, x.image);
    t.is(o.symtab, null);
    const r = decodeVmlinuxKallsyms(o.src, o.h, o.sections, null)!;
    t.deepEqual(r.entries, decoded(k!).entries);
    t.deepEqual(r.sympos, decoded(k!).sympos);
    t.log(`${x.compression} payload at 0x${x.payloadOffset.toString(16)}, ${x.image.length} bytes decompressed`);
  });

  real(title('how the decoded view differs from the nm-based emulation (logged, by reason)'), async (t) => {
    const scanned = await scanObject(k!.vmlinux);
    const cols = scanned.elf!.symbols;
    // The emulation as scan-object.ts computes it when a vmlinux has no tables (its vmlinuxKallsyms).
    const valueOf = (name: string) => {
      for (let row = 0; row < cols.count; row++) if (nameAt(row) === name) return cols.values.slice(16 * row, 16 * row + 16);
      return null;
    };
    const nameAt = (row: number) => cols.names.slice(row === 0 ? 0 : cols.nameEnd[row - 1], cols.nameEnd[row]);
    const pcpuStart = valueOf('__per_cpu_start');
    const pcpuEnd = valueOf('__per_cpu_end');
    const emulation = (row: number): string => {
      const nm = cols.nmLetters[row] === ' ' ? '' : cols.nmLetters[row];
      if (vmlinuxIgnores(nameAt(row), nm)) return ' ';
      const v = cols.values.slice(16 * row, 16 * row + 16);
      if (pcpuStart === '0000000000000000' && pcpuEnd !== null && v >= pcpuStart && v <= pcpuEnd) return 'A';
      return nm;
    };
    const o = openElf(k!.vmlinux);
    const r = decoded(k!);
    const m = matchSymtab(r.entries, o.symtab!);
    const kernel = new Map<number, string>();
    r.entries.forEach((e, i) => kernel.set(m.symbolIndex[i], e.letter));
    const tally = new Map<string, number>();
    const bump = (reason: string) => tally.set(reason, (tally.get(reason) ?? 0) + 1);
    let emulated = 0;
    for (let row = 0; row < cols.count; row++) {
      const idx = cols.index[row];
      const name = nameAt(row);
      const emu = emulation(row);
      const ker = kernel.get(idx);
      if (emu !== ' ') emulated++;
      // And against plain nm (what scripts/kallsyms started from): what the kernel dropped or re-lettered.
      const nmLetter = cols.nmLetters[row];
      if (nmLetter !== ' ' && !'Uuw v'.includes(nmLetter)) {
        if (ker === undefined) bump(`vs nm: kernel drops ${reasonOf(name, nmLetter)}`);
        else if (ker !== nmLetter) bump(`vs nm: letter ${nmLetter} (nm) -> ${ker} (kernel)`);
      }
      if (emu === ' ' && ker === undefined) continue;
      if (emu !== ' ' && ker === undefined) bump(`emulation keeps, kernel drops: ${reasonOf(name, cols.nmLetters[row])}`);
      else if (emu === ' ') bump(`kernel keeps, emulation drops: ${reasonOf(name, cols.nmLetters[row])}`);
      else if (emu !== ker) bump(`letter ${emu} (emulation) -> ${ker} (kernel)`);
    }
    // Livepatch sympos: src/alias/sympos.ts over the emulated view (address, then .symtab order) against
    // the kernel's walk (kallsyms_seqs_of_names order).
    const visible: SymposInput[] = [];
    for (let row = 0; row < cols.count; row++) {
      if (emulation(row) === ' ') continue;
      visible.push({ idx: cols.index[row], name: nameAt(row), value: cols.values.slice(16 * row, 16 * row + 16) });
    }
    const emuSympos = symposOf(visible, 'vmlinux');
    let symposDiffer = 0;
    r.entries.forEach((_, i) => { if ((emuSympos.get(m.symbolIndex[i]) ?? 0) !== r.sympos[i]) symposDiffer++; });
    tally.set('sympos differs (src/alias/sympos.ts over the emulation vs kallsyms_seqs_of_names)', symposDiffer);
    const lines = [...tally].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${n}\t${reason}`);
    t.log(`decoded ${r.entries.length}, emulated ${emulated}, .symtab rows ${cols.count}\n${lines.join('\n') || '(no differences)'}`);
    t.is(m.unmatched.length, 0);
    // scan-object.ts itself now takes its vmlinux letters from the decoded table: they must agree exactly.
    for (let row = 0; row < cols.count; row++) {
      const ker = kernel.get(cols.index[row]) ?? ' ';
      if (cols.kallsymsLetters[row] !== ker) t.fail(`scanObject letter of ${nameAt(row)}: ${cols.kallsymsLetters[row]}, kernel ${ker}`);
    }
  });
}

/** A coarse reason for a symbol's kallsyms fate: the name pattern scripts/kallsyms or the emulation acts on. */
function reasonOf(name: string, nmLetter: string): string {
  const prefixes = ['__kstrtab_', '__kstrtabns_', '__crc_', '__ksymtab_', '.L', '$', '__efistub_', 'init_per_cpu__', 'kallsyms_', '__UNIQUE_ID_', '__pfx_', '__cfi_'];
  const p = prefixes.find((x) => name.startsWith(x));
  if (p) return `${p}* (nm ${nmLetter})`;
  if ('aA'.includes(nmLetter)) return `absolute (nm ${nmLetter})`;
  if ('Nn'.includes(nmLetter)) return `debugging (nm ${nmLetter})`;
  return `other (nm ${nmLetter}): ${name}`;
}
