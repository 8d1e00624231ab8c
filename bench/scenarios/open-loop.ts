/**
 * 7. Open-loop bookings: requests arrive on a fixed schedule (as users do: nobody waits for the
 * previous user's answer), at 50 % and 80 % of the closed-loop booking rate the stampede measured
 * in the same run. Latency is measured from each request's *scheduled* time, so a server that
 * falls behind cannot hide its queue (no coordinated omission): a request the load generator
 * sends late, because the previous ones are still open, counts its wait. Each level books on an
 * event of its own with a seat for every request (every answer must be 201), each request with
 * one of the signed-in users' tokens in turn. The api's CPU time over each level
 * (/proc/<pid>/stat) gives its CPU per booking.
 */
import { Agent, request } from 'node:http';
import { seedEvent } from '../lib/database';
import type { BenchContext } from '../lib/context';
import { cpuMeter, perRequestUs } from '../lib/cpu';
import { progress } from '../lib/progress';
import { runOnSchedule, schedule, tailLatency, type TailLatency } from '../lib/schedule';
import { rate } from '../lib/stats';

export interface OpenLoopLevel {
  /** Share of the closed-loop booking rate. */
  share: number;
  targetRate: number;
  scheduled: number;
  completed: number;
  /** Completed bookings ÷ time from the first scheduled send to the last answer. */
  achievedRate: number;
  /** Latency from the scheduled time, ms. */
  latency: TailLatency;
  /** Most requests open at once (a growing number: the server fell behind). */
  maxInFlight: number;
  /** The api's CPU time per booking over the level, µs. */
  cpuPerBookingUs: number;
  statusCounts: Record<string, number>;
  errors: number;
}

export interface OpenLoopResult {
  closedLoopRate: number;
  seconds: number;
  levels: OpenLoopLevel[];
  problems: string[];
}

async function level(ctx: BenchContext, share: number, closedLoopRate: number, seconds: number): Promise<OpenLoopLevel> {
  const targetRate = Math.max(1, closedLoopRate * share);
  const times = schedule(targetRate, seconds);
  const event = await seedEvent(ctx.db.pool, ctx.organizerId, `Open loop ${Math.round(share * 100)}% (benchmark)`, times.length);
  const url = new URL(`${ctx.apiBase}/events/${event.id}/bookings`);
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const body = JSON.stringify({ quantity: 1 });
  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  let errors = 0;
  progress.step(
    `open loop ${Math.round(share * 100)}%: ${targetRate.toFixed(0)} bookings/s on a fixed schedule for ${seconds}s (${times.length} requests)`,
  );

  const cpu = cpuMeter(ctx.api.pid);
  const book = (i: number) =>
    new Promise<number | null>((resolve) => {
      const token = ctx.users[i % ctx.users.length]!.token;
      const req = request(
        url,
        {
          method: 'POST',
          agent,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(null));
        },
      );
      req.on('error', () => resolve(null));
      req.end(body);
    });
  const run = await runOnSchedule(times, async (i, scheduledAt) => {
    const status = await book(i);
    if (status === null) errors++;
    else {
      statusCounts[String(status)] = (statusCounts[String(status)] ?? 0) + 1;
      latencies.push(performance.now() - scheduledAt);
    }
  });
  const cpuUs = cpu.stop();
  agent.destroy();
  const completed = statusCounts['201'] ?? 0;
  const result: OpenLoopLevel = {
    share,
    targetRate,
    scheduled: times.length,
    completed,
    achievedRate: rate(completed, run.lastDoneAt - run.startedAt),
    latency: tailLatency(latencies),
    maxInFlight: run.maxInFlight,
    cpuPerBookingUs: perRequestUs(cpuUs, completed),
    statusCounts,
    errors,
  };
  progress.info(
    `open loop ${Math.round(share * 100)}%: target ${targetRate.toFixed(0)}/s, achieved ${result.achievedRate.toFixed(0)}/s, ` +
      `p50 ${result.latency.p50.toFixed(1)} / p99 ${result.latency.p99.toFixed(1)} / p99.9 ${result.latency.p999.toFixed(1)} ms, ` +
      `max in flight ${run.maxInFlight}, api CPU ${result.cpuPerBookingUs.toFixed(0)} µs/booking`,
  );
  return result;
}

export async function openLoop(ctx: BenchContext, closedLoopRate: number): Promise<OpenLoopResult> {
  const seconds = ctx.options.sizes.openLoopSeconds;
  const levels: OpenLoopLevel[] = [];
  const problems: string[] = [];
  if (!(closedLoopRate > 0)) throw new Error(`open loop: no closed-loop booking rate to scale from (${closedLoopRate})`);
  for (const share of [0.5, 0.8]) {
    const measured = await level(ctx, share, closedLoopRate, seconds);
    const wrong = Object.entries(measured.statusCounts).filter(([code]) => code !== '201');
    if (wrong.length || measured.errors)
      problems.push(
        `open loop ${share * 100}%: statuses ${JSON.stringify(measured.statusCounts)}, ${measured.errors} errors (every request has a seat: all must be 201)`,
      );
    levels.push(measured);
  }
  return { closedLoopRate, seconds, levels, problems };
}
