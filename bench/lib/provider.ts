/**
 * The checkout scenario's provider: the local Stripe-compatible server (app/src/payments/local-stripe.ts,
 * compiled, from the run's build snapshot) on a worker thread of the harness, with an event loop of its
 * own. On the harness's main thread (64 closed-loop clients, the confirmation watcher, the progress
 * ticker) its fixed 50 ms came out at 94-138 ms per request at the median and 276-798 ms at p99
 * under the shared machine's load: the harness's provider, not the service, was a large part of
 * what the checkout measured. Its counts are read by message for the invariants.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { LocalStripeOptions, ProviderCall } from '../../app/src/payments/local-stripe';
import type { ProviderCounts } from './invariants';

type Ask = { op: 'configure'; patch: Partial<LocalStripeOptions> } | { op: 'counts' } | { op: 'calls' } | { op: 'close' };

// The worker: plain JS (no tsx on worker threads), requiring the snapshot's compiled server.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { LocalStripe } = require(workerData.module);
const server = new LocalStripe(workerData.options);
server.start().then((url) => parentPort.postMessage({ id: 0, url }), (error) => parentPort.postMessage({ id: 0, error: String(error) }));
parentPort.on('message', async (request) => {
  switch (request.op) {
    case 'configure': server.configure(request.patch); return parentPort.postMessage({ id: request.id });
    case 'counts': return parentPort.postMessage({ id: request.id, totals: server.totals(), intentsPerBooking: [...server.intentsPerBooking()], maxInFlight: server.maxInFlight ?? 0 });
    case 'calls': return parentPort.postMessage({ id: request.id, calls: server.calls ?? [] });
    case 'close': await server.close(); parentPort.postMessage({ id: request.id }); return parentPort.close();
  }
});
`;

interface ProviderSnapshot extends ProviderCounts {
  maxInFlight: number;
}

export class ProviderThread {
  private nextId = 1;
  private readonly waiting = new Map<number, (answer: Record<string, unknown>) => void>();
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    readonly url: string,
  ) {
    worker.on('message', (answer: { id: number } & Record<string, unknown>) => {
      this.waiting.get(answer.id)?.(answer);
      this.waiting.delete(answer.id);
    });
  }

  /** Starts the server of `snapshot` (a build snapshot's root, with app/payments/local-stripe.js) on a worker thread. */
  static async start(snapshot: string, options: LocalStripeOptions): Promise<ProviderThread> {
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { module: path.resolve(snapshot, 'app/payments/local-stripe.js'), options },
    });
    const url = await new Promise<string>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (answer: { url?: string; error?: string }) =>
        answer.url ? resolve(answer.url) : reject(new Error(`local Stripe server did not start: ${answer.error}`)),
      );
    });
    return new ProviderThread(worker, url);
  }

  private ask(request: Ask): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage({ ...request, id });
    });
  }

  async configure(patch: Partial<LocalStripeOptions>): Promise<void> {
    await this.ask({ op: 'configure', patch });
  }

  /** Its counts now, for the invariants (synchronous reads over a copy). */
  async snapshot(): Promise<ProviderSnapshot> {
    const answer = (await this.ask({ op: 'counts' })) as {
      totals: ReturnType<ProviderCounts['totals']>;
      intentsPerBooking: Array<[string, number]>;
      maxInFlight: number;
    };
    return { totals: () => answer.totals, intentsPerBooking: () => new Map(answer.intentsPerBooking), maxInFlight: answer.maxInFlight };
  }

  /** Every request with its times (when started with recordCalls). */
  async calls(): Promise<ProviderCall[]> {
    return ((await this.ask({ op: 'calls' })) as { calls: ProviderCall[] }).calls;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ask({ op: 'close' });
    await this.worker.terminate();
  }
}
