// `node dist/test/bench/catalog-scale.js BASE.db [REAL.db ...] --module LIVEPATCH.ko [--builds 10,50,200]
// [--name NAME] [--runs N]`: the catalogue at hundreds of builds. BASE and the REAL indexes (other real builds)
// are added as they are; synthetic stable releases of BASE then fill it up to each count: build k is BASE with
// vmlinux's build-id made unique and every definition line moved down by k, so every object with a duplicated
// name is new to the catalogue (as from Debian 6.1.0-50 to -56, where 1,063 of 1,122 objects changed) while an
// object without one is shared (its names and counts stay). At each count: the catalogue's size, the time of
// adding the last build, of `catalog sympos NAME` and of `klp check MODULE --catalog` (median of N runs), with
// their CPU seconds and the load. Figures are printed, never asserted.
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openDatabase } from '../../src/io/sqlite.js';
import { type Measure, measure, timed } from './measure.js';

const cli = resolve(new URL('../../../bin/ksymtree.js', import.meta.url).pathname);
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args.splice(at, 2)[1] : undefined;
}

/** Turns the scratch index into synthetic build k: its vmlinux build-id ends in k, every site line one further. */
function nextRelease(scratch: string, baseBuildId: string, k: number): void {
  const db = openDatabase(scratch);
  try {
    db.transaction(() => {
      db.prepare('UPDATE sites SET decl_line = decl_line + 1 WHERE decl_line IS NOT NULL').run();
      db.prepare("UPDATE objects SET build_id = ? WHERE kind = 'vmlinux'").run(`${baseBuildId.slice(0, -8)}${k.toString(16).padStart(8, '0')}`);
    })();
  } finally {
    db.close();
  }
}

const figure = (m: Measure) => `${m.seconds.toFixed(2)} s (CPU ${m.runs.map((r) => r.cpu.toFixed(2)).join('/')})${m.unreliable ? ' UNRELIABLE' : ''}`;

function main(): void {
  const args = process.argv.slice(2);
  const module = option(args, '--module');
  const counts = (option(args, '--builds') ?? '10,50,200').split(',').map(Number).sort((a, b) => a - b);
  const name = option(args, '--name') ?? 'name_show';
  const runs = Math.max(1, Number(option(args, '--runs') ?? 3));
  const [base, ...real] = args.map((a) => resolve(a));
  if (!base || !module) {
    console.error('usage: catalog-scale.js BASE.db [REAL.db ...] --module LIVEPATCH.ko [--builds 10,50,200] [--name NAME] [--runs N]');
    process.exit(2);
  }
  const work = mkdtempSync(join(tmpdir(), 'ksymtree-catalog-scale-'));
  const catalog = join(work, 'catalog.db');
  const scratch = join(work, 'synthetic.db');
  try {
    copyFileSync(base, scratch);
    const source = openDatabase(base, { readonly: true });
    const baseBuildId = source.prepare("SELECT build_id FROM objects WHERE kind = 'vmlinux'").pluck().get() as string;
    source.close();
    const first = timed({ label: 'add real', shell: `node ${q(cli)} catalog add ${q(catalog)} ${[base, ...real].map(q).join(' ')}` });
    console.log(`${1 + real.length} real builds added in ${first.seconds.toFixed(1)} s (CPU ${first.cpu.toFixed(1)} s): ${(statSync(catalog).size / 1e6).toFixed(1)} MB`);
    console.log('| builds | size | per synthetic build | add of the last build | `catalog sympos` | `klp check --catalog` | load (1 min) |');
    console.log('|---|---|---|---|---|---|---|');
    let builds = 1 + real.length;
    const sizeAtReal = statSync(catalog).size;
    let synthetic = 0;
    for (const count of counts) {
      let add: Measure | null = null;
      while (builds < count) {
        nextRelease(scratch, baseBuildId, ++synthetic);
        add = measure([{ label: 'add', shell: `node ${q(cli)} catalog add ${q(catalog)} ${q(scratch)} > /dev/null` }], 1)[0];
        builds++;
      }
      const [sympos, check] = measure([
        { label: 'sympos', shell: `node ${q(cli)} catalog sympos ${name} --catalog ${q(catalog)} > /dev/null` },
        { label: 'klp check', shell: `node ${q(cli)} klp check ${q(module)} --catalog ${q(catalog)} > /dev/null` },
      ], runs);
      const size = statSync(catalog).size;
      console.log(`| ${builds} | ${(size / 1e6).toFixed(1)} MB | ${synthetic ? `${((size - sizeAtReal) / synthetic / 1e6).toFixed(2)} MB` : ''} | ${add ? figure(add) : ''}`
        + ` | ${figure(sympos)} | ${figure(check)} | ${loadavg()[0].toFixed(2)} |`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
