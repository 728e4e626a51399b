// `.modinfo`, a module's key=value strings (name=, vermagic=, alias=, ...); and finding a section by name.
import type { Section } from './sections.js';

/** `.modinfo` is a list of NUL-terminated `key=value` strings; a key may repeat (alias=, parm=). */
export function parseModinfo(bytes: Buffer): Map<string, string[]> {
  const info = new Map<string, string[]>();
  for (const entry of bytes.toString('latin1').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    const list = info.get(key);
    if (list) list.push(entry.slice(eq + 1));
    else info.set(key, [entry.slice(eq + 1)]);
  }
  return info;
}

export function findSection(sections: readonly Section[], name: string): Section | undefined {
  return sections.find((s) => s.name === name);
}
