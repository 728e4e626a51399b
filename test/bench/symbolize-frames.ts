// The bench's symbolize input: a deterministic kernel log of N stack-trace frames (`name+0xOFF/0xSIZE [mod]`),
// each in a different function of vmlinux or one of seven modules, and the same places as (object, address).
import { openIndexDb } from '../../src/db/db.js';

/** Modules the real-kernel tier samples too (present in Debian's cloud flavour). */
export const FRAME_MODULES = ['bridge', 'libceph', 'btrfs', 'cifs', 'sctp', 'overlay', 'wireguard'];

/** The frames' places per object: what a batch addr2line run is given. */
export interface FramePlaces {
  readonly kind: 'vmlinux' | 'module';
  readonly module: string | null;
  /** The object's DWARF (its debug copy, else itself). */
  readonly debugPath: string;
  /** vmlinux: link-time addresses; a module: offsets in `.text` (other sections are left out of the sample). */
  readonly addresses: bigint[];
}

export interface SymbolizeFrames {
  /** The log: one frame a line, behind a timestamp, as `echo l > /proc/sysrq-trigger` prints them. */
  readonly log: string;
  readonly count: number;
  readonly objects: FramePlaces[];
}

interface Row { kind: 'vmlinux' | 'module'; module: string | null; debugPath: string; name: string; value: string; size: number }

/**
 * Every `count`-th kallsyms function (`.text` of the modules) of vmlinux and FRAME_MODULES in the index `db`,
 * ordered by object and address, at an offset inside it that a multiplicative hash of its position picks.
 */
export function symbolizeFrames(db: string, count: number): SymbolizeFrames {
  const d = openIndexDb(db);
  let rows: Row[];
  try {
    rows = d.prepare(`SELECT o.kind, o.module_name AS module, coalesce(o.debug_path, o.path) AS debugPath, s.name, s.value, s.size
      FROM symbols s JOIN objects o ON o.id = s.object_id JOIN sections sec ON sec.object_id = s.object_id AND sec.idx = s.shndx
      WHERE (o.kind = 'vmlinux' OR (o.module_name IN (SELECT value FROM json_each(?)) AND sec.name = '.text'))
        AND s.type = 2 AND s.size > 0 AND s.ks_letter IN ('t', 'T')
      ORDER BY o.kind = 'module', o.module_name, s.value, s.idx`).all(JSON.stringify(FRAME_MODULES)) as Row[];
  } finally {
    d.close();
  }
  if (rows.length < count) throw new Error(`${db}: ${rows.length} functions in vmlinux and ${FRAME_MODULES.join(', ')}, fewer than ${count} frames`);
  const step = rows.length / count;
  const lines: string[] = [];
  const objects = new Map<string, FramePlaces>();
  for (let i = 0; i < count; i++) {
    const r = rows[Math.floor(i * step)];
    const offset = BigInt((Math.imul(i + 1, 0x9e3779b1) >>> 0) % r.size);
    const module = r.kind === 'module' ? ` [${r.module}]` : '';
    lines.push(`[ ${(100 + i / 1000).toFixed(6).padStart(11)}]  ${r.name}+0x${offset.toString(16)}/0x${r.size.toString(16)}${module}`);
    const key = r.module ?? '';
    const o = objects.get(key) ?? { kind: r.kind, module: r.module, debugPath: r.debugPath, addresses: [] };
    o.addresses.push(BigInt(`0x${r.value}`) + offset);
    objects.set(key, o);
  }
  return { log: `${lines.join('\n')}\n`, count, objects: [...objects.values()] };
}
