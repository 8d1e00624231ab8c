import { AsyncLocalStorage } from 'node:async_hooks';
import { failed, GroupCommit, succeeded, type Outcome } from '../../src/adapters/postgres/group-commit';

/** A runner whose batches the test settles by hand, recording what each batch held. */
function manualRunner() {
  const batches: Array<{ key: string; items: number[]; settle(outcomes: Array<Outcome<string>>): void; fail(error: Error): void }> = [];
  const run = (key: string, items: number[]) =>
    new Promise<Array<Outcome<string>>>((resolve, reject) => batches.push({ key, items, settle: resolve, fail: reject }));
  return { batches, run };
}

const echo = (items: number[]) => items.map((item) => succeeded(`done ${item}`));
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('runs a lone submission at once, and queues the next ones into batches of at most maxBatch, in arrival order', async () => {
    const { batches, run } = manualRunner();
    const group = new GroupCommit(3, run);
    const results = [1, 2, 3, 4, 5, 6, 7].map((item) => group.submit('e', item));
    expect(batches.map((b) => b.items)).toEqual([[1]]);

    for (let round = 0; round < 3; round++) {
      batches[round]!.settle(echo(batches[round]!.items));
      await tick();
    }
    expect(batches.map((b) => b.items)).toEqual([[1], [2, 3, 4], [5, 6, 7]]);
    expect(await Promise.all(results)).toEqual([1, 2, 3, 4, 5, 6, 7].map((item) => `done ${item}`));
  });

  it('sends the next batch before answering the waiters of the one that finished (the database works while they are answered)', async () => {
    const { batches, run } = manualRunner();
    const group = new GroupCommit(10, run);
    const batchesSentWhenFirstAnswered = group.submit('e', 1).then(() => batches.length);
    void group.submit('e', 2);
    batches[0]!.settle(echo([1]));
    expect(await batchesSentWhenFirstAnswered).toBe(2);
  });

  it('settles each item from its own outcome: one failure rejects only its submitter', async () => {
    const { batches, run } = manualRunner();
    const group = new GroupCommit(10, run);
    const first = group.submit('e', 1);
    const rest = Promise.allSettled([2, 3, 4].map((item) => group.submit('e', item)));
    batches[0]!.settle(echo([1]));
    await first;
    await tick();
    batches[1]!.settle([succeeded('two'), failed(new Error('three broke')), succeeded('four')]);
    const settled = await rest;
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual(['two', 'three broke', 'four']);
  });

  it('rejects every item of a batch whose runner fails, then goes on with the queue', async () => {
    const { batches, run } = manualRunner();
    const group = new GroupCommit(2, run);
    const results = Promise.allSettled([1, 2, 3, 4].map((item) => group.submit('e', item)));
    batches[0]!.settle(echo([1]));
    await tick();
    batches[1]!.fail(new Error('connection lost'));
    await tick();
    batches[2]!.settle(echo([4]));
    const settled = await results;
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([
      'done 1',
      'connection lost',
      'connection lost',
      'done 4',
    ]);
  });

  it('keeps keys apart: a key with a batch in flight holds up no other key', async () => {
    const { batches, run } = manualRunner();
    const group = new GroupCommit(10, run);
    void group.submit('slow', 1);
    void group.submit('slow', 2);
    const fast = group.submit('fast', 3);
    expect(batches.map((b) => [b.key, b.items])).toEqual([
      ['slow', [1]],
      ['fast', [3]],
    ]);
    batches[1]!.settle(echo([3]));
    expect(await fast).toBe('done 3');
  });

  it('starts over with a lone batch once a key has drained', async () => {
    const group = new GroupCommit<number, string>(10, async (_key, items) => echo(items));
    expect(await group.submit('e', 1)).toBe('done 1');
    expect(await group.submit('e', 2)).toBe('done 2');
  });

  it('runs each batch in the async context of its first submitter (its trace), not of whoever finished the batch before', async () => {
    const request = new AsyncLocalStorage<string>();
    const contexts: Array<string | undefined> = [];
    let release: () => void = () => undefined;
    const group = new GroupCommit<number, string>(10, async (_key, items) => {
      contexts.push(request.getStore());
      if (items[0] === 1) await new Promise<void>((resolve) => (release = resolve));
      return echo(items);
    });
    const first = request.run('request A', () => group.submit('e', 1));
    const second = request.run('request B', () => group.submit('e', 2));
    const third = request.run('request C', () => group.submit('e', 3));
    release();
    await Promise.all([first, second, third]);
    expect(contexts).toEqual(['request A', 'request B']);
  });

  describe('limits: a batch stuck on a dead connection does not hold up its key for good', () => {
    const overdue = (why: string, key: string) => new Error(`${why}:${key}`);
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

    it('fails the waiters of a batch past its deadline, sends the next batch, and ignores the late answer', async () => {
      const { batches, run } = manualRunner();
      const group = new GroupCommit(10, run, { deadlineMs: 40, overdue });
      const stuck = group.submit('e', 1);
      const next = [group.submit('e', 2), group.submit('e', 3)];
      expect(group.state()).toMatchObject({ waiting: 2, overdue: 0 });
      await expect(stuck).rejects.toThrow('deadline:e');
      expect(batches.map((b) => b.items)).toEqual([[1], [2, 3]]);
      expect(group.state()).toMatchObject({ waiting: 0, overdue: 1, oldestOverdueMs: expect.any(Number) });
      batches[1]!.settle(echo([2, 3]));
      expect(await Promise.all(next)).toEqual(['done 2', 'done 3']);
      // the stuck runner answers at last: nobody hears it, and it is no longer overdue
      batches[0]!.settle(echo([1]));
      await tick();
      expect(group.state()).toEqual({ waiting: 0, oldestWaitMs: 0, overdue: 0, oldestOverdueMs: 0 });
      expect(await group.submit('e', 4).catch(String)).toBe('Error: deadline:e');
    });

    it('fails, without running them, the submissions that waited past maxWaitMs; the younger ones go in the next batch', async () => {
      const { batches, run } = manualRunner();
      const group = new GroupCommit(10, run, { maxWaitMs: 30, overdue });
      void group.submit('e', 1);
      const old = group.submit('e', 2);
      await sleep(60);
      expect(group.state().oldestWaitMs).toBeGreaterThanOrEqual(55);
      const young = group.submit('e', 3);
      batches[0]!.settle(echo([1]));
      await expect(old).rejects.toThrow('wait:e');
      expect(batches.map((b) => b.items)).toEqual([[1], [3]]);
      batches[1]!.settle(echo([3]));
      expect(await young).toBe('done 3');
    });

    it('refuses a submission at once when its key already has maxQueued waiting', async () => {
      const { batches, run } = manualRunner();
      const group = new GroupCommit(10, run, { maxQueued: 2, overdue });
      void group.submit('e', 1);
      const queued = [group.submit('e', 2), group.submit('e', 3)];
      await expect(group.submit('e', 4)).rejects.toThrow('queue-full:e');
      // other keys are not affected
      void group.submit('other', 5);
      expect(batches.map((b) => b.key)).toEqual(['e', 'other']);
      batches[0]!.settle(echo([1]));
      await tick();
      batches[2]!.settle(echo([2, 3]));
      expect(await Promise.all(queued)).toEqual(['done 2', 'done 3']);
    });
  });

  it('refuses a batch size below one', () => {
    expect(() => new GroupCommit(0, async () => [])).toThrow(RangeError);
  });
});
