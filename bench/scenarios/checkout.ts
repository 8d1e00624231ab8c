/**
 * 9. Checkout through the payments saga: `connections` users, each with its own token, in a closed
 * loop: hold one seat of a paid event (`POST /events/:id/bookings`), pay it (`POST
 * /bookings/:id/pay`, `pm_card_visa`, an Idempotency-Key), and wait until the saga has confirmed
 * it (api → outbox → RabbitMQ → payments role → the local Stripe-compatible server at its fixed
 * latency → payments outbox → RabbitMQ → worker → `confirmed`) before the next checkout.
 * Confirmation is watched in the database (one query every few ms for every booking in flight,
 * no GET polling load on the api). Hold-to-confirmed = from sending the hold request to the
 * booking's `paid_at` (set by the confirming transaction; same machine clock). CPU per checkout
 * of the api, the payments role and the worker from /proc/<pid>/stat. By Little's law the closed
 * loop's latency is connections ÷ its rate (queue depth), so `checkoutOpenLoop` follows it: the
 * same checkouts started on a fixed schedule at half that rate, where the p99 target is judged.
 */
import type { Pool } from 'pg';
import type { BenchContext } from '../lib/context';
import { cpuMeter, perRequestUs } from '../lib/cpu';
import { seedEvent } from '../lib/database';
import { progress } from '../lib/progress';
import type { ServiceProcess } from '../lib/services';
import { runOnSchedule, schedule, tailLatency, type ScheduleRun, type TailLatency } from '../lib/schedule';
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

type Outcome =
  | { kind: 'request'; failure: string }
  | { kind: 'settled'; status: string; holdMs: number; payMs: number }
  | { kind: 'confirmed'; holdMs: number; payMs: number; confirmedMs: number; payToConfirmedMs: number };

/**
 * One checkout by user `lane`: hold one seat, pay it, wait for the saga. `fromWall` (Date.now()
 * clock) is what hold-to-confirmed is measured from: the hold's send time in the closed loop, its
 * scheduled time in the open loop.
 */
async function checkoutOnce(
  ctx: BenchContext,
  watcher: ConfirmationWatcher,
  eventId: string,
  lane: number,
  fromWall: number,
): Promise<Outcome> {
  const token = ctx.users[lane % ctx.users.length]!.token;
  const t0 = performance.now();
  const hold = await post(`${ctx.apiBase}/events/${eventId}/bookings`, token, { quantity: 1 });
  const t1 = performance.now();
  if (hold.status !== 201 || !hold.body.id) return { kind: 'request', failure: `hold ${hold.status}` };
  const id = hold.body.id;
  const pay = await post(
    `${ctx.apiBase}/bookings/${id}/pay`,
    token,
    { paymentMethod: 'pm_card_visa' },
    { 'idempotency-key': `bench-pay-${id}` },
  );
  const t2 = performance.now();
  const paidAnsweredAt = Date.now();
  if (pay.status !== 202) return { kind: 'request', failure: `pay ${pay.status}` };
  const settled = await watcher.wait(id);
  if (settled.status !== 'confirmed' || settled.paidMs === null)
    return { kind: 'settled', status: settled.status, holdMs: t1 - t0, payMs: t2 - t1 };
  return {
    kind: 'confirmed',
    holdMs: t1 - t0,
    payMs: t2 - t1,
    confirmedMs: settled.paidMs - fromWall,
    payToConfirmedMs: settled.paidMs - paidAnsweredAt,
  };
}

