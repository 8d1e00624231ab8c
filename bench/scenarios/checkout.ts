/**
 * 9. Checkout through the payments saga: `connections` users, each with its own token, in a closed
 * loop: hold one seat of a paid event (`POST /events/:id/bookings`), pay it (`POST
 * /bookings/:id/pay`, `pm_card_visa`, an Idempotency-Key), and wait until the saga has confirmed
 * it (api → outbox → RabbitMQ → payments role → the local Stripe-compatible server at its fixed
 * latency → payments outbox → RabbitMQ → worker → `confirmed`) before the next checkout.
 * Confirmation is watched in the database (one query every few ms for every booking in flight,
 * no GET polling load on the api). Hold-to-confirmed = from sending the hold request to the
 * booking's `paid_at` (set by the confirming transaction; same machine clock). CPU per checkout
 * of the api, the payments role and the worker from /proc/<pid>/stat.
 */
import type { Pool } from 'pg';
import type { BenchContext } from '../lib/context';
import { cpuMeter, perRequestUs } from '../lib/cpu';
import { seedEvent } from '../lib/database';
import { progress } from '../lib/progress';
import type { ServiceProcess } from '../lib/services';
import { rate, summarize, type LatencySummary } from '../lib/stats';

export interface CheckoutResult {
  checkouts: number;
  connections: number;
  /** The local provider's fixed latency per request. */
  providerLatencyMs: number;
  confirmed: number;
  /** Bookings that ended in another state, or were not confirmed within the timeout. */
  failed: Record<string, number>;
  checkoutsPerSecond: number;
  /** hold request sent → paid_at of the confirmation */
  holdToConfirmed: LatencySummary;
  /** pay answered (202) → paid_at */
  payToConfirmed: LatencySummary;
  holdLatency: LatencySummary;
  payLatency: LatencySummary;
  cpuPerCheckoutUs: { api: number; payments: number; worker: number; apiPlusPayments: number };
  problems: string[];
  eventId: string;
}

const CONFIRM_TIMEOUT_MS = 30_000;
const WATCH_EVERY_MS = 5;

interface Settled {
  status: string;
  paidMs: number | null;
}

/** Resolves each booking once it has left payment_pending, from one query over every booking waited for. */
class ConfirmationWatcher {
  private readonly waiting = new Map<string, (settled: Settled) => void>();
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly pool: Pool) {
    this.loop = this.run();
  }

  wait(bookingId: string): Promise<Settled> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(bookingId);
        resolve({ status: 'timeout', paidMs: null });
      }, CONFIRM_TIMEOUT_MS);
      this.waiting.set(bookingId, (settled) => {
        clearTimeout(timer);
        resolve(settled);
      });
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.waiting.size > 0) {
        const rows = await this.pool
          .query<{ id: string; status: string; paid_ms: string | null }>(
            `SELECT id, status, extract(epoch FROM paid_at) * 1000 AS paid_ms FROM bookings WHERE id = ANY($1::uuid[]) AND status <> 'payment_pending'`,
            [[...this.waiting.keys()]],
          )
          .then(
            (result) => result.rows,
            () => [], // a failed look is retried on the next turn; a booking never seen times out
          );
        for (const row of rows) {
          const resolve = this.waiting.get(row.id);
          this.waiting.delete(row.id);
          resolve?.({ status: row.status, paidMs: row.paid_ms === null ? null : Number(row.paid_ms) });
        }
      }
      await new Promise((resolve) => setTimeout(resolve, WATCH_EVERY_MS));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

async function post(
  url: string,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: { id?: string } }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as { id?: string }) : {} };
}

