// Inputs that claim or hold huge structures: a symtab claiming 2^32 entries, DWARF units claiming 4 GB,
// 70,000 sections (extended numbering), a 100,000-deep DIE tree. Each is indexed with pass 2 under a
// deadline (a hang detector, not a speed claim) and a memory ceiling; claims become errors, real
// structures are read. The objects are built here with gcc/gas; readelf is the oracle for their shape.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryIndex, readelfSections, runCli } from './helpers.js';

const MAX_RSS_MB = 768;
const DEADLINE_MS = 240_000;

function scratch(t: { teardown: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ksymtree-faults-limits-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function gccObject(dir: string, name: string, source: string, flags: string[] = ['-g', '-O1']): string {
  const src = join(dir, `${name}.c`);
  writeFileSync(src, source);
  const out = join(dir, `${name}.ko`);
  execFileSync('gcc', [...flags, '-c', src, '-o', out]);
  return out;
}

/** Section header field of an ELF64 little-endian object: sh_size (+0x20) or sh_offset (+0x18). */
function patchSectionHeader(bytes: Buffer, index: number, field: number, value: bigint): void {
  const shoff = Number(bytes.readBigUInt64LE(0x28));
  bytes.writeBigUInt64LE(value, shoff + index * 64 + field);
}

async function index(t: import('ava').ExecutionContext, dir: string, file: string) {
  const db = join(dir, 'index.db');
  const r = await runCli(['index', file, '--db', db, '--all-sites', '--quiet', '--jobs', '1'], { timeoutMs: DEADLINE_MS });
  t.log(`exit ${r.status}, peak RSS ${r.maxRssKb === null ? '?' : Math.round(r.maxRssKb / 1024)} MB, ${r.seconds.toFixed(1)} s`);
  t.false(r.timedOut, 'finished before the deadline');
  t.is(r.signal, null, `no crash: ${r.stderr.slice(-1500)}`);
  if (r.maxRssKb !== null) t.true(r.maxRssKb < MAX_RSS_MB * 1024, `peak RSS ${Math.round(r.maxRssKb / 1024)} MB < ${MAX_RSS_MB} MB`);
  const errors = queryIndex<{ kind: string; message: string }>(db, 'SELECT kind, message FROM errors');
  t.deepEqual(errors.filter((e) => e.kind === 'internal').map((e) => e.message.slice(0, 300)), [], 'no internal error');
  return { r, db, errors };
}

const SMALL = '__attribute__((noinline)) static int twice(int x) { return 2 * x; }\nint entry(int x) { return twice(x) + 1; }\nint data_item = 3;\n';

test('a .symtab claiming 2^32 entries is an error naming it, not an allocation', async (t) => {
  const dir = scratch(t);
  const file = gccObject(dir, 'symtab', SMALL);
  const bytes = readFileSync(file);
  const symtab = readelfSections(file).findIndex((s) => s.name === '.symtab');
  t.true(symtab > 0, 'readelf finds .symtab');
  patchSectionHeader(bytes, symtab, 0x20, 24n << 32n);
  writeFileSync(file, bytes);
  const { r, errors } = await index(t, dir, file);
  t.is(r.status, 1);
  t.true(errors.some((e) => /symtab|symbol table/i.test(e.message) && /0x/.test(e.message)), errors.map((e) => e.message).join('\n'));
});

for (const [title, length] of [['32-bit unit_length 0xffffffef', Buffer.from([0xef, 0xff, 0xff, 0xff])],
  ['64-bit unit_length 2^32', Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0, 0, 0, 0, 1, 0, 0, 0])])]] as const) {
  test(`a DWARF unit claiming 4 GB (${title}) is one error; the symbol table is still indexed`, async (t) => {
    const dir = scratch(t);
    const file = gccObject(dir, 'unit', SMALL);
    const bytes = readFileSync(file);
    const info = readelfSections(file).find((s) => s.name === '.debug_info')!;
    length.copy(bytes, info.offset);
    writeFileSync(file, bytes);
    const { r, db, errors } = await index(t, dir, file);
    t.is(r.status, 1);
    t.true(errors.some((e) => /unit_length/.test(e.message) && /\.debug_info\+0x0\b/.test(e.message)), errors.map((e) => e.message).join('\n'));
    const names = queryIndex<{ name: string }>(db, 'SELECT name FROM symbols').map((s) => s.name);
    t.true(names.includes('entry') && names.includes('twice'), 'symbols still indexed');
  });
}