/** The event sold exactly the confirmed checkouts, each paid, and has the rest of its seats. */
async function checkEvent(pool: Pool, label: string, eventId: string, seats: number, confirmed: number, problems: string[]): Promise<void> {
  const { rows } = await pool.query<{ available: number; n: number }>(
    `SELECT available, (SELECT count(*)::int FROM bookings WHERE event_id = $1 AND status = 'confirmed' AND payment_id IS NOT NULL) AS n FROM events WHERE id = $1`,
    [eventId],
  );
  if (rows[0]!.n !== confirmed || rows[0]!.available !== seats - confirmed) {
    problems.push(
      `${label}: the event has ${rows[0]!.n} paid confirmed bookings and ${rows[0]!.available} seats left after ${confirmed} confirmed checkouts of ${seats}`,
    );
  }
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
    const outcome = await checkoutOnce(ctx, watcher, eventId, lane, Date.now());
    if (!record && outcome.kind !== 'request') return;
    if (outcome.kind === 'request') {
      failed[outcome.failure] = (failed[outcome.failure] ?? 0) + 1;
      return;
    }
    holdLatency.push(outcome.holdMs);
    payLatency.push(outcome.payMs);
    if (outcome.kind === 'settled') {
      failed[outcome.status] = (failed[outcome.status] ?? 0) + 1;
      return;
    }
    confirmed++;
    lastConfirmedAt = performance.now();
    holdToConfirmed.push(outcome.confirmedMs);
    payToConfirmed.push(outcome.payToConfirmedMs);
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
  await checkEvent(ctx.db.pool, 'checkout', event.id, count, confirmed, problems);

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

export interface CheckoutOpenLoopResult {
  /** Share of the closed-loop checkout rate. */
  share: number;
  closedLoopRate: number;
  seconds: number;
  targetRate: number;
  scheduled: number;
  confirmed: number;
  failed: Record<string, number>;
  /** Confirmed checkouts ÷ time from time 0 of the schedule to the last settled checkout. */
  achievedRate: number;
  /** Scheduled start of the checkout (its hold) → paid_at of the confirmation, ms. */
  holdToConfirmed: TailLatency;
  /** Most checkouts open at once (a growing number: the saga fell behind). */
  maxInFlight: number;
  cpuPerCheckoutUs: { api: number; payments: number; worker: number; apiPlusPayments: number };
  problems: string[];
}

/**
 * The open-loop level of scenario 9, right after the closed loop: checkouts start on a fixed
 * schedule at `share` of the closed-loop checkout rate (as buyers arrive: nobody waits for the
 * previous buyer's confirmation), the users in turn, for `openLoopSeconds`; hold-to-confirmed is
 * measured from each checkout's *scheduled* start, so a saga that falls behind cannot hide its
 * queue (no coordinated omission). The issue's p99 target is evaluated here: a closed loop of 64
 * connections only measures queue depth (64 ÷ its rate, by Little's law).
 */
export async function checkoutOpenLoop(
  ctx: BenchContext,
  payments: ServiceProcess,
  closedLoopRate: number,
  share = 0.5,
): Promise<CheckoutOpenLoopResult> {
  if (!(closedLoopRate > 0)) throw new Error(`checkout open loop: no closed-loop checkout rate to scale from (${closedLoopRate})`);
  const seconds = ctx.options.sizes.openLoopSeconds;
  const targetRate = Math.max(1, closedLoopRate * share);
  const times = schedule(targetRate, seconds);
  const label = `checkout open loop ${Math.round(share * 100)}%`;
  const event = await seedEvent(
    ctx.db.pool,
    ctx.organizerId,
    `Checkout open loop ${Math.round(share * 100)}% (payments saga)`,
    times.length,
    4_500,
  );
  progress.step(
    `${label}: ${targetRate.toFixed(1)} checkouts/s on a fixed schedule for ${seconds}s (${times.length} checkouts, ${ctx.options.connections} users in turn)`,
  );
  const watcher = new ConfirmationWatcher(ctx.db.pool);
  const failed: Record<string, number> = {};
  const holdToConfirmed: number[] = [];
  let confirmed = 0;
  const meters = { api: cpuMeter(ctx.api.pid), payments: cpuMeter(payments.pid), worker: cpuMeter(ctx.worker.pid) };
  const ticker = setInterval(() => progress.live(`${label}: ${confirmed}/${times.length} confirmed`), 1_000);
  let run: ScheduleRun;
  try {
    run = await runOnSchedule(times, async (i, _scheduledAt, scheduledAtWall) => {
      // from the scheduled start on the Date.now() clock: paid_at is written by the worker on the same machine clock
      const outcome = await checkoutOnce(ctx, watcher, event.id, i % ctx.options.connections, scheduledAtWall);
      if (outcome.kind === 'confirmed') {
        confirmed++;
        holdToConfirmed.push(outcome.confirmedMs);
      } else {
        const key = outcome.kind === 'request' ? outcome.failure : outcome.status;
        failed[key] = (failed[key] ?? 0) + 1;
      }
    });
  } finally {
    clearInterval(ticker);
    progress.done();
    await watcher.stop();
  }
  const cpu = { api: meters.api.stop(), payments: meters.payments.stop(), worker: meters.worker.stop() };
  const problems: string[] = [];
  if (confirmed !== times.length)
    problems.push(
      `${label}: ${confirmed} of ${times.length} checkouts confirmed (${Object.entries(failed)
        .map(([k, v]) => `${v}× ${k}`)
        .join(', ')})`,
    );
  await checkEvent(ctx.db.pool, label, event.id, times.length, confirmed, problems);
  const result: CheckoutOpenLoopResult = {
    share,
    closedLoopRate,
    seconds,
    targetRate,
    scheduled: times.length,
    confirmed,
    failed,
    achievedRate: rate(confirmed, run.lastDoneAt - run.startedAt),
    holdToConfirmed: tailLatency(holdToConfirmed),
    maxInFlight: run.maxInFlight,
    cpuPerCheckoutUs: {
      api: perRequestUs(cpu.api, confirmed),
      payments: perRequestUs(cpu.payments, confirmed),
      worker: perRequestUs(cpu.worker, confirmed),
      apiPlusPayments: perRequestUs(cpu.api + cpu.payments, confirmed),
    },
    problems,
  };
  const l = result.holdToConfirmed;
  progress.info(
    `${label}: target ${targetRate.toFixed(1)}/s, achieved ${result.achievedRate.toFixed(1)}/s, hold → confirmed from the schedule p50 ${l.p50.toFixed(0)} / p99 ${l.p99.toFixed(0)} / p99.9 ${l.p999.toFixed(0)} ms, ` +
      `max ${run.maxInFlight} in flight; CPU per checkout api ${result.cpuPerCheckoutUs.api.toFixed(0)} µs + payments ${result.cpuPerCheckoutUs.payments.toFixed(0)} µs`,
  );
  return result;
}
