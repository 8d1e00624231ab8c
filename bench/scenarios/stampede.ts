/** 1 + 6. The stampede: 64 signed-in users book one event until it sells out, then keep trying; api RSS sampled throughout. */
import { seedEvent } from '../lib/database';
import type { BenchContext } from '../lib/context';
import { runLoad, type Samples } from '../lib/load';
import { progress } from '../lib/progress';
import { memoryOf, sampleRss } from '../lib/services';
import { rate, summarize, type LatencySummary } from '../lib/stats';

export interface Phases {
  booked: number;
  rejected: number;
  /** status → count for anything that is neither 201 nor 409 */
  unexpected: Record<string, number>;
  /** ms from the start to the last 201 */
  bookingWindowMs: number;
  /** ms from the first 409 to the last response */
  rejectionWindowMs: number;
  bookingLatency: LatencySummary;
  rejectionLatency: LatencySummary;
}

/** Splits the responses into the booking phase (201s) and the sold-out phase (409s). Pure. */
export function splitPhases(samples: Samples): Phases {
  const bookedLatency: number[] = [];
  const rejectedLatency: number[] = [];
  const unexpected: Record<string, number> = {};
  let lastBooked = 0;
  let firstRejected = Number.POSITIVE_INFINITY;
  let last = 0;
  for (let i = 0; i < samples.at.length; i++) {
    const at = samples.at[i]!;
    const status = samples.status[i]!;
    last = Math.max(last, at);
    if (status === 201) {
      bookedLatency.push(samples.latencyMs[i]!);
      lastBooked = Math.max(lastBooked, at);
    } else if (status === 409) {
      rejectedLatency.push(samples.latencyMs[i]!);
      firstRejected = Math.min(firstRejected, at);
    } else {
      unexpected[String(status)] = (unexpected[String(status)] ?? 0) + 1;
    }
  }
  return {
    booked: bookedLatency.length,
    rejected: rejectedLatency.length,
    unexpected,
    bookingWindowMs: lastBooked,
    rejectionWindowMs: Number.isFinite(firstRejected) ? last - firstRejected : 0,
    bookingLatency: summarize(bookedLatency),
    rejectionLatency: summarize(rejectedLatency),
  };
}

export interface StampedeResult {
  eventId: string;
  seats: number;
  attempts: number;
  connections: number;
  users: number;
  elapsedMs: number;
  bookingsPerSecond: number;
  rejectionsPerSecond: number;
  phases: Phases;
  errors: number;
  timeouts: number;
  statusCounts: Record<string, number>;
  rss: { beforeMb: number; peakSampledMb: number; samples: number; hwmAfterMb: number };
  /** The api's own view right after the stampede (prom-client default metrics), MB: where the RSS went */
  heap: Record<string, number>;
  /** Problems for the invariant check (fail loudly) */
  problems: string[];
}

const HEAP_METRICS = [
  'process_resident_memory_bytes',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
];

/** Heap figures from the api's /metrics (empty when it does not expose them). */
async function heapOf(baseUrl: string): Promise<Record<string, number>> {
  try {
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    const heap: Record<string, number> = {};
    for (const name of HEAP_METRICS) {
      const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text);
      if (match) heap[name.replace(/^(process|nodejs)_/, '').replace(/_bytes$/, '_mb')] = Math.round(Number(match[1]) / 2 ** 20);
    }
    return heap;
  } catch {
    return {};
  }
}

export async function stampede(ctx: BenchContext): Promise<StampedeResult> {
  const { seats, afterSellOut } = ctx.options.sizes;
  const connections = ctx.options.connections;
  // Free (price 0): the notifications scenario confirms its holds with a bare confirm, which only free
  // holds (or an admin) may do since the payments saga; paid holds go through pay (payments role).
  const event = await seedEvent(ctx.db.pool, ctx.organizerId, 'The Stampede (benchmark)', seats, 0);
  progress.step(
    `stampede: ${seats.toLocaleString('en-US')} seats, ${connections} connections of ${ctx.users.length} distinct users, ${(seats + afterSellOut).toLocaleString('en-US')} attempts`,
  );
  const before = memoryOf(ctx.api.pid);
  const rss = sampleRss(ctx.api.pid, 100);
  const load = await runLoad({
    label: 'stampede',
    url: `${ctx.apiBase}/events/${event.id}/bookings`,
    connections,
    amount: seats + afterSellOut,
    method: 'POST',
    body: JSON.stringify({ quantity: 1 }),
    headers: { 'content-type': 'application/json' },
    headersFor: (i) => ({ authorization: `Bearer ${ctx.users[i % ctx.users.length]!.token}` }),
    describe: ({ byStatus, elapsedMs }) => {
      const booked = byStatus.get(201) ?? 0;
      const other = [...byStatus.entries()].filter(([code]) => code !== 201 && code !== 409);
      return `${(elapsedMs / 1000).toFixed(0)}s  booked ${booked}/${seats}  sold-out 409s ${byStatus.get(409) ?? 0}/${afterSellOut}${other.length ? `  OTHER ${other.map(([c, n]) => `${c}:${n}`).join(' ')}` : ''}`;
    },
  }).finally(() => rss.stop());
  const peak = rss.stop();
  const hwm = memoryOf(ctx.api.pid);
  const phases = splitPhases(load.samples);
  const heap = await heapOf(ctx.api.url);

  const problems: string[] = [];
  if (phases.booked !== seats)
    problems.push(`stampede: ${phases.booked} bookings answered 201 for ${seats} seats (expected exactly ${seats})`);
  if (Object.keys(phases.unexpected).length)
    problems.push(`stampede: unexpected statuses ${JSON.stringify(phases.unexpected)} (429 = a rate limiter is still on)`);
  if (load.errors || load.timeouts) problems.push(`stampede: ${load.errors} connection errors, ${load.timeouts} timeouts`);
  const { rows } = await ctx.db.pool.query<{ available: number; bookings: number }>(
    `SELECT e.available, (SELECT count(*) FROM bookings b WHERE b.event_id = e.id)::int AS bookings FROM events e WHERE e.id = $1`,
    [event.id],
  );
  if (rows[0]!.available !== 0) problems.push(`stampede: event not sold out, available = ${rows[0]!.available}`);
  if (rows[0]!.bookings !== phases.booked) problems.push(`stampede: ${rows[0]!.bookings} booking rows but ${phases.booked} 201 responses`);

  const result: StampedeResult = {
    eventId: event.id,
    seats,
    attempts: seats + afterSellOut,
    connections,
    users: ctx.users.length,
    elapsedMs: load.elapsedMs,
    bookingsPerSecond: rate(phases.booked, phases.bookingWindowMs),
    rejectionsPerSecond: rate(phases.rejected, phases.rejectionWindowMs),
    phases,
    errors: load.errors,
    timeouts: load.timeouts,
    statusCounts: load.statusCounts,
    rss: { beforeMb: before?.rssMb ?? Number.NaN, peakSampledMb: peak.peakMb, samples: peak.samples, hwmAfterMb: hwm?.hwmMb ?? Number.NaN },
    heap,
    problems,
  };
  progress.info(
    `stampede: ${result.bookingsPerSecond.toFixed(0)} bookings/s (p99 ${phases.bookingLatency.p99.toFixed(1)} ms), ` +
      `${result.rejectionsPerSecond.toFixed(0)} rejections/s (p99 ${phases.rejectionLatency.p99.toFixed(1)} ms), api peak RSS ${peak.peakMb.toFixed(0)} MB ${JSON.stringify(heap)}`,
  );
  return result;
}
