/** What every scenario gets: the run's options, database, running service and signed-in users. */
import type { BenchOptions } from './cli';
import type { BenchDatabase, BenchUser } from './database';
import type { ServiceProcess } from './services';

export interface SignedInUser extends BenchUser {
  token: string;
}

export interface BenchContext {
  options: BenchOptions;
  db: BenchDatabase;
  api: ServiceProcess;
  worker: ServiceProcess;
  /** http://127.0.0.1:<port>/api/v1 */
  apiBase: string;
  users: SignedInUser[];
  organizerId: string;
  pgbench: string;
  /** 127.0.0.1:<port> of the api's gRPC edge */
  grpcAddress?: string;
}

/** fetch + JSON with a bearer token; throws on an unexpected status. */
export async function callApi<T>(
  url: string,
  init: { method?: string; token?: string; body?: unknown; expect?: number[] } = {},
): Promise<{ status: number; body: T; at: number }> {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  const at = Date.now();
  const expect = init.expect ?? [200, 201];
  if (!expect.includes(response.status))
    throw new Error(`${init.method ?? 'GET'} ${url} answered ${response.status} (expected ${expect.join('/')}): ${text.slice(0, 300)}`);
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T, at };
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function mapConcurrent<T, R>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      results[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return results;
}
