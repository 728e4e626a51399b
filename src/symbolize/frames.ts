// What `ksymtree symbolize` reads: addresses, symbolic frames (`name+0x1c/0x51 [mod]`) and kernel logs.
import { FatalError } from '../errors.js';

/** One frame found in the input. */
export interface InputFrame {
  /** The text the frame was read from (a whole log line, or one argument). */
  readonly text: string;
  /** Where the frame's token sits in `text` ([start, end)), for annotating in place. */
  readonly start: number;
  readonly end: number;
  /** Symbol name as the kernel printed it (`name_show`, `foo.constprop.0`); null for a bare address. */
  readonly name: string | null;
  readonly offset: bigint | null;
  /** The `/0x51` part: the kernel's size of the symbol (distance to the next kallsyms symbol). */
  readonly size: bigint | null;
  /** `[bridge]`: the module; null for vmlinux or when not printed. */
  readonly module: string | null;
  /** A runtime address printed with the frame (`[<ffffffff8111fe50>]`), or the address given alone. */
  readonly address: bigint | null;
}

// `name+0xOFF/0xSIZE`, optionally ` [module]`. The name may carry clone suffixes (`.constprop.0`, `.cold`).
const SYMBOLIC = /([A-Za-z_.$][\w.$@]*)\+0x([0-9a-fA-F]+)\/0x([0-9a-fA-F]+)(?: \[([\w-]+)(?: [^\]]*)?\])?/g;
// `[<ffffffff8111fe50>]` as older kernels and some architectures print before the symbolic frame.
const BRACKETED = /\[<([0-9a-fA-F]{8,16})>\]/;
const BARE_ADDRESS = /^\s*(?:0x)?([0-9a-fA-F]{8,16})\s*$/;

/** The frames of one line of a kernel log (a WARN, an oops, `echo l > /proc/sysrq-trigger`), left to right. */
export function framesOfLine(text: string): InputFrame[] {
  const out: InputFrame[] = [];
  const bare = BARE_ADDRESS.exec(text);
  if (bare) {
    return [{ text, start: 0, end: text.length, name: null, offset: null, size: null, module: null, address: BigInt(`0x${bare[1]}`) }];
  }
  const bracketed = BRACKETED.exec(text);
  for (const m of text.matchAll(SYMBOLIC)) {
    out.push({
      text, start: m.index!, end: m.index! + m[0].length, name: m[1], offset: BigInt(`0x${m[2]}`), size: BigInt(`0x${m[3]}`),
      module: m[4] ? m[4].replace(/-/g, '_') : null,
      // An address belongs to the frame only when the line holds one frame (`[<addr>] name+off/size`).
      address: bracketed && bracketed.index < m.index! ? BigInt(`0x${bracketed[1]}`) : null,
    });
  }
  if (out.length > 1) return out.map((f) => ({ ...f, address: null }));
  return out;
}

/**
 * Frames given as arguments: an address each, or a symbolic frame (the module may follow as its own
 * argument, `jhash+0x10/0x165 '[bridge]'`).
 */
export function framesOfArguments(args: readonly string[]): InputFrame[] {
  const out: InputFrame[] = [];
  for (let i = 0; i < args.length; i++) {
    let text = args[i];
    if (i + 1 < args.length && /^\[[\w-]+\]$/.test(args[i + 1]) && !/\[/.test(text)) text = `${text} ${args[++i]}`;
    const found = framesOfLine(text);
    if (found.length !== 1) throw new FatalError(`${text}: expected an address (0xffffffff8111fe50) or a frame (name_show+0x1c/0x51 [module])`);
    out.push(found[0]);
  }
  return out;
}
