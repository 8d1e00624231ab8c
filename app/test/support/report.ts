import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Where tests write the figures they measured (never to the console): build/test-reports/<name>.json. */
export const REPORT_DIR = path.resolve(__dirname, '../../../build/test-reports');

export function writeReport(name: string, figures: Record<string, unknown>): string {
  mkdirSync(REPORT_DIR, { recursive: true });
  const file = path.join(REPORT_DIR, `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ measuredAt: new Date().toISOString(), ...figures }, null, 2)}\n`);
  return file;
}
