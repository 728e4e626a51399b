// piscina entry points: thin wrappers, the work itself lives in src/scan.
import { readBuildId } from '../src/scan/build-id.js';
import { scanObject } from '../src/scan/scan-object.js';
import type { ScanTask, ScannedObject } from '../src/scan/result.js';

export default function scan(task: ScanTask): Promise<ScannedObject> {
  return scanObject(task.path, task.rules);
}

export function buildId(path: string): Promise<string | null> {
  return readBuildId(path);
}
