import { runOnSchedule, schedule, tailLatency } from '../lib/schedule';

describe('open-loop schedule', () => {
  it('spaces send times 1/rate apart for the given seconds', () => {
    expect(schedule(4, 1)).toEqual([0, 250, 500, 750]);
    expect(schedule(17.5, 3)).toHaveLength(53);
    expect(schedule(0.2, 1)).toEqual([0]); // at least one
  });

  it('summarizes latencies in any order by nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1
    expect(tailLatency(values)).toEqual({ p50: 50, p99: 99, p999: 100, max: 100 });
    const empty = tailLatency([]);
    expect(Number.isNaN(empty.p99)).toBe(true);
  });

  it('starts each job at its scheduled time without waiting for the earlier ones', async () => {
    const times = [0, 20, 40, 60, 80];
    const started: Array<{ i: number; lateMs: number; wallSkewMs: number }> = [];
    const run = await runOnSchedule(times, async (i, scheduledAt, scheduledAtWall) => {
      started.push({
        i,
        lateMs: performance.now() - scheduledAt,
        wallSkewMs: Date.now() - scheduledAtWall - (performance.now() - scheduledAt),
      });
      await new Promise((resolve) => setTimeout(resolve, 70)); // longer than the spacing: jobs overlap
    });
    expect(started.map((s) => s.i)).toEqual([0, 1, 2, 3, 4]);
    for (const s of started) {
      expect(s.lateMs).toBeGreaterThanOrEqual(-1); // never early (timer rounding aside)
      expect(Math.abs(s.wallSkewMs)).toBeLessThan(5); // the two clocks name the same moment
    }
    // a closed loop would have had one open at a time; here 70 ms jobs every 20 ms overlap
    expect(run.maxInFlight).toBeGreaterThanOrEqual(3);
    expect(run.lastDoneAt - run.startedAt).toBeGreaterThanOrEqual(80 + 70 - 1);
  });

  it('counts a late job from its schedule: jobs due at once all start together', async () => {
    const times = [0, 1, 2, 3];
    let open = 0;
    const run = await runOnSchedule(times, async () => {
      open++;
      // block the event loop past every scheduled time once, so the rest are due together
      if (open === 1) {
        const until = performance.now() + 10;
        while (performance.now() < until);
      }
      await new Promise((resolve) => setTimeout(resolve, 30));
    });
    expect(run.maxInFlight).toBe(4);
  });

  it('lets every job finish before rethrowing the first failure', async () => {
    let finished = 0;
    await expect(
      runOnSchedule([0, 5, 10], async (i) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        finished++;
        if (i === 0) throw new Error('job 0 failed');
      }),
    ).rejects.toThrow('job 0 failed');
    expect(finished).toBe(3);
  });
});
