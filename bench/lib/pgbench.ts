/** The database's own ceiling: pgbench running the naive booking transaction and the service's single statement. */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RESERVE_SQL } from '../../app/src/adapters/postgres/bookings';
import { BOOKING_EVENT_PAYLOAD } from '../../app/src/adapters/postgres/rows';
import { progress } from './progress';
import { summarize, type LatencySummary } from './stats';

/** `pgbench` on PATH, else the newest PostgreSQL's own copy; null when neither runs. */
export function findPgbench(): string | null {
  const candidates = ['pgbench'];
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    for (const version of versions) candidates.push(`/usr/lib/postgresql/${version}/bin/pgbench`);
  } catch {
    // no Debian PostgreSQL layout
  }
  for (const candidate of candidates) {
    if (candidate.startsWith('/') && !existsSync(candidate)) continue;
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // next
    }
  }
  return null;
}

/**
 * RESERVE_SQL, exactly as the service sends it, with its parameters as pgbench variables:
 * $1 event, $2 user, $3 quantity, $4 hold (ms), $5 booking id (gen_random_uuid(): pgbench has no
 * string generator; the service makes it with randomUUID()), $6/$7 no Idempotency-Key (NULL), $8 no trace
 * context (NULL).
 */
export function singleStatementScript(sql = RESERVE_SQL): string {
  const vars: Record<string, string> = {
    '1': ':eid',
    '2': ':uid',
    '3': ':qty',
    '4': ':hold',
    '5': 'gen_random_uuid()',
    '6': 'NULL',
    '7': 'NULL',
    '8': 'NULL',
  };
  const body = sql.replace(/\$(\d+)/g, (match, n: string) => {
    const replacement = vars[n];
    if (!replacement)
      throw new Error(`RESERVE_SQL has parameter ${match}, which the pgbench script does not map; update bench/lib/pgbench.ts`);
    return replacement;
  });
  // pgbench (10+) reads a SQL command up to its terminating semicolon, across lines
  return `${body.trim()};\n`;
}

/** The textbook version: lock the row, check, decrement, insert the booking, insert its outbox row. One round trip each. */
export function naiveScript(): string {
  return [
    'BEGIN;',
    'SELECT available, price_cents FROM events WHERE id = :eid AND deleted_at IS NULL AND ends_at > now() FOR UPDATE \\gset',
    '\\if :available >= :qty',
    'UPDATE events SET available = available - :qty, updated_at = now() WHERE id = :eid;',
    '\\set amount :price_cents * :qty',
    `INSERT INTO bookings (id, event_id, user_id, quantity, amount_cents, status, expires_at) VALUES (gen_random_uuid(), :eid, :uid, :qty, :amount, 'pending', now() + make_interval(secs => :hold::double precision / 1000)) RETURNING id, ${BOOKING_EVENT_PAYLOAD('bookings').replace(/\s*\n\s*/g, ' ')} AS payload \\gset b_`,
    "INSERT INTO outbox (aggregate_type, aggregate_id, type, payload) VALUES ('booking', :b_id, 'booking.created', :b_payload);",
    '\\endif',
    'COMMIT;',
    '',
  ].join('\n');
}

export interface PgbenchResult {
  name: string;
  clients: number;
  seconds: number;
  transactions: number;
  tps: number;
  failed: number;
  latency: LatencySummary;
}

export interface PgbenchRun {
  binary: string;
  databaseUrl: string;
  name: string;
  script: string;
  clients: number;
  seconds: number;
  vars: Record<string, string>;
}

/** Runs one pgbench script (-M prepared, per-transaction log for percentiles) and parses its summary. */
export async function runPgbench(run: PgbenchRun): Promise<PgbenchResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'goticket-pgbench-'));
  try {
    const file = path.join(dir, `${run.name}.sql`);
    writeFileSync(file, run.script);
    const url = new URL(run.databaseUrl);
    const args = [
      '-n', // no vacuum of pgbench's own tables (there are none)
      '-M',
      'prepared',
      '-c',
      String(run.clients),
      '-j',
      '2',
      '-T',
      String(run.seconds),
      '-P',
      '1',
      '-l',
      '--log-prefix',
      path.join(dir, 'tx'),
      '-f',
      file,
      '-h',
      url.hostname,
      '-p',
      url.port || '5432',
      '-U',
      decodeURIComponent(url.username || 'postgres'),
      ...Object.entries(run.vars).flatMap(([key, value]) => ['-D', `${key}=${value}`]),
      url.pathname.slice(1),
    ];
    const child = spawn(run.binary, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PGAPPNAME: `goticket-bench-${run.name}` },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const line = chunk.toString().trim().split('\n').pop() ?? '';
      if (line.startsWith('progress:')) progress.live(`pgbench ${run.name}: ${line.slice('progress: '.length)}`);
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    progress.done();
    if (code !== 0) {
      const errors = stderr.split('\n').filter((l) => !l.startsWith('progress:'));
      throw new Error(
        `pgbench ${run.name} exited with ${code}:\n${errors.slice(0, 12).join('\n')}${errors.length > 12 ? `\n… ${errors.length - 12} more lines` : ''}`,
      );
    }
    const number = (pattern: RegExp) => Number(pattern.exec(stdout)?.[1] ?? Number.NaN);
    const transactions = number(/number of transactions actually processed: (\d+)/);
    const failed = number(/number of failed transactions: (\d+)/);
    const tps = number(/tps = ([\d.]+) \(without initial connection time\)/);
    // per-transaction log lines: client_id transaction_no latency_us script_no epoch_s epoch_us
    const latencies: number[] = [];
    for (const log of readdirSync(dir).filter((f) => f.startsWith('tx.'))) {
      for (const line of readFileSync(path.join(dir, log), 'utf8').split('\n')) {
        const us = Number(line.split(' ')[2]);
        if (Number.isFinite(us) && line) latencies.push(us / 1000);
      }
    }
    return {
      name: run.name,
      clients: run.clients,
      seconds: run.seconds,
      transactions,
      tps,
      failed: Number.isNaN(failed) ? 0 : failed,
      latency: summarize(latencies),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
