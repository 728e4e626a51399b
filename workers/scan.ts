// piscina entry point: one task = one object path; the work itself lives in src/scan.
import { scanObject } from '../src/scan/scan-object.js';
import type { ScannedObject } from '../src/scan/result.js';

export default function scan(path: string): Promise<ScannedObject> {
  return scanObject(path);
}
