import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { composeApi } from '../../src/compose';
import { loadConfig, type Config } from '../../src/config';
import { listen, closeServer } from '../../src/http/server';
import { createLogger, type Logger } from '../../src/observability/logger';
import type { Role } from '../../src/domain/user';
import { createTestDatabase, type TestDatabase } from './db';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface TestApi {
  db: TestDatabase;
  url: string;
  server: Server;
  config: Config;
  api: ReturnType<typeof composeApi>;
  /** `127.0.0.1:<port>` of the gRPC edge, when started with `{ grpc: true }`. */
  grpcAddress?: string;
  /** A user straight in the database with a signed access token (skips bcrypt for speed). */
  user(role?: Role): Promise<{ id: string; email: string; token: string }>;
  close(): Promise<void>;
}

let seq = 0;

/** The real API over HTTP on an ephemeral port, backed by a database of its own. */
export async function startTestApi(
  env: Record<string, string> = {},
  options: { grpc?: boolean; isShuttingDown?: () => boolean; logger?: Logger } = {},
): Promise<TestApi> {
  const db = await createTestDatabase({ poolMax: 10 });
  const config = loadConfig({ NODE_ENV: 'test', BCRYPT_COST: '4', DATABASE_URL: db.url, JWT_SECRET: TEST_JWT_SECRET, ...env });
  const logger = options.logger ?? createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const api = composeApi({
    pool: db.pool,
    config,
    logger,
    jwtSecret: TEST_JWT_SECRET,
    health: [],
    metrics: new Registry(),
    isShuttingDown: options.isShuttingDown ?? (() => false),
  });
  const { server, url } = await listen(api.app, '127.0.0.1', 0);
  const grpcAddress = options.grpc ? `127.0.0.1:${await api.grpc.listen('127.0.0.1', 0)}` : undefined;
  return {
    db,
    url: `${url}/api/v1`,
    server,
    config,
    api,
    grpcAddress,
    async user(role: Role = 'user') {
      const email = `user${++seq}-${Math.random().toString(36).slice(2, 8)}@example.test`;
      const created = await api.userStore.create({ email, passwordHash: 'not-a-login-account', role });
      return { id: created.id, email, token: api.accessTokens.sign({ userId: created.id, role, tokenVersion: 0 }).token };
    },
    async close() {
      if (grpcAddress) await api.grpc.close(1_000);
      await closeServer(server);
      await api.close();
      await db.drop();
    },
  };
}

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** fetch with a JSON body and a parsed JSON answer. */
export async function call<T = Record<string, unknown>>(
  url: string,
  options: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(url, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as T };
}

export function futureEvent(overrides: Record<string, unknown> = {}) {
  const start = Date.now() + 7 * 86_400_000;
  return {
    name: 'Concert',
    startsAt: new Date(start).toISOString(),
    endsAt: new Date(start + 3 * 3_600_000).toISOString(),
    priceCents: 2500,
    currency: 'EUR',
    capacity: 100,
    ...overrides,
  };
}
