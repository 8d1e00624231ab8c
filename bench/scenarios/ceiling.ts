/** 2. The database ceiling: pgbench at the same concurrency against the same PostgreSQL and schema. */
import type { BenchContext } from '../lib/context';
import { freeConnectionSlots, seedEvent } from '../lib/database';
import { naiveScript, runPgbench, singleStatementScript, type PgbenchResult } from '../lib/pgbench';
import { progress } from '../lib/progress';

export interface CeilingResult {
  naive: PgbenchResult;
  single: PgbenchResult;
  /** clients actually used (fewer than the connections when the server had no free slots) */
  clients: number;
  problems: string[];
}

/** Capacity no pgbench run can exhaust: every transaction is a booking, never a refusal. */
const UNSOLDABLE = 100_000_000;

export async function ceiling(ctx: BenchContext): Promise<CeilingResult> {
  const seconds = ctx.options.sizes.pgbenchSeconds;
  const free = await freeConnectionSlots(ctx.db.pool);
  const clients = Math.max(1, Math.min(ctx.options.connections, free - 6));
  if (clients < ctx.options.connections) {
    progress.warn(
      `only ${free} free PostgreSQL connection slots (other work is using the server): pgbench runs ${clients} clients instead of ${ctx.options.connections}`,
    );
  }
  const problems: string[] = [];
  const runs: PgbenchResult[] = [];
  for (const [name, script] of [
    ['naive', naiveScript()],
    ['single', singleStatementScript()],
  ] as const) {
    const event = await seedEvent(ctx.db.pool, ctx.organizerId, `pgbench ${name} (benchmark)`, UNSOLDABLE);
    progress.step(
      `pgbench ${name === 'naive' ? '(a) naive BEGIN; SELECT … FOR UPDATE; UPDATE; INSERT; INSERT; COMMIT' : '(b) the service RESERVE_SQL, one statement'}: ${clients} clients, ${seconds}s`,
    );
    const result = await runPgbench({
      binary: ctx.pgbench,
      databaseUrl: ctx.db.url,
      name,
      script,
      clients,
      seconds,
      vars: { eid: event.id, uid: ctx.users[0]!.id, qty: '1', hold: '3600000' },
    });
    const { rows } = await ctx.db.pool.query<{ bookings: number; taken: number }>(
      `SELECT (SELECT count(*) FROM bookings WHERE event_id = $1)::int AS bookings, (capacity - available) AS taken FROM events WHERE id = $1`,
      [event.id],
    );
    if (result.failed > 0) problems.push(`pgbench ${name}: ${result.failed} failed transactions`);
    if (rows[0]!.bookings !== result.transactions)
      problems.push(`pgbench ${name}: ${result.transactions} transactions but ${rows[0]!.bookings} bookings`);
    if (rows[0]!.taken !== rows[0]!.bookings)
      problems.push(`pgbench ${name}: ${rows[0]!.taken} seats taken for ${rows[0]!.bookings} bookings`);
    progress.info(
      `pgbench ${name}: ${result.tps.toFixed(0)} bookings/s, p50 ${result.latency.p50.toFixed(1)} ms, p99 ${result.latency.p99.toFixed(1)} ms (${result.transactions} transactions)`,
    );
    runs.push(result);
  }
  return { naive: runs[0]!, single: runs[1]!, clients, problems };
}
