// Oracles for `symbolize`: llvm-symbolizer-19 (linked vmlinux) and elfutils' eu-addr2line (modules: for a
// relocatable .ko llvm-symbolizer-19 answers line 0, see the real-kernel test). Both read addresses on
// stdin in one process; nothing here uses ksymtree's reader. Also the deterministic address sample.
import { execFileSync } from 'node:child_process';

export interface OracleFrame {
  readonly function: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export const LLVM_SYMBOLIZER = 'llvm-symbolizer-19';

export function haveTool(tool: string, arg = '--version'): boolean {
  try {
    execFileSync(tool, [arg], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function position(text: string): { file: string; line: number; column: number } {
  const m = /^(.*?):(\d+)(?::(\d+))?$/.exec(text.trim());
  if (!m) return { file: text.trim(), line: 0, column: 0 };
  return { file: m[1], line: Number(m[2]), column: Number(m[3] ?? 0) };
}

/** llvm-symbolizer-19 frames (innermost first) of each address of a linked object. */
export function llvmFrames(object: string, addresses: readonly bigint[]): OracleFrame[][] {
  const input = addresses.map((a) => `0x${a.toString(16)}`).join('\n');
  const text = execFileSync(LLVM_SYMBOLIZER, [`--obj=${object}`, '--inlining', '--functions=linkage'], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  const blocks = text.split('\n\n').filter((b) => b.trim().length);
  if (blocks.length !== addresses.length) throw new Error(`${LLVM_SYMBOLIZER}: ${blocks.length} answers for ${addresses.length} addresses`);
  return blocks.map((b) => {
    const lines = b.split('\n').filter((l) => l.length);
    const frames: OracleFrame[] = [];
    for (let i = 0; i + 1 < lines.length; i += 2) frames.push({ function: lines[i], ...position(lines[i + 1]) });
    return frames;
  });
}

/**
 * eu-addr2line frames (innermost first) of each offset of `section` in a relocatable object. An inlined
 * frame's function line reads `NAME inlined at FILE:L:C in CALLER`: that call site (DW_AT_call_file/line/
 * column of the inlined DIE) is taken as the caller's position. eu-addr2line 0.188 prints a caller position
 * line that sometimes disagrees with it (cifs.ko .text+0x216e2: "inlined at file.c:1735:2", then 1736:2,
 * the call line of the next spin_lock DIE) or omits the caller (overlay.ko .text+0x11d).
 */
export function elfutilsFrames(object: string, section: string, offsets: readonly bigint[]): OracleFrame[][] {
  const input = offsets.map((a) => `0x${a.toString(16)}`).join('\n');
  const text = execFileSync('eu-addr2line', ['-e', object, '-j', section, '-a', '-i', '-f'], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  const out: OracleFrame[][] = [];
  let cur: OracleFrame[] | null = null;
  let head: string | null = null;
  let caller: OracleFrame | null = null;
  const flush = () => {
    if (cur && caller) cur.push(caller);
    caller = null;
  };
  for (const line of text.split('\n')) {
    if (/^0x[0-9a-f]+$/.test(line)) {
      flush();
      cur = [];
      out.push(cur);
      head = null;
    } else if (cur && head === null) {
      head = line;
    } else if (cur && head !== null) {
      const inl = / inlined at (\S+) in (\S+)$/.exec(head);
      const fn = head.split(' ')[0];
      // The caller announced by the previous frame's head, at the call site the head gave.
      if (caller) {
        cur.push({ ...caller, function: fn });
        caller = null;
      } else cur.push({ function: fn, ...position(line) });
      if (inl) caller = { function: inl[2], ...position(inl[1]) };
      head = null;
    }
  }
  flush();
  if (out.length !== offsets.length) throw new Error(`eu-addr2line: ${out.length} answers for ${offsets.length} addresses`);
  return out;
}

export interface SampledSymbol {
  readonly name: string;
  readonly value: bigint;
  readonly size: bigint;
  /** The sampled place inside the symbol, as an offset from its value. */
  readonly offset: bigint;
  /** Every code symbol at the same value (llvm-symbolizer names the outermost frame from the symbol table). */
  readonly names: ReadonlySet<string>;
}

/**
 * Every `stride`-th code symbol of `nm -S` (text letters, size > 0) of `object`, with a place inside it that
 * moves through the function (0 %, 3 %, ... of its size): entries, bodies and inlined code alike.
 */
export function sampleFunctions(object: string, stride: number, limit: number): SampledSymbol[] {
  const text = execFileSync('nm', ['-S', object], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const out: SampledSymbol[] = [];
  const namesAt = new Map<string, Set<string>>();
  const code = text.split('\n').map((line) => /^([0-9a-f]+) (?:([0-9a-f]+) )?[tTwW] (\S+)$/.exec(line)).filter((m) => m !== null);
  for (const m of code) namesAt.set(m[1], (namesAt.get(m[1]) ?? new Set()).add(m[3]));
  let k = 0;
  for (const m of code) {
    if (!m[2] || !/ [tT] /.test(m[0]) || BigInt(`0x${m[2]}`) === 0n) continue;
    if (k++ % stride !== 0) continue;
    const size = BigInt(`0x${m[2]}`);
    const offset = (size * BigInt((out.length * 37) % 100)) / 100n;
    out.push({ name: m[3], value: BigInt(`0x${m[1]}`), size, offset, names: namesAt.get(m[1])! });
    if (out.length >= limit) break;
  }
  return out;
}
