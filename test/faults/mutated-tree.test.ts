// Mutated trees at scale: copies of real modules with bytes flipped in the ELF header, section table,
// symtab, strtab, .modinfo, .debug_* and relocation sections and in compressed streams, and truncations,
// indexed in one run with pass 2 (every symbol's site: --all-sites). No crash, no hang, bounded memory;
// every file indexed or named by an error row; exit code 1. KSYMTREE_FAULT_MUTANTS raises the count.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ElfSectionExtent, faultCount, prng, queryIndex, readelfSections, runCli, seedModules, tempFiles } from './helpers.js';

const MUTANTS = faultCount('KSYMTREE_FAULT_MUTANTS', 300);
const SEEDS = 24;
/** Peak RSS allowed for the whole run (main thread and workers share one process). */
const MAX_RSS_MB = 1536;

type Kind = 'header' | 'section-table' | 'symtab' | 'strtab' | 'modinfo' | 'debug' | 'debug-zero-tail' | 'rela' | 'truncate' | 'compressed';
const KINDS: readonly Kind[] = ['header', 'section-table', 'symtab', 'strtab', 'modinfo', 'debug', 'debug-zero-tail', 'rela', 'truncate', 'compressed'];
const COMPRESSORS: Record<string, { ext: string; cmd: string[] }> = {
  gzip: { ext: '.gz', cmd: ['gzip', '-n', '-9', '-c'] },
  xz: { ext: '.xz', cmd: ['xz', '--check=crc32', '--lzma2=dict=1MiB', '-c'] },
  zstd: { ext: '.zst', cmd: ['zstd', '-q', '-19', '-c'] },
};

interface Seed {
  readonly relPath: string;
  readonly bytes: Buffer;
  readonly sections: ElfSectionExtent[];
  readonly shoff: number;
  readonly shTableSize: number;
}

function loadSeed(path: string, relPath: string): Seed {
  const bytes = readFileSync(path);
  const sections = readelfSections(path);
  const is64 = bytes[4] === 2;
  const little = bytes[5] === 1;
  const shoff = Number(is64 ? (little ? bytes.readBigUInt64LE(0x28) : bytes.readBigUInt64BE(0x28)) : (little ? bytes.readUInt32LE(0x20) : bytes.readUInt32BE(0x20)));
  const shTableSize = sections.length * (is64 ? 64 : 40);
  return { relPath, bytes, sections, shoff, shTableSize };
}

const packedSeeds = new Map<string, Buffer>();
/** The seed compressed once per format; its mutants flip or cut copies of that stream. */
function packedSeed(seed: Seed, c: { ext: string; cmd: string[] }): Buffer {
  const key = `${seed.relPath}${c.ext}`;
  let packed = packedSeeds.get(key);
  if (!packed) packedSeeds.set(key, (packed = execFileSync(c.cmd[0], c.cmd.slice(1), { input: seed.bytes, maxBuffer: 1 << 28 })));
  return packed;
}

/** Flips 1–8 random bytes of `b` inside [start, end). */
function flip(b: Buffer, start: number, end: number, rnd: () => number): void {
  if (end <= start) return;
  const n = 1 + Math.floor(rnd() * 8);
  for (let i = 0; i < n; i++) b[start + Math.floor(rnd() * (end - start))] ^= 1 + Math.floor(rnd() * 255);
}

function mutate(seed: Seed, kind: Kind, rnd: () => number): { bytes: Buffer; ext: string } {
  const b = Buffer.from(seed.bytes);
  const pick = (test: (s: ElfSectionExtent) => boolean) => {
    const list = seed.sections.filter((s) => test(s) && s.type !== 'NOBITS' && s.size > 0);
    return list.length ? list[Math.floor(rnd() * list.length)] : null;
  };
  const inSection = (s: ElfSectionExtent | null) => (s ? flip(b, s.offset, s.offset + s.size, rnd) : flip(b, 0, b.length, rnd));
  switch (kind) {
    case 'header': flip(b, 0, 64, rnd); break;
    case 'section-table': flip(b, seed.shoff, seed.shoff + seed.shTableSize, rnd); break;
    case 'symtab': inSection(pick((s) => s.name === '.symtab')); break;
    case 'strtab': inSection(pick((s) => s.name === '.strtab' || s.name === '.shstrtab')); break;
    case 'modinfo': inSection(pick((s) => s.name === '.modinfo' || s.name.startsWith('.note'))); break;
    case 'debug': inSection(pick((s) => s.name.startsWith('.debug_'))); break;
    case 'rela': inSection(pick((s) => s.name.startsWith('.rela.debug_') || s.name.startsWith('.rel.debug_'))); break;
    case 'debug-zero-tail': {
      // What a truncated copy or a broken strip leaves: one DWARF section zeroed from some offset on.
      const s = pick((x) => x.name.startsWith('.debug_'));
      if (s) b.fill(0, s.offset + Math.floor(rnd() * s.size), s.offset + s.size);
      break;
    }
    case 'truncate': return { bytes: b.subarray(0, Math.floor(rnd() * b.length)), ext: '' };
    case 'compressed': {
      const names = Object.keys(COMPRESSORS);
      const c = COMPRESSORS[names[Math.floor(rnd() * names.length)]];
      const packed = Buffer.from(packedSeed(seed, c));
      if (rnd() < 0.25) return { bytes: packed.subarray(0, Math.floor(rnd() * packed.length)), ext: c.ext };
      // Past the format's magic, so that the file is still recognised as that format.
      flip(packed, Math.min(6, packed.length), packed.length, rnd);
      return { bytes: packed, ext: c.ext };
    }
  }
  return { bytes: b, ext: '' };
}

