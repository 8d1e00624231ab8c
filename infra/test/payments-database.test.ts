/**
 * The payments service's database role, on the real PostgreSQL of this machine: the psql script
 * the prod Job runs (infra/components/payments-database.ts), run by psql as a database owner that
 * is no superuser (like the RDS master user), then the service's own migrations and health check
 * as that role. What matters: it owns and uses schema payments, it has no privilege at all on any
 * table of schema public (the booking tables and their schema_migrations), and no CREATE on the
 * database; the payments role's process still migrates, starts and answers ready as that role.
 */
import { spawnSync } from 'node:child_process';
import { Client, type Pool } from 'pg';
import { migrate, schemaHealthCheck } from '../../app/src/adapters/postgres/migrate';
import { createPool } from '../../app/src/adapters/postgres/pool';
import { migratePayments, paymentsSchemaHealthCheck } from '../../app/src/payments';
import { startFromSource } from '../../app/test/e2e/process';
import { TEST_AMQP_URL, TEST_DATABASE_URL, uniqueName } from '../../app/test/support/env';
import { withDatabase } from '../../scripts/lib/scratch-db';
import { PAYMENTS } from '../../platform/contract';
import { paymentsRoleSql } from '../components/payments-database';

jest.setTimeout(60_000);

const suffix = uniqueName('t').toLowerCase();
const OWNER = `gt_owner_${suffix}`;
const ROLE = `gt_payments_${suffix}`;
const databases: string[] = [];
const pools: Pool[] = [];

const asUser = (database: string, user: string): string => {
  const url = new URL(withDatabase(TEST_DATABASE_URL, database));
  url.username = user;
  url.password = '';
  return url.toString();
};

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function pool(database: string, user: string): Pool {
  const p = createPool({ url: asUser(database, user), max: 2, statementTimeoutMs: 20_000, applicationName: 'goticket-test' });
  pools.push(p);
  return p;
}

