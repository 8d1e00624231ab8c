/**
 * Open-loop load: work started on a fixed schedule (as users arrive: nobody waits for the
 * previous user's answer), latency measured from each job's *scheduled* time, so a server that
 * falls behind cannot hide its queue (no coordinated omission). Used by scenario 7 (bookings)
 * and the open-loop level of scenario 9 (checkouts).
 */
import { percentile } from './stats';

/** Send times 0, 1/rate, 2/rate, … (ms from the start) for `seconds`. Pure. */
export function schedule(ratePerSecond: number, seconds: number): number[] {
  const count = Math.max(1, Math.round(ratePerSecond * seconds));
  const interval = 1000 / ratePerSecond;
  return Array.from({ length: count }, (_, i) => i * interval);
}

export interface TailLatency {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** p50 / p99 / p99.9 / max of latencies in any order (NaN when empty). Pure. */
export function tailLatency(values: ArrayLike<number>): TailLatency {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

export interface ScheduleRun {
  /** performance.now() of time 0 of the schedule. */
  startedAt: number;
  /** performance.now() when the last job settled. */
  lastDoneAt: number;
  /** Most jobs open at once (a growing number: the server fell behind). */
  maxInFlight: number;
}

/**
 * Starts `job(i, scheduledAt)` at `times[i]` ms after the start (every job that is due goes at
 * once; a late one keeps its scheduled time, which the job measures from), never waiting for
 * earlier jobs, and resolves when all have settled. A job's rejection does not stop the others;
 * the first one is thrown at the end. `scheduledAt` is on the performance.now() clock,
 * `scheduledAtWall` the same moment on the Date.now() clock.
 */
export async function runOnSchedule(
  times: readonly number[],
  job: (i: number, scheduledAt: number, scheduledAtWall: number) => Promise<void>,
): Promise<ScheduleRun> {
  const startedAtWall = Date.now();
  const startedAt = performance.now();
  let inFlight = 0;
  let maxInFlight = 0;
  let lastDoneAt = startedAt;
  const errors: unknown[] = [];
  const settled: Promise<void>[] = [];
  await new Promise<void>((resolve) => {
    let sent = 0;
    const tick = () => {
      const now = performance.now() - startedAt;
      while (sent < times.length && times[sent]! <= now) {
        const i = sent++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        settled.push(
          Promise.resolve()
            .then(() => job(i, startedAt + times[i]!, startedAtWall + times[i]!))
            .catch((error: unknown) => {
              errors.push(error);
            })
            .finally(() => {
              inFlight--;
              lastDoneAt = performance.now();
            }),
        );
      }
      if (sent < times.length) setTimeout(tick, Math.max(0, times[sent]! - (performance.now() - startedAt)));
      else resolve();
    };
    tick();
  });
  await Promise.all(settled);
  if (errors.length > 0) throw errors[0];
  return { startedAt, lastDoneAt, maxInFlight };
}
