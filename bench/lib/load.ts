/** autocannon, recording every response (when it arrived, its status and latency) for per-phase statistics. */
import autocannon from 'autocannon';
import { progress } from './progress';

export interface Samples {
  /** ms since the load started, when each response arrived */
  at: number[];
  status: number[];
  latencyMs: number[];
}

export interface LoadResult {
  samples: Samples;
  /** wall time of the whole load, ms */
  elapsedMs: number;
  /** Date.now() when the load started */
  startedAt: number;
  errors: number;
  timeouts: number;
  statusCounts: Record<string, number>;
}

export interface LoadOptions {
  label: string;
  url: string;
  connections: number;
  /** Total requests (takes precedence over duration). */
  amount?: number;
  durationSeconds?: number;
  method?: 'GET' | 'POST';
  body?: string;
  headers?: Record<string, string>;
  /** Headers of connection `i` (0-based), e.g. its own user's token. */
  headersFor?: (i: number) => Record<string, string>;
  /** Advanced: a request sequence with setupRequest/onResponse hooks. */
  requests?: autocannon.Request[];
  /** Live progress text from the running counts. */
  describe?: (counts: { responses: number; byStatus: Map<number, number>; elapsedMs: number }) => string;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const samples: Samples = { at: [], status: [], latencyMs: [] };
  const byStatus = new Map<number, number>();
  let next = 0;
  const t0 = performance.now();
  const startedAt = Date.now();
  let finish: (error: unknown, result?: autocannon.Result) => void = () => undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (error, result) =>
      error ? reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error })) : resolve(result!);
  });
  const instance = autocannon(
    {
      url: options.url,
      connections: options.connections,
      ...(options.amount ? { amount: options.amount } : { duration: options.durationSeconds ?? 10 }),
      method: options.method ?? 'GET',
      body: options.body,
      headers: options.headers,
      requests: options.requests,
      timeout: 30,
      // errors must be visible in the latency stats, not hidden
      excludeErrorStats: false,
      setupClient: (client) => {
        const i = next++;
        if (options.headersFor) client.setHeaders({ ...options.headers, ...options.headersFor(i % options.connections) });
      },
    },
    (error, result) => finish(error, result),
  );
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    samples.at.push(performance.now() - t0);
    samples.status.push(statusCode);
    samples.latencyMs.push(responseTime);
    byStatus.set(statusCode, (byStatus.get(statusCode) ?? 0) + 1);
  });
  const ticker = setInterval(() => {
    const counts = { responses: samples.at.length, byStatus, elapsedMs: performance.now() - t0 };
    const status = [...byStatus.entries()].map(([code, n]) => `${code}:${n}`).join(' ');
    progress.live(`${options.label}: ${options.describe ? options.describe(counts) : `${counts.responses} responses [${status}]`}`);
  }, 1_000);
  const result = await finished.finally(() => clearInterval(ticker));
  progress.done();
  const statusCounts: Record<string, number> = {};
  for (const [code, n] of byStatus) statusCounts[String(code)] = n;
  return {
    samples,
    elapsedMs: performance.now() - t0,
    startedAt,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCounts,
  };
}
