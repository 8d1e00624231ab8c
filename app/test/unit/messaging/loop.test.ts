import { createLogger } from '../../../src/observability/logger';
import { WorkerLoop, type TickResult } from '../../../src/workers/loop';
import type { IBackoff, IBackoffFactory } from 'cockatiel';

const logger = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function loopOf(
  results: TickResult[],
  options: { intervalMs?: number; failureDelayMs?: number; tickMs?: number; lingerMs?: number[] } = {},
) {
  const ticks: number[] = [];
  const loop = new WorkerLoop(
    async () => {
      ticks.push(Date.now());
      if (options.tickMs) await sleep(options.tickMs);
      const result = results.shift() ?? 'idle';
      if (result === 'failed') throw new Error('tick failed');
      return result;
    },
    {
      name: 'test',
      intervalMs: options.intervalMs ?? 10_000,
      failureDelayMs: options.failureDelayMs ?? 10_000,
      lingerMs: options.lingerMs,
      logger,
    },
  );
  return { loop, ticks };
}

test('runs again at once while there is more work, then sleeps', async () => {
  const { loop, ticks } = loopOf(['more', 'more', 'idle']);
  loop.start();
  await sleep(100);
  expect(ticks).toHaveLength(3);
  await loop.stop();
});

test('after a tick that did work, the idle ticks come after the linger waits, then after intervalMs; none before any work', async () => {
  const idleFirst = loopOf([], { lingerMs: [10, 20] });
  idleFirst.loop.start();
  await sleep(100);
  expect(idleFirst.ticks).toHaveLength(1); // idle from the start: straight to the 10 s interval
  await idleFirst.loop.stop();

  const { loop, ticks } = loopOf(['more', 'idle', 'idle', 'idle', 'more'], { lingerMs: [10, 20] });
  loop.start();
  await sleep(200);
  // more, then idle 10 ms later, idle 20 ms later, then the interval (10 s): 4 ticks, the fifth not yet
  expect(ticks).toHaveLength(4);
  expect(ticks[2]! - ticks[1]!).toBeGreaterThanOrEqual(9);
  expect(ticks[3]! - ticks[2]!).toBeGreaterThanOrEqual(19);
  await loop.stop();
});

test('wake() ends an idle sleep; a wake during a tick is remembered', async () => {
  const { loop, ticks } = loopOf([], { tickMs: 50 });
  loop.start();
  await sleep(10);
  loop.wake(); // during the first tick
  await sleep(100);
  expect(ticks).toHaveLength(2);
  await sleep(50);
  loop.wake(); // during the idle sleep
  await sleep(30);
  expect(ticks).toHaveLength(3);
  await loop.stop();
});

test('after a failure wake-ups are ignored until the failure delay passed', async () => {
  const { loop, ticks } = loopOf(['failed'], { failureDelayMs: 150 });
  loop.start();
  await sleep(20);
  loop.wake();
  await sleep(50);
  expect(ticks).toHaveLength(1);
  await sleep(150);
  expect(ticks).toHaveLength(2);
  await loop.stop();
});

test('stop() waits for the tick in flight and ends the loop', async () => {
  let finished = false;
  const loop = new WorkerLoop(
    async () => {
      await sleep(80);
      finished = true;
      return 'more';
    },
    { name: 'test', intervalMs: 10, failureDelayMs: 10, logger },
  );
  loop.start();
  await sleep(10);
  await loop.stop();
  expect(finished).toBe(true);
});

test('consecutive failures take the backoff’s next wait each; a tick that did not fail starts it over', async () => {
  /** A backoff (cockatiel's interface) that waits 5 ms and records the run of failures it is at. */
  const runs: number[] = [];
  const counting = (n: number): IBackoff<unknown> => ({
    duration: 5,
    next: () => {
      runs.push(n + 1);
      return counting(n + 1);
    },
  });
  const failureBackoff: IBackoffFactory<unknown> = {
    next: () => {
      runs.push(1);
      return counting(1);
    },
  };
  const results: TickResult[] = ['failed', 'failed', 'failed', 'more', 'failed', 'failed'];
  const loop = new WorkerLoop(
    async () => {
      const result = results.shift() ?? 'idle';
      if (result === 'failed') throw new Error('tick failed');
      return result;
    },
    { name: 'test', intervalMs: 10_000, failureDelayMs: 10_000, failureBackoff, logger },
  );
  loop.start();
  while (results.length > 0) await sleep(5);
  await loop.stop();
  expect(runs).toEqual([1, 2, 3, 1, 2]);
});