test(`${MUTANTS} mutated modules indexed with pass 2: no crash, no hang, bounded memory, every file accounted for, exit 1`, async (t) => {
  const deadline = Math.max(300_000, MUTANTS * 2_000);
  t.timeout(deadline + 600_000);
  const scratch = mkdtempSync(join(tmpdir(), 'ksymtree-faults-mutants-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  const { source, modules } = seedModules(scratch, SEEDS);
  t.log(`seeds: ${modules.length} modules from ${source}`);
  t.true(modules.length > 0, 'some seed module exists');
  const seeds = modules.filter((m) => m.relPath.endsWith('.ko')).map((m) => loadSeed(m.path, m.relPath));
  const tree = join(scratch, 'tree');
  const rnd = prng(0x16);
  const files: string[] = [];
  const kinds = new Map<Kind, number>();
  for (let i = 0; i < MUTANTS; i++) {
    const seed = seeds[i % seeds.length];
    const kind = KINDS[Math.floor(rnd() * KINDS.length)];
    const { bytes, ext } = mutate(seed, kind, rnd);
    const dir = join(tree, String(i % 50));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `m${i}-${kind}-${seed.relPath.replace(/[/]/g, '_')}${ext}`);
    writeFileSync(file, bytes);
    files.push(file);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  t.log(`mutants by kind: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`);

  const db = join(scratch, 'index.db');
  const r = await runCli(['index', tree, '--db', db, '--all-sites', '--quiet', '--jobs', '2'], { timeoutMs: deadline });
  t.log(`index: exit ${r.status}, ${r.seconds.toFixed(1)} s wall, peak RSS ${r.maxRssKb === null ? '?' : Math.round(r.maxRssKb / 1024)} MB`);
  t.false(r.timedOut, 'the run ended before its deadline (no hang)');
  t.is(r.signal, null, `no crash (signal ${r.signal}); stderr: ${r.stderr.slice(-2000)}`);
  t.is(r.status, 1, `exit 1 (partial); stderr: ${r.stderr.slice(-2000)}`);
  if (r.maxRssKb !== null) t.true(r.maxRssKb < MAX_RSS_MB * 1024, `peak RSS ${Math.round(r.maxRssKb / 1024)} MB < ${MAX_RSS_MB} MB`);

  const objects = queryIndex<{ path: string; status: string }>(db, 'SELECT path, status FROM objects');
  const errors = queryIndex<{ path: string; kind: string; message: string }>(db, 'SELECT path, kind, message FROM errors');
  const indexed = new Map(objects.map((o) => [o.path, o.status]));
  const named = new Set(errors.map((e) => e.path));
  const unaccounted = files.filter((f) => !indexed.has(f) && !named.has(f));
  t.deepEqual(unaccounted, [], 'every mutant is in objects or named by an error row');
  const silentFailures = objects.filter((o) => o.status !== 'ok' && !named.has(o.path));
  t.deepEqual(silentFailures, [], 'an object not fully read has an error row');
  const internal = errors.filter((e) => e.kind === 'internal');
  t.deepEqual(internal.map((e) => e.message.split('\n').slice(0, 3).join(' | ')), [], 'no internal error (an exception a parser did not turn into a typed error)');
  const byStatus = (s: string) => objects.filter((o) => o.status === s).length;
  t.log(`objects: ${byStatus('ok')} ok, ${byStatus('partial')} partial, ${byStatus('failed')} failed; ${errors.length} error rows`);
  t.deepEqual(tempFiles(scratch), [], 'no temporary file left');
});
