/** 5. Confirm-to-notification latency: from the confirm response to the notifier's row (api → outbox → relay → RabbitMQ → notifier). */
import { callApi, mapConcurrent, type BenchContext } from '../lib/context';
import { progress } from '../lib/progress';
import { rate, summarize, type LatencySummary } from '../lib/stats';

export interface NotifyResult {
  confirms: number;
  concurrency: number;
  confirmsPerSecond: number;
  confirmLatency: LatencySummary;
  /** confirm response → notifications.created_at (the row) */
  toRow: LatencySummary;
  /** confirm response → notifications.sent_at (mail handed over) */
  toSent: LatencySummary;
  problems: string[];
}

export async function notify(ctx: BenchContext, stampedeEventId: string): Promise<NotifyResult> {
  const count = ctx.options.sizes.confirms;
  const concurrency = ctx.options.connections;
  const tokens = new Map(ctx.users.map((user) => [user.id, user.token]));
  const { rows: holds } = await ctx.db.pool.query<{ id: string; user_id: string }>(
    `SELECT id, user_id FROM bookings WHERE event_id = $1 AND status = 'pending' ORDER BY created_at LIMIT $2`,
    [stampedeEventId, count],
  );
  if (holds.length < count) throw new Error(`notifications: only ${holds.length} pending holds to confirm, need ${count}`);
  progress.step(
    `notifications: confirming ${count.toLocaleString('en-US')} holds, ${concurrency} at a time, timing each until its notification row appears`,
  );

  const answeredAt = new Map<string, number>();
  const confirmLatencies: number[] = [];
  let done = 0;
  const ticker = setInterval(() => progress.live(`notifications: ${done}/${count} confirmed`), 1_000);
  const started = performance.now();
  try {
    await mapConcurrent(holds, concurrency, async (hold) => {
      const t0 = performance.now();
      const reply = await callApi(`${ctx.apiBase}/bookings/${hold.id}/confirm`, {
        method: 'POST',
        token: tokens.get(hold.user_id)!,
        expect: [200],
      });
      confirmLatencies.push(performance.now() - t0);
      answeredAt.set(hold.id, reply.at);
      done++;
    });
  } finally {
    clearInterval(ticker);
    progress.done();
  }
  const elapsedMs = performance.now() - started;

  // wait for every notification row (the invariant check afterwards insists on exactly one each)
  const ids = [...answeredAt.keys()];
  const deadline = Date.now() + 60_000;
  const fetchRows = async () =>
    (
      await ctx.db.pool.query<{ booking_id: string; created_ms: number; sent_ms: number | null }>(
        `SELECT booking_id, extract(epoch FROM created_at) * 1000 AS created_ms, extract(epoch FROM sent_at) * 1000 AS sent_ms
           FROM notifications WHERE type = 'booking.confirmed' AND booking_id = ANY($1::uuid[])`,
        [ids],
      )
    ).rows;
  let rows = await fetchRows();
  while (!(rows.length >= ids.length && rows.every((row) => row.sent_ms !== null)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    rows = await fetchRows();
  }
  const problems: string[] = [];
  if (rows.length < ids.length)
    problems.push(`notifications: ${ids.length - rows.length} of ${ids.length} confirmed bookings have no notification row after 60 s`);
  const toRow: number[] = [];
  const toSent: number[] = [];
  for (const row of rows) {
    const at = answeredAt.get(row.booking_id)!;
    toRow.push(Number(row.created_ms) - at);
    if (row.sent_ms !== null) toSent.push(Number(row.sent_ms) - at);
  }
  const result = {
    confirms: count,
    concurrency,
    confirmsPerSecond: rate(count, elapsedMs),
    confirmLatency: summarize(confirmLatencies),
    toRow: summarize(toRow),
    toSent: summarize(toSent),
    problems,
  };
  progress.info(
    `notifications: confirm → row p50 ${result.toRow.p50.toFixed(0)} ms, p99 ${result.toRow.p99.toFixed(0)} ms (confirms at ${result.confirmsPerSecond.toFixed(0)}/s)`,
  );
  return result;
}
