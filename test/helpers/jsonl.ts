import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './server.ts';

/** The records of a JSON-lines file; none when it does not exist yet. */
export function readJsonLines<T>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

/** PM2 bus events recorded for one scenario (test/fixtures/pm2/<file>), in the logger's event shape. */
export function busTrace(scenario: string, file = 'bus-samples.jsonl'): Array<{ type: string; data: any }> {
  return readJsonLines<{ scenario: string; event: string; data: any }>(path.join(ROOT, 'test/fixtures/pm2', file))
    .filter((e) => e.scenario === scenario)
    .map((e) => ({ type: e.event, data: e.data }));
}
