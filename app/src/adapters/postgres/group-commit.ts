import { AsyncResource } from 'node:async_hooks';

/** What one item of a batch came to: its own result or its own error. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export const succeeded = <R>(value: R): Outcome<R> => ({ ok: true, value });
export const failed = <R>(error: unknown): Outcome<R> => ({ ok: false, error });

/** Runs one batch of items that share a key; returns one outcome per item, in the same order. */
export type BatchRunner<I, R> = (key: string, items: I[]) => Promise<Array<Outcome<R>>>;

interface Waiter<I, R> {
  item: I;
  /** The submitter's async context: the batch runs in its first waiter's, so its spans join that trace. */
  scope: AsyncResource;
  resolve(value: R): void;
  reject(error: unknown): void;
}

/**
 * Group commit per key. A submission whose key has nothing in flight runs at once, alone (no
 * waiting when there is no contention); submissions arriving while a batch for their key is in
 * flight queue, and when it settles the next batch takes up to `maxBatch` of them in arrival
 * order. At most one batch per key is in flight; different keys never wait for each other.
 */
export class GroupCommit<I, R> {
  /** key → its waiting submissions; present while a batch for the key is in flight. */
  private readonly queues = new Map<string, Array<Waiter<I, R>>>();

  constructor(
    private readonly maxBatch: number,
    private readonly run: BatchRunner<I, R>,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
  }

  submit(key: string, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const waiter: Waiter<I, R> = { item, scope: new AsyncResource('GroupCommit'), resolve, reject };
      const queue = this.queues.get(key);
      if (queue) {
        queue.push(waiter);
        return;
      }
      const fresh = [waiter];
      this.queues.set(key, fresh);
      this.dispatch(key, fresh);
    });
  }

  private dispatch(key: string, queue: Array<Waiter<I, R>>): void {
    const batch = queue.splice(0, this.maxBatch);
    let running: Promise<Array<Outcome<R>>>;
    try {
      running = batch[0]!.scope.runInAsyncScope(() => this.run(key, batch.map((waiter) => waiter.item)));
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(
      (outcomes) => this.finish(key, queue, batch, outcomes),
      // The batch failed as a whole (not any one item's fault): every waiter gets the error, as it would alone.
      (error: unknown) => this.finish(key, queue, batch, batch.map(() => failed<R>(error))),
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
}
