// Address tables of debug copies, kept beside the index (`INDEX.tables/BUILD-ID.addr`): opened when they match
// the copy's build-id and size, else built from its DWARF and written through a temporary file and a rename.
import { closeSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AddressTable, AddressTableError, type TableIdentity } from '../dwarf/address-table.js';
import { buildAddressTable } from '../dwarf/address-table-build.js';
import { Dwarf } from '../dwarf/dwarf.js';
import { DwarfFile } from '../dwarf/dwarf-file.js';
import { UnitAddressIndex } from '../dwarf/unit-index.js';
import { ET_REL } from '../elf/constants.js';
import { readBuildId } from '../scan/build-id.js';
import { openObject } from '../sites/object.js';

/** Where the tables of an index live. */
export const tableDir = (indexPath: string): string => `${indexPath}.tables`;

/** A debug copy's table file and what the table must match. */
export interface TablePlace {
  readonly file: string;
  readonly identity: TableIdentity;
}

/** Where the table of the debug copy at `debugPath` goes; null when the copy has no build-id (no table then). */
export async function tablePlace(dir: string, debugPath: string): Promise<TablePlace | null> {
  const buildId = await readBuildId(debugPath);
  if (!buildId) return null;
  return { file: join(dir, `${buildId}.addr`), identity: { buildId, size: statSync(debugPath).size } };
}

/**
 * The table at `place` when it is current; null when missing, stale (another build-id or size: it is then
 * rebuilt) or damaged (AddressTableError: rebuilt too, never trusted).
 */
export function openTable(place: TablePlace): AddressTable | null {
  try {
    return AddressTable.open(place.file, place.identity);
  } catch (e) {
    if (e instanceof AddressTableError) return null;
    throw e;
  }
}

/** Removes a table found damaged while reading it: the next run builds it again. */
export function dropTable(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone (another run dropped it).
  }
}

const ignore = () => {};

/** What a worker thread is asked to build: the table of the debug copy at `path`. */
export interface TableTask {
  readonly path: string;
  readonly place: TablePlace;
}

/**
 * Builds the table of the debug copy at `debugPath` into `place.file`: written to a temporary file first and
 * renamed, so an interrupted write leaves no table. Returns why it could not, or null.
 */
export async function writeTable(debugPath: string, place: TablePlace): Promise<string | null> {
  let obj: Awaited<ReturnType<typeof openObject>> | null = null;
  let file: DwarfFile | null = null;
  let fd: number | null = null;
  const temp = `${place.file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    // The file first: a directory that cannot be written costs no build.
    mkdirSync(join(place.file, '..'), { recursive: true });
    fd = openSync(temp, 'w');
    obj = await openObject(debugPath);
    file = new DwarfFile(obj.src, obj.h, obj.sections, obj.symtab, ignore);
    const dwarf = new Dwarf(file);
    if (!dwarf.info) throw new Error('no .debug_info');
    const sections = obj.sections.map((s): [string, number] => [s.name, s.index]);
    const chunks = buildAddressTable(dwarf, new UnitAddressIndex(dwarf, ignore, false),
      { ...place.identity, relocatable: obj.h.type === ET_REL, sections });
    for (const c of chunks) for (let at = 0; at < c.length;) at += writeSync(fd, c, at);
    closeSync(fd);
    fd = null;
    renameSync(temp, place.file);
    return null;
  } catch (e) {
    if (fd !== null) closeSync(fd);
    dropTable(temp);
    return `${debugPath}: no address table: ${(e as Error).message}`;
  } finally {
    file?.close();
    obj?.close();
  }
}