export async function checkout(ctx: BenchContext, payments: ServiceProcess, providerLatencyMs: number): Promise<CheckoutResult> {
  const count = ctx.options.sizes.checkouts;
  const connections = ctx.options.connections;
  const event = await seedEvent(ctx.db.pool, ctx.organizerId, 'Checkout (payments saga)', count, 4_500);
  progress.step(
    `checkout: ${count.toLocaleString('en-US')} hold → pay → confirmed, ${connections} connections (each its own user), provider latency ${providerLatencyMs} ms`,
  );

  // a few warm-up checkouts on an event of their own (JIT, pools, the payments role's first Stripe connection)
  const warm = await seedEvent(ctx.db.pool, ctx.organizerId, 'Checkout warm-up', connections, 4_500);
  const watcher = new ConfirmationWatcher(ctx.db.pool);
  const problems: string[] = [];
  const failed: Record<string, number> = {};
  const holdToConfirmed: number[] = [];
  const payToConfirmed: number[] = [];
  const holdLatency: number[] = [];
  const payLatency: number[] = [];
  let confirmed = 0;
  let lastConfirmedAt = 0;
  const one = async (eventId: string, lane: number, record: boolean) => {
    const token = ctx.users[lane % ctx.users.length]!.token;
    const sentAt = Date.now();
    const t0 = performance.now();
    const hold = await post(`${ctx.apiBase}/events/${eventId}/bookings`, token, { quantity: 1 });
    const t1 = performance.now();
    if (hold.status !== 201 || !hold.body.id) {
      failed[`hold ${hold.status}`] = (failed[`hold ${hold.status}`] ?? 0) + 1;
      return;
    }
    const id = hold.body.id;
    const pay = await post(
      `${ctx.apiBase}/bookings/${id}/pay`,
      token,
      { paymentMethod: 'pm_card_visa' },
      { 'idempotency-key': `bench-pay-${id}` },
    );
    const t2 = performance.now();
    const paidAnsweredAt = Date.now();
    if (pay.status !== 202) {
      failed[`pay ${pay.status}`] = (failed[`pay ${pay.status}`] ?? 0) + 1;
      return;
    }
    const settled = await watcher.wait(id);
    if (!record) return;
    holdLatency.push(t1 - t0);
    payLatency.push(t2 - t1);
    if (settled.status !== 'confirmed' || settled.paidMs === null) {
      failed[settled.status] = (failed[settled.status] ?? 0) + 1;
      return;
    }
    confirmed++;
    lastConfirmedAt = performance.now();
    holdToConfirmed.push(settled.paidMs - sentAt);
    payToConfirmed.push(settled.paidMs - paidAnsweredAt);
  };

  await Promise.all(Array.from({ length: connections }, (_, lane) => one(warm.id, lane, false)));
  const meters = { api: cpuMeter(ctx.api.pid), payments: cpuMeter(payments.pid), worker: cpuMeter(ctx.worker.pid) };
  let issued = 0;
  const started = performance.now();
  const ticker = setInterval(() => progress.live(`checkout: ${confirmed}/${count} confirmed`), 1_000);
  try {
    await Promise.all(
      Array.from({ length: connections }, async (_, lane) => {
        while (issued < count) {
          issued++;
          await one(event.id, lane, true);
        }
      }),
    );
  } finally {
    clearInterval(ticker);
    progress.done();
    await watcher.stop();
  }
  const cpu = { api: meters.api.stop(), payments: meters.payments.stop(), worker: meters.worker.stop() };
  if (confirmed !== count)
    problems.push(
      `checkout: ${confirmed} of ${count} checkouts confirmed (${Object.entries(failed)
        .map(([k, v]) => `${v}× ${k}`)
        .join(', ')})`,
    );
  const { rows } = await ctx.db.pool.query<{ available: number; n: number }>(
    `SELECT available, (SELECT count(*)::int FROM bookings WHERE event_id = $1 AND status = 'confirmed' AND payment_id IS NOT NULL) AS n FROM events WHERE id = $1`,
    [event.id],
  );
  if (rows[0]!.n !== confirmed || rows[0]!.available !== count - confirmed) {
    problems.push(
      `checkout: the event has ${rows[0]!.n} paid confirmed bookings and ${rows[0]!.available} seats left after ${confirmed} confirmed checkouts of ${count}`,
    );
  }

  const result: CheckoutResult = {
    checkouts: count,
    connections,
    providerLatencyMs,
    confirmed,
    failed,
    checkoutsPerSecond: rate(confirmed, lastConfirmedAt - started),
    holdToConfirmed: summarize(holdToConfirmed),
    payToConfirmed: summarize(payToConfirmed),
    holdLatency: summarize(holdLatency),
    payLatency: summarize(payLatency),
    cpuPerCheckoutUs: {
      api: perRequestUs(cpu.api, confirmed),
      payments: perRequestUs(cpu.payments, confirmed),
      worker: perRequestUs(cpu.worker, confirmed),
      apiPlusPayments: perRequestUs(cpu.api + cpu.payments, confirmed),
    },
    problems,
    eventId: event.id,
  };
  progress.info(
    `checkout: ${result.checkoutsPerSecond.toFixed(0)} checkouts/s, hold → confirmed p50 ${result.holdToConfirmed.p50.toFixed(0)} ms, p99 ${result.holdToConfirmed.p99.toFixed(0)} ms; CPU per checkout api ${result.cpuPerCheckoutUs.api.toFixed(0)} µs + payments ${result.cpuPerCheckoutUs.payments.toFixed(0)} µs (worker ${result.cpuPerCheckoutUs.worker.toFixed(0)} µs)`,
  );
  return result;
}
