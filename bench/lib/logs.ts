/** What the services complained about during the run: warn/error/fatal lines of their JSON logs, grouped by message. */
import { readFileSync } from 'node:fs';

export interface LogComplaint {
  level: string;
  msg: string;
  count: number;
}

export function complaints(file: string): LogComplaint[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const byKey = new Map<string, LogComplaint>();
  for (const line of text.split('\n')) {
    if (!line.includes('"level":"warn"') && !line.includes('"level":"error"') && !line.includes('"level":"fatal"')) continue;
    try {
      const entry = JSON.parse(line) as { level: string; msg?: string };
      const key = `${entry.level}\u0000${entry.msg ?? ''}`;
      const seen = byKey.get(key) ?? { level: entry.level, msg: entry.msg ?? '', count: 0 };
      seen.count++;
      byKey.set(key, seen);
    } catch {
      // not a JSON line
    }
  }
  return [...byKey.values()].sort((a, b) => b.count - a.count);
}
