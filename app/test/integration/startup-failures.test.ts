/**
 * Issue 17, point 14: a runtime startup failure a newcomer meets is one clear line, not a JSON
 * line with an embedded stack, and a port in use is found before any work starts (it was found
 * only after migrations ran and the workers started). main.ts from the sources, as `make run`.
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startFromSource } from '../e2e/process';
import { TEST_JWT_SECRET } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/db';

let db: TestDatabase;
let squatter: Server;
let takenPort: number;

beforeAll(async () => {
  db = await createTestDatabase();
  squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  takenPort = (squatter.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => squatter?.close(resolve));
  await db?.drop();
});

/** Starts `role` expecting it to fail; the lines it wrote, parsed. */
async function failedStart(
  role: string,
  env: Record<string, string>,
): Promise<Array<{ level: string; msg: string; err?: unknown; reason?: string }>> {
  const error = await startFromSource(role, {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    GRPC_PORT: '0',
    LOG_LEVEL: 'info',
    JWT_SECRET: TEST_JWT_SECRET,
    ...env,
  }).then(
    async (service) => {
      await service.stop();
      return null;
    },
    (failure: Error) => failure,
  );
  expect(error?.message).toMatch(/exited with 1 before listening/);
  return error!.message
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: string; msg: string; err?: unknown; reason?: string });
}

test('PORT in use: one line naming it, before the migrations ran', async () => {
  // a database of its own with nothing migrated yet: had the migrations run, its tables would exist
  const fresh = await createTestDatabase({ migrate: false });
  try {
    const lines = await failedStart('all', { PORT: String(takenPort), DATABASE_URL: fresh.url });
    const fatal = lines.filter((line) => line.level === 'fatal');
    expect(fatal.map((line) => line.msg)).toEqual([
      `PORT ${takenPort} is already in use on 127.0.0.1: stop what is using it, or set PORT to a free port`,
    ]);
    expect(fatal[0]).not.toHaveProperty('err');
    expect(lines.map((line) => line.msg)).not.toContain('migrations applied');
    const { rows } = await fresh.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`,
    );
    expect(rows[0]!.n).toBe(0);
  } finally {
    await fresh.drop();
  }
}, 120_000);

test('GRPC_PORT in use: one line naming it, before any work', async () => {
  const lines = await failedStart('api', { PORT: '0', GRPC_PORT: String(takenPort), DATABASE_URL: db.url });
  expect(lines.filter((line) => line.level === 'fatal').map((line) => line.msg)).toEqual([
    `GRPC_PORT ${takenPort} is already in use on 127.0.0.1: stop what is using it, or set GRPC_PORT to a free port`,
  ]);
}, 120_000);

test('database unreachable: one line with the (redacted) URL and the reason, no stack', async () => {
  const lines = await failedStart('all', {
    PORT: '0',
    DATABASE_URL: 'postgres://app:s3cret-pw@127.0.0.1:1/goticket',
    DB_CONNECT_TIMEOUT: '1s',
  });
  const fatal = lines.filter((line) => line.level === 'fatal');
  expect(fatal).toHaveLength(1);
  expect(fatal[0]!.msg).toMatch(
    /^database unreachable at postgres:\/\/app:[^@]*@127\.0\.0\.1:1\/goticket \(connection refused\): check DATABASE_URL and that PostgreSQL is running$/,
  );
  expect(fatal[0]).not.toHaveProperty('err');
  expect(JSON.stringify(lines)).not.toContain('s3cret-pw');
}, 120_000);
