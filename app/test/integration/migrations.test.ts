import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { MigrationChecksumError, migrate, readMigrations } from '../../src/adapters/postgres/migrate';
import { createPool } from '../../src/adapters/postgres/pool';
import { readPaymentMigrations } from '../../src/payments/adapters/postgres';
import { createTestDatabase, type TestDatabase } from '../support/db';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');

describe('migrations', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterEach(() => db.drop());

  const appliedRows = async () =>
    (await db.pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name')).rows.map((row) => row.name);

  it('applies every migration once; a second run applies nothing', async () => {
    const all = readMigrations().map((m) => m.name);
    expect(await migrate(db.pool)).toEqual(all);
    expect(await migrate(db.pool)).toEqual([]);
    expect(await appliedRows()).toEqual(all);
  });

  it('is safe when several runners start at once in one process', async () => {
    const results = await Promise.all([migrate(db.pool), migrate(db.pool), migrate(db.pool)]);
    expect(results.flat().sort()).toEqual(readMigrations().map((m) => m.name));
  });

  it("is safe when two processes run the migrate role at once (the booking side's migrations and the payments service's)", async () => {
    const env = { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'info', NODE_ENV: 'test' };
    const tsx = path.join(ROOT, 'node_modules/.bin/tsx');
    const runs = await Promise.all([0, 1].map(() => run(tsx, ['app/src/main.ts', 'migrate'], { cwd: ROOT, env, timeout: 60_000 })));
    const applied = runs.map(({ stdout }) => {
      const line = stdout.split('\n').find((l) => l.includes('"applied"'));
      return JSON.parse(line!).applied as string[];
    });
    // one process did the work, the other found it done
    const payments = readPaymentMigrations().map((m) => m.name);
    expect(applied.flat().sort()).toEqual([...readMigrations().map((m) => m.name), ...payments.map((name) => `payments/${name}`)]);
    expect(await appliedRows()).toEqual(readMigrations().map((m) => m.name));
    const own = await db.pool.query<{ name: string }>('SELECT name FROM payments.schema_migrations ORDER BY name');
    expect(own.rows.map((r) => r.name)).toEqual(payments);
  });

  it('is not cut short by the pool’s statement_timeout: neither a slow migration nor a replica waiting for the lock', async () => {
    // the service's pool, with a statement timeout far below what the migration takes
    const pool = createPool({ url: db.url, max: 4, statementTimeoutMs: 200, applicationName: 'goticket-test' });
    try {
      const slow = [
        ...readMigrations(),
        { name: '999_slow', sql: 'SELECT pg_sleep(0.8); CREATE TABLE slow_done (id int);', checksum: 'slow' },
      ];
      const results = await Promise.all([migrate(pool, slow), migrate(pool, slow)]);
      expect(results.flat().sort()).toEqual(slow.map((m) => m.name));
      const { rows } = await db.pool.query("SELECT to_regclass('slow_done') AS t");
      expect(rows[0].t).toBe('slow_done');
      // the clients went back to the pool with the timeout they had
      const clients = await Promise.all([0, 1, 2, 3].map(() => pool.connect()));
      try {
        for (const client of clients) expect((await client.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('200ms');
      } finally {
        for (const client of clients) client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it('wakes the relay only for a statement that inserted outbox rows into an empty backlog', async () => {
    await migrate(db.pool);
    const listener = await db.pool.connect();
    const wakeUps: string[] = [];
    listener.on('notification', (message) => wakeUps.push(message.channel));
    try {
      await listener.query('LISTEN goticket_outbox');
      const insert = (rows: number) =>
        db.pool.query(
          `INSERT INTO outbox (aggregate_type, aggregate_id, type, payload)
           SELECT 'booking', gen_random_uuid(), 'booking.created', '{}'::jsonb FROM generate_series(1, $1)`,
          [rows],
        );
      // a statement that granted nothing (a sold-out batch) on an empty backlog: no wake-up
      await insert(0);
      // the first rows of an empty backlog: one wake-up; more rows behind them: the relay is awake
      await insert(3);
      await insert(2);
      await listener.query('SELECT 1'); // notifications are delivered before the next reply
      expect(wakeUps).toEqual(['goticket_outbox']);
    } finally {
      listener.release();
    }
  });

  it('refuses to start when an applied migration was edited', async () => {
    await migrate(db.pool);
    const edited = readMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'tampered' } : m));
    await expect(migrate(db.pool, edited)).rejects.toBeInstanceOf(MigrationChecksumError);
  });

  it('rolls a failing migration back whole', async () => {
    const broken = [...readMigrations(), { name: '999_broken', sql: 'CREATE TABLE half (id int); SELECT 1/0;', checksum: 'x' }];
    await expect(migrate(db.pool, broken)).rejects.toThrow('999_broken');
    const { rows } = await db.pool.query("SELECT to_regclass('half') AS t");
    expect(rows[0].t).toBeNull();
    expect(await appliedRows()).not.toContain('999_broken');
  });
});
