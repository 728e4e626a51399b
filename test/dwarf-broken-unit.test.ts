// A .debug_info zeroed from some offset on (a truncated copy, a broken strip) costs one error and at most
// one failed unit parse per object, and the units before the damage still give their sites. Regression
// test for Debian's nfsd.ko damaged this way (25 s of CPU and 1.4 M errors: one failed parse per symbol).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dwarf } from '../src/dwarf/dwarf.js';
import { findSites } from '../src/sites/find-sites.js';

const UNITS = 40;
/** Line of `dup` in every generated unit (the oracle for intact units' sites). */
const DUP_LINE = 3;

function haveTool(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A relocatable object like a module: UNITS units, each with its own `static int dup(int)`, linked by ld -r. */
function buildObject(dir: string): string {
  const objs: string[] = [];
  for (let i = 0; i < UNITS; i++) {
    const src = join(dir, `u${i}.c`);
    writeFileSync(src, `/* unit ${i} */\n__attribute__((noinline))\nstatic int dup(int x) { return x * ${i + 3} + ${i}; }\n` +
      `int use_${i}(int x) { return dup(x) + 1; }\n`);
    execFileSync('gcc', ['-g', '-O1', '-fno-inline', '-c', src, '-o', `${src}.o`], { cwd: dir });
    objs.push(`${src}.o`);
  }
  const out = join(dir, 'mod.ko');
  execFileSync('ld', ['-r', '-o', out, ...objs]);
  return out;
}

/** [file offset, size] of a section, from readelf. */
function sectionExtent(path: string, name: string): [number, number] {
  const text = execFileSync('readelf', ['-SW', path], { encoding: 'utf8' });
  for (const line of text.split('\n')) {
    const m = /\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(line);
    if (m && m[1] === name) return [parseInt(m[2], 16), parseInt(m[3], 16)];
  }
  throw new Error(`${path}: readelf shows no ${name}`);
}

/** Compilation units as readelf shows them: section offset, total size, DW_AT_name. */
function readelfUnits(path: string): { offset: number; size: number; name: string }[] {
  const text = execFileSync('readelf', ['--debug-dump=info', path], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const out: { offset: number; size: number; name: string }[] = [];
  for (const block of text.split(/\n(?=[ \t]*Compilation Unit @ offset )/).slice(1)) {
    const offset = parseInt(/offset (0x[0-9a-f]+|\d+)/.exec(block)![1]);
    const length = parseInt(/Length:\s+(0x[0-9a-f]+)/.exec(block)![1], 16);
    const name = /DW_AT_name\s*:.*?(u\d+\.c)/.exec(block)![1];
    out.push({ offset, size: length + 4, name });
  }
  return out;
}

/** Symbol table indexes of every `dup`, with their STT_FILE, from readelf. */
function readelfDups(path: string): { index: number; file: string }[] {
  const text = execFileSync('readelf', ['-sW', path], { encoding: 'utf8' });
  const out: { index: number; file: string }[] = [];
  let file = '';
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+):\s+[0-9a-f]+\s+\d+\s+(\S+)\s+\S+\s+\S+\s+\S+\s+(\S+)$/.exec(line);
    if (!m) continue;
    if (m[2] === 'FILE') file = m[3];
    else if (m[2] === 'FUNC' && m[3] === 'dup') out.push({ index: Number(m[1]), file });
  }
  return out;
}

const canRun = haveTool('gcc') && haveTool('ld') && haveTool('readelf');

(canRun ? test : test.skip)('a zeroed .debug_info tail: one error, one failed unit parse, intact units keep their sites', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksymtree-broken-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const clean = buildObject(dir);
  const units = readelfUnits(clean);
  const dups = readelfDups(clean);
  t.is(units.length, UNITS, 'readelf sees every unit of the fixture');
  t.is(dups.length, UNITS, 'readelf sees every dup of the fixture');

  // Zero .debug_info from 40% of the section on, mid-unit, as a truncated copy leaves it.
  const [infoOffset, infoSize] = sectionExtent(clean, '.debug_info');
  const from = Math.floor(infoSize * 0.4);
  const bytes = readFileSync(clean);
  bytes.fill(0, infoOffset + from, infoOffset + infoSize);
  const damaged = join(dir, 'damaged.ko');
  writeFileSync(damaged, bytes);
  const firstBroken = units.find((u) => u.offset + u.size > from)!;
  const firstHeaderless = units.find((u) => u.offset >= from)!;
  t.truthy(firstHeaderless, 'the zeroed part holds whole units');

  // Count failed unit decodes: each broken unit may be parsed once, not once per lookup.
  const proto = Dwarf.prototype as unknown as { decodeUnit: (...a: unknown[]) => unknown };
  const original = proto.decodeUnit;
  let failedDecodes = 0;
  proto.decodeUnit = function (this: unknown, ...a: unknown[]) {
    try {
      return original.apply(this, a);
    } catch (e) {
      failedDecodes++;
      throw e;
    }
  };
  let result;
  try {
    result = await findSites(damaged, damaged, dups.map((d) => ({ symtabIndex: d.index })));
  } finally {
    proto.decodeUnit = original;
  }

  t.log(result.errors.map((e) => e.message).join('\n'));
  t.is(result.errors.length, 1, 'one error for the zeroed part, no "further errors" line');
  const [error] = result.errors;
  t.regex(error.message, /unit_length 0 /);
  t.is(error.offset, infoOffset + firstHeaderless.offset, 'the error points at the first unit header that is zeros');
  t.true(failedDecodes <= 1, `failed unit decodes: ${failedDecodes}`);

  // Units wholly before the damage still give `dup` its decl site (the line the fixture wrote it on).
  let intact = 0;
  dups.forEach((d, i) => {
    const unit = units.find((u) => u.name === d.file.replace(/\.o$/, ''))!;
    if (unit.offset + unit.size > firstBroken.offset + firstBroken.size) return;
    if (unit.offset < firstBroken.offset) {
      intact++;
      const site = result.sites[i];
      t.is(site.source, 'decl', `${d.file}: dup has its decl site`);
      t.is(site.declLine, DUP_LINE, `${d.file}: dup at line ${DUP_LINE}`);
      t.true(site.declFile?.endsWith(unit.name), `${d.file}: decl file ${site.declFile}`);
    }
  });
  t.true(intact >= UNITS / 4, `${intact} intact units checked`);
});
