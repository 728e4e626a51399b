/**
 * Module loader hooks (node:module register) for the fuzzer: the compiled parsers under dist/src/ are loaded
 * with branch counters (instrument.ts); everything else, tests and node_modules included, loads unchanged.
 */
import { instrument } from './instrument.js';

interface LoadResult {
  format?: string | null;
  source?: string | ArrayBuffer | Uint8Array;
  shortCircuit?: boolean;
}
type NextLoad = (url: string, context: { format?: string | null }) => Promise<LoadResult>;

const SOURCES = /\/dist\/src\/.+\.js$/;

export async function load(url: string, context: { format?: string | null }, nextLoad: NextLoad): Promise<LoadResult> {
  const loaded = await nextLoad(url, context);
  if (!SOURCES.test(url) || loaded.format !== 'module' || loaded.source === undefined) return loaded;
  const text = typeof loaded.source === 'string' ? loaded.source : Buffer.from(loaded.source as Uint8Array).toString('utf8');
  const moduleId = url.slice(url.lastIndexOf('/dist/src/') + '/dist/'.length);
  return { ...loaded, source: instrument(text, moduleId).code };
}
