// Real-kernel tier for debuginfod (issue 17): Debian's 6.1 and 6.12 cloud-amd64 installed trees and vmlinuz, their
// debug files served by elfutils' debuginfod (`-F` over the corpus's debug tree). The aliases equal byte for byte
// those of `--debug-dir` on the same inputs, and vmlinuz's (from its kallsyms entries and the fetched debug
// vmlinux) equal those the debug tree's own vmlinux gets, in every column but the object and st_size.
import { mkdtempSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { cloudCorpus, vmlinuzOf } from '../helpers/corpus.js';
import { ksymtree } from '../helpers/cli.js';
import { debuginfodMissing, startDebuginfod } from '../helpers/debuginfod-server.js';

const missing = debuginfodMissing();

async function aliasesTsv(db: string): Promise<string> {
  const r = await ksymtree(['aliases', '--db', db, '--format', 'tsv']);
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
}

/** One object's alias rows without the object and size columns, sorted. */
function copiesOf(tsv: string, object: string): string[] {
  return tsv.split('\n').filter((l) => l.startsWith(`${object}\t`)).map((l) => {
    const c = l.split('\t');
    return [...c.slice(2, 7), ...c.slice(8)].join('\t');
  }).sort();
}

for (const series of ['6.1', '6.12']) {
  const c = cloudCorpus(series);
  const vmlinuz = c ? vmlinuzOf(c) : null;
  const reason = !c ? `the Debian ${series} cloud-amd64 corpus is not in ~/.cache/ksymtree-corpus` : !vmlinuz ? `the ${series} corpus has no boot/vmlinuz-*` : missing;
  (reason ? test.skip : test.serial)(`${series} cloud: installed tree + vmlinuz through debuginfod give the --debug-dir aliases byte for byte${reason ? ` [skipped: ${reason}]` : ''}`, async (t) => {
    t.timeout(20 * 60_000, 'two whole-tree indexes, the server\'s scan, 1.3 GB through it');
    const work = mkdtempSync(join(tmpdir(), `ksymtree-debuginfod-real-${series}-`));
    const debugDir = realpathSync(c!.debug);
    try {
      const withDebugDir = await ksymtree(['index', c!.installed, vmlinuz!, '--debug-dir', debugDir, '--db', join(work, 'debug-dir.db'), '--quiet']);
      t.is(withDebugDir.status, 0, withDebugDir.stderr);
      const server = await startDebuginfod(debugDir, 600_000);
      const cache = join(work, 'cache');
      let fetched;
      try {
        fetched = await ksymtree(['index', c!.installed, vmlinuz!, '--db', join(work, 'debuginfod.db'), '--quiet'],
          { env: { DEBUGINFOD_URLS: server.url, DEBUGINFOD_CACHE_PATH: cache } });
      } finally {
        await server.stop();
      }
      t.is(fetched.status, 0, fetched.stderr);
      t.log(fetched.stderr.split('\n').filter((l) => l.includes('debuginfod') || l.includes('indexed')).join('\n'));
      const ids = readdirSync(cache);
      const bytes = ids.reduce((n, id) => n + statSync(join(cache, id, 'debuginfo')).size, 0);
      t.log(`${ids.length} debug files, ${bytes} bytes in the cache`);
      t.regex(fetched.stderr, new RegExp(`: ${ids.length} debug files fetched \\(${(bytes / 1e6).toFixed(1)} MB\\)`));

      const expected = await aliasesTsv(join(work, 'debug-dir.db'));
      const got = await aliasesTsv(join(work, 'debuginfod.db'));
      const debugVmlinux = join(debugDir, 'vmlinux');
      t.true(got.split('\n').length > 10_000);
      t.is(got, expected.split('\n').filter((l) => !l.startsWith(`${debugVmlinux}\t`)).join('\n'));
      const fromImage = copiesOf(got, vmlinuz!);
      t.true(fromImage.length > 5000, `${fromImage.length} vmlinuz aliases`);
      t.deepEqual(fromImage, copiesOf(expected, debugVmlinux));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}