/** psql as the database owner, the way the Job runs it (the script on a file, the password in the environment). */
function runScript(database: string): { status: number | null; output: string } {
  const url = new URL(TEST_DATABASE_URL);
  const result = spawnSync('psql', ['--no-psqlrc', '--file', '-'], {
    input: paymentsRoleSql(ROLE, PAYMENTS.database.schema),
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      PGHOST: url.hostname,
      PGPORT: url.port || '5432',
      PGUSER: OWNER,
      PGDATABASE: database,
      PAYMENTS_PASSWORD: 'Payments0Role0Password',
    },
    timeout: 30_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

async function newDatabase(): Promise<string> {
  const name = `gt_roles_${databases.length}_${suffix}`.slice(0, 63);
  await admin((c) => c.query(`CREATE DATABASE ${name} OWNER ${OWNER}`));
  databases.push(name);
  return name;
}

/** The error code PostgreSQL answers `sql` with, as `user` (undefined: it ran). */
async function refusal(p: Pool, sql: string): Promise<string | undefined> {
  try {
    await p.query(sql);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).message;
  }
}

/** Every table, view and sequence of schema public on which `role` holds any privilege (has_*_privilege, PUBLIC's grants included). */
async function publicPrivileges(database: string, role: string): Promise<{ relations: number; privileged: string[] }> {
  const owner = new Client({ connectionString: asUser(database, OWNER) });
  await owner.connect();
  try {
    const { rows } = await owner.query<{ name: string; kind: string; privileged: boolean }>(
      `SELECT c.relname AS name, c.relkind AS kind,
              CASE WHEN c.relkind = 'S' THEN has_sequence_privilege($1, c.oid, 'USAGE, SELECT, UPDATE')
                   ELSE has_table_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') END AS privileged
         FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') ORDER BY 1`,
      [role],
    );
    return { relations: rows.length, privileged: rows.filter((r) => r.privileged).map((r) => r.name) };
  } finally {
    await owner.end();
  }
}

/** What the database answers `role` about CREATE on it (schemas). */
async function mayCreateSchemas(database: string, role: string): Promise<boolean> {
  return admin(
    async (c) =>
      (await c.query<{ ok: boolean }>('SELECT has_database_privilege($1, $2, $3) AS ok', [role, database, 'CREATE'])).rows[0]!.ok,
  );
}

/** GET url until it answers 200 (readiness turns up once the broker is connected), or the last status after `ms`. */
async function readyStatus(url: string, ms = 30_000): Promise<number> {
  const deadline = Date.now() + ms;
  let status = 0;
  while (Date.now() < deadline) {
    status = await fetch(url).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return status;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return status;
}

beforeAll(async () => {
  // The RDS master user: owns the database, may create roles, is no superuser.
  await admin((c) => c.query(`CREATE ROLE ${OWNER} LOGIN CREATEROLE NOSUPERUSER`));
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  await admin(async (c) => {
    for (const db of databases) await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS ${ROLE}`);
    await c.query(`DROP ROLE IF EXISTS ${OWNER}`);
  });
});

describe('the payments role (prod: the Job’s psql script)', () => {
  let db: string;
  let payments: Pool;

  beforeAll(async () => {
    db = await newDatabase();
    // an installed booking side: its migrations ran as the owner
    await migrate(pool(db, OWNER));
    const run = runScript(db);
    expect([run.status, run.output]).toEqual([0, expect.stringContaining(`role ${ROLE} ready`)]);
    // the migrate Job (the owner) applies the payments migrations too
    expect((await migratePayments(pool(db, OWNER))).length).toBeGreaterThan(0);
    payments = pool(db, ROLE);
  });

  it('starts as the payments service does: its migrations (already applied) and its readiness check', async () => {
    await expect(migratePayments(payments)).resolves.toEqual([]);
    await expect(paymentsSchemaHealthCheck(payments).check()).resolves.toBe('up');
    // the booking side's version is not its business: it cannot even read it
    await expect(schemaHealthCheck(payments).check()).resolves.toBe('down');
  });

  it('the payments process (main.ts payments) migrates, starts and answers ready as that role', async () => {
    const service = await startFromSource('payments', {
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: asUser(db, ROLE),
      AMQP_URL: TEST_AMQP_URL,
      AMQP_PREFIX: uniqueName('pdb').toLowerCase(),
    });
    try {
      expect(await readyStatus(`${service.url}/healthz/ready`)).toBe(200);
    } finally {
      expect(await service.stop()).toBe(0);
    }
    expect(service.output()).not.toMatch(/permission denied|"level":(50|60)/);
  });

  it('may not create schemas (no CREATE on the database), yet its migrations run', async () => {
    expect(await mayCreateSchemas(db, ROLE)).toBe(false);
    expect(await refusal(payments, 'CREATE SCHEMA sneaky')).toBe('42501');
    expect(await refusal(payments, `CREATE SCHEMA IF NOT EXISTS ${PAYMENTS.database.schema}`)).toBe('42501');
    await expect(migratePayments(payments)).resolves.toEqual([]);
  });

  it('reads and writes its own tables, those the migrate Job created as the owner included', async () => {
    await payments.query(`INSERT INTO payments.inbox (message_id, source, type) VALUES ('m-1', 'broker', 'payment.requested')`);
    // the outbox's identity column and its NOTIFY trigger, then the relay's update
    await payments.query(
      `INSERT INTO payments.outbox (aggregate_type, aggregate_id, type, payload) VALUES ('payment', gen_random_uuid(), 'payment.succeeded', '{}')`,
    );
    expect((await payments.query('UPDATE payments.outbox SET published_at = now() WHERE published_at IS NULL')).rowCount).toBe(1);
    const { rows } = await payments.query<{ n: number }>('SELECT count(*)::int AS n FROM payments.inbox');
    expect(rows[0]!.n).toBe(1);
  });

  it('has no grant on any booking table nor CREATE in their schema', async () => {
    const tables = await admin(async () => {
      const owner = new Client({ connectionString: asUser(db, OWNER) });
      await owner.connect();
      try {
        const { rows } = await owner.query<{ table_name: string }>(
          `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY 1`,
        );
        return rows.map((r) => r.table_name);
      } finally {
        await owner.end();
      }
    });
    expect(tables).toEqual(expect.arrayContaining(['bookings', 'events', 'users']));
    for (const table of tables) {
      expect([table, await refusal(payments, `SELECT 1 FROM public.${table} LIMIT 1`)]).toEqual([table, '42501']);
      expect([table, await refusal(payments, `DELETE FROM public.${table}`)]).toEqual([table, '42501']);
    }
    expect(await refusal(payments, 'CREATE TABLE public.sneaky (id int)')).toBe('42501');
    // not even the booking side's version: its readiness checks payments.schema_migrations
    expect(await refusal(payments, 'SELECT name FROM public.schema_migrations')).toBe('42501');
    expect(await refusal(payments, `INSERT INTO public.schema_migrations (name, checksum) VALUES ('x', 'y')`)).toBe('42501');
  });

  it('holds no privilege at all on any table, view or sequence of schema public', async () => {
    const { relations, privileged } = await publicPrivileges(db, ROLE);
    expect(relations).toBeGreaterThan(5);
    expect(privileged).toEqual([]);
  });

  it('is a plain login: no superuser, createdb, createrole, replication', async () => {
    const { rows } = await payments.query<Record<string, boolean>>(
      'SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user',
    );
    expect(rows[0]).toEqual({ rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolbypassrls: false });
  });

  it('converges when run again (a new password, a re-run Job), taking back what an older script granted', async () => {
    await admin(async (c) => {
      await c.query(`GRANT CREATE ON DATABASE ${db} TO ${ROLE}`);
    });
    const owner = new Client({ connectionString: asUser(db, OWNER) });
    await owner.connect();
    await owner.query(`GRANT SELECT ON public.schema_migrations TO ${ROLE}`).finally(() => owner.end());
    const run = runScript(db);
    expect([run.status, run.output]).toEqual([0, expect.stringContaining('ready')]);
    expect(await mayCreateSchemas(db, ROLE)).toBe(false);
    expect((await publicPrivileges(db, ROLE)).privileged).toEqual([]);
    await expect(paymentsSchemaHealthCheck(payments).check()).resolves.toBe('up');
  });
});

it('works on a first install too: the role before any migration, then the migrate Job, then the payments service', async () => {
  const db = await newDatabase();
  const run = runScript(db);
  expect([run.status, run.output]).toEqual([0, expect.stringContaining('ready')]);
  const owner = pool(db, OWNER);
  await migrate(owner);
  await migratePayments(owner);
  const payments = pool(db, ROLE);
  await expect(migratePayments(payments)).resolves.toEqual([]);
  await expect(paymentsSchemaHealthCheck(payments).check()).resolves.toBe('up');
  expect(await refusal(payments, 'SELECT 1 FROM public.bookings')).toBe('42501');
  expect((await publicPrivileges(db, ROLE)).privileged).toEqual([]);
  expect(await mayCreateSchemas(db, ROLE)).toBe(false);
});

it('a script without the password fails (psql stops at the first error) and grants nothing', async () => {
  const db = await newDatabase();
  const url = new URL(TEST_DATABASE_URL);
  const result = spawnSync('psql', ['--no-psqlrc', '--file', '-'], {
    input: paymentsRoleSql(`${ROLE}_x`.slice(0, 63), PAYMENTS.database.schema),
    encoding: 'utf8',
    env: { PATH: process.env.PATH, PGHOST: url.hostname, PGPORT: url.port || '5432', PGUSER: OWNER, PGDATABASE: db },
    timeout: 30_000,
  });
  expect(result.status).not.toBe(0);
  const schemas = await admin(async () => {
    const c = new Client({ connectionString: asUser(db, OWNER) });
    await c.connect();
    try {
      return (await c.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'payments'`)).rows[0].n as number;
    } finally {
      await c.end();
    }
  });
  expect(schemas).toBe(0);
  // the role itself may exist (CREATE ROLE ran before the failing ALTER), but without LOGIN
  await admin(async (c) => {
    const { rows } = await c.query<{ rolcanlogin: boolean }>('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [
      `${ROLE}_x`.slice(0, 63),
    ]);
    expect(rows.every((r) => !r.rolcanlogin)).toBe(true);
    await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS ${`${ROLE}_x`.slice(0, 63)}`);
  });
});