test('70,000 sections (extended numbering: e_shnum 0, count in section 0) are all read', async (t) => {
  const dir = scratch(t);
  const N = 70_000;
  const lines: string[] = [];
  for (let i = 0; i < N; i++) lines.push(`.section .text.f${i},"ax",@progbits`, `.globl f${i}`, `.type f${i},@function`, `f${i}: ret`, `.size f${i},1`);
  const asm = join(dir, 'many.s');
  writeFileSync(asm, `${lines.join('\n')}\n`);
  const file = join(dir, 'many.ko');
  execFileSync('as', ['--64', '-o', file, asm]);
  const header = execFileSync('readelf', ['-hW', file], { encoding: 'utf8' });
  const shnum = /Number of section headers:\s+0 \((\d+)\)/.exec(header);
  t.truthy(shnum, `readelf sees extended numbering: ${/Number of section headers:.*/.exec(header)?.[0]}`);
  const { r, db } = await index(t, dir, file);
  t.is(r.status, 0, r.stderr);
  const sections = queryIndex<{ n: number }>(db, 'SELECT count(*) AS n FROM sections')[0].n;
  t.is(sections, Number(shnum![1]), 'every section header is in the index');
  const funcs = queryIndex<{ n: number }>(db, "SELECT count(*) AS n FROM symbols WHERE name GLOB 'f[0-9]*'")[0].n;
  t.is(funcs, N, 'every function symbol is in the index');
});

test('a 100,000-deep DIE tree is walked without recursion: the function at the bottom gets its decl line', async (t) => {
  const dir = scratch(t);
  const DEPTH = 100_000;
  const DECL_LINE = 4242;
  // A unit: compile_unit > lexical_block x DEPTH > subprogram `deep` (low_pc, high_pc, decl_line).
  const asm = `
  .text
  .globl deep
  .type deep,@function
deep: ret
  .size deep,1
  .section .debug_abbrev,"",@progbits
abbrev:
  .uleb128 1; .uleb128 0x11; .byte 1          # DW_TAG_compile_unit, children
  .uleb128 0x03; .uleb128 0x08                # DW_AT_name DW_FORM_string
  .byte 0, 0
  .uleb128 2; .uleb128 0x0b; .byte 1          # DW_TAG_lexical_block, children
  .byte 0, 0
  .uleb128 3; .uleb128 0x2e; .byte 0          # DW_TAG_subprogram, no children
  .uleb128 0x03; .uleb128 0x08                # DW_AT_name DW_FORM_string
  .uleb128 0x11; .uleb128 0x01                # DW_AT_low_pc DW_FORM_addr
  .uleb128 0x12; .uleb128 0x07                # DW_AT_high_pc DW_FORM_data8
  .uleb128 0x3b; .uleb128 0x05                # DW_AT_decl_line DW_FORM_data2
  .byte 0, 0
  .byte 0
  .section .debug_info,"",@progbits
  .long end - start
start:
  .short 4
  .long abbrev
  .byte 8
  .uleb128 1; .asciz "deep.c"
  .rept ${DEPTH}
  .uleb128 2
  .endr
  .uleb128 3; .asciz "deep"; .quad deep; .quad 1; .short ${DECL_LINE}
  .rept ${DEPTH + 1}
  .byte 0
  .endr
end:
`;
  const src = join(dir, 'deep.s');
  writeFileSync(src, asm);
  const file = join(dir, 'deep.ko');
  execFileSync('as', ['--64', '-o', file, src]);
  const { r, db } = await index(t, dir, file);
  t.is(r.status, 0, r.stderr);
  const site = queryIndex<{ decl_line: number | null }>(db,
    "SELECT st.decl_line FROM sites st JOIN symbols s ON s.object_id = st.object_id AND s.idx = st.idx WHERE s.name = 'deep'");
  t.deepEqual(site, [{ decl_line: DECL_LINE }]);
});
