import { AsyncResource } from 'node:async_hooks';

/** What one item of a batch came to: its own result or its own error. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export const succeeded = <R>(value: R): Outcome<R> => ({ ok: true, value });
export const failed = <R>(error: unknown): Outcome<R> => ({ ok: false, error });

/** Runs one batch of items that share a key; returns one outcome per item, in the same order. */
export type BatchRunner<I, R> = (key: string, items: I[]) => Promise<Array<Outcome<R>>>;

/** Why a submission failed without an outcome from the runner. */
export type Overdue = 'deadline' | 'wait' | 'queue-full';

export interface GroupCommitLimits {
  /**
   * A batch that has not settled this long after it started fails its waiters, and the key's next
   * batch goes out: a statement stuck on a dead connection no longer holds up the key for good.
   * What the runner answers after that is ignored.
   */
  deadlineMs?: number;
  /** A submission still waiting for its batch this long fails without being run (its caller has given up by then). */
  maxWaitMs?: number;
  /** Submissions one key may have waiting; the next one fails at once. */
  maxQueued?: number;
  /** The error a submission fails with when a limit above ended it. */
  overdue?(why: Overdue, key: string): unknown;
}

/** How the batches are doing, for readiness and liveness. */
export interface GroupCommitState {
  /** Submissions waiting for a batch, every key together. */
  waiting: number;
  /** Age of the oldest of them (0 when none). */
  oldestWaitMs: number;
  /** Batches past their deadline whose runner has still not answered (it holds what it holds, e.g. a connection). */
  overdue: number;
  /** How long the oldest of those has been running (0 when none). */
  oldestOverdueMs: number;
}

interface Waiter<I, R> {
  item: I;
  queuedAt: number;
  /** The submitter's async context: the batch runs in its first waiter's, so its spans join that trace. */
  scope: AsyncResource;
  resolve(value: R): void;
  reject(error: unknown): void;
}

/**
 * Group commit per key. A submission whose key has nothing in flight runs at once, alone (no
 * waiting when there is no contention); submissions arriving while a batch for their key is in
 * flight queue, and when it settles (or passes its deadline) the next batch takes up to `maxBatch`
 * of them in arrival order, leaving out those that waited past `maxWaitMs`. At most one batch per
 * key is in flight; different keys never wait for each other.
 */
export class GroupCommit<I, R> {
  /** key → its waiting submissions; present while a batch for the key is in flight. */
  private readonly queues = new Map<string, Array<Waiter<I, R>>>();
  /** Start times of the batches past their deadline that have not answered yet. */
  private readonly overdueRuns = new Set<{ startedAt: number }>();

  constructor(
    private readonly maxBatch: number,
    private readonly run: BatchRunner<I, R>,
    private readonly limits: GroupCommitLimits = {},
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
  }

  submit(key: string, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const waiter: Waiter<I, R> = { item, queuedAt: Date.now(), scope: new AsyncResource('GroupCommit'), resolve, reject };
      const queue = this.queues.get(key);
      if (queue) {
        if (this.limits.maxQueued !== undefined && queue.length >= this.limits.maxQueued)
          return reject(this.overdueError('queue-full', key));
        queue.push(waiter);
        return;
      }
      const fresh = [waiter];
      this.queues.set(key, fresh);
      this.dispatch(key, fresh);
    });
  }

  state(): GroupCommitState {
    const now = Date.now();
    let waiting = 0;
    let oldestQueuedAt = now;
    for (const queue of this.queues.values()) {
      waiting += queue.length;
      if (queue[0] && queue[0].queuedAt < oldestQueuedAt) oldestQueuedAt = queue[0].queuedAt;
    }
    let oldestStart = now;
    for (const run of this.overdueRuns) oldestStart = Math.min(oldestStart, run.startedAt);
    return { waiting, oldestWaitMs: now - oldestQueuedAt, overdue: this.overdueRuns.size, oldestOverdueMs: now - oldestStart };
  }

  private dispatch(key: string, queue: Array<Waiter<I, R>>): void {
    const startedAt = Date.now();
    // Arrival order: the ones that waited too long are at the head.
    const { maxWaitMs } = this.limits;
    if (maxWaitMs !== undefined) {
      let expired = 0;
      while (expired < queue.length && startedAt - queue[expired]!.queuedAt > maxWaitMs) expired++;
      for (const waiter of queue.splice(0, expired)) waiter.reject(this.overdueError('wait', key));
    }
    if (queue.length === 0) {
      this.queues.delete(key);
      return;
    }
    const batch = queue.splice(0, this.maxBatch);
    let running: Promise<Array<Outcome<R>>>;
    try {
      running = batch[0]!.scope.runInAsyncScope(() =>
        this.run(
          key,
          batch.map((waiter) => waiter.item),
        ),
      );
    } catch (error) {
      running = Promise.reject(error);
    }
    let settled = false;
    const settle = (outcomes: Array<Outcome<R>>) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      this.finish(key, queue, batch, outcomes);
    };
    const run = { startedAt };
    const timer =
      this.limits.deadlineMs === undefined
        ? null
        : setTimeout(() => {
            this.overdueRuns.add(run);
            const error = this.overdueError('deadline', key);
            settle(batch.map(() => failed<R>(error)));
          }, this.limits.deadlineMs);
    timer?.unref();
    running.then(
      (outcomes) => {
        this.overdueRuns.delete(run);
        settle(outcomes);
      },
      // The batch failed as a whole (not any one item's fault): every waiter gets the error, as it would alone.
      (error: unknown) => {
        this.overdueRuns.delete(run);
        settle(batch.map(() => failed<R>(error)));
      },
    );
  }

  private finish(key: string, queue: Array<Waiter<I, R>>, batch: Array<Waiter<I, R>>, outcomes: Array<Outcome<R>>): void {
    // The next batch goes out before this one's waiters are answered: the database works on it
    // while this process carries on with theirs.
    if (queue.length > 0) this.dispatch(key, queue);
    else this.queues.delete(key);
    batch.forEach((waiter, i) => {
      const outcome = outcomes[i] ?? failed<R>(new Error(`batch runner returned ${outcomes.length} outcomes for ${batch.length} items`));
      if (outcome.ok) waiter.resolve(outcome.value);
      else waiter.reject(outcome.error);
    });
  }

  private overdueError(why: Overdue, key: string): unknown {
    return this.limits.overdue?.(why, key) ?? new Error(`group commit ${why} for ${key}`);
  }
}
