import { Client, type Pool } from 'pg';
import { migrate } from '../../src/adapters/postgres/migrate';
import { createPool } from '../../src/adapters/postgres/pool';
import { TEST_DATABASE_URL, uniqueName } from './env';

export interface TestDatabase {
  name: string;
  url: string;
  pool: Pool;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database of its own for one test file, migrated unless told otherwise. */
export async function createTestDatabase(options: { migrate?: boolean; poolMax?: number } = {}): Promise<TestDatabase> {
  const name = uniqueName('gt').toLowerCase();
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = withDatabase(TEST_DATABASE_URL, name);
  const pool = createPool({ url, max: options.poolMax ?? 10, statementTimeoutMs: 30_000, applicationName: 'goticket-test' });
  if (options.migrate !== false) await migrate(pool);
  let dropped = false;
  return {
    name,
    url,
    pool,
    async drop() {
      if (dropped) return;
      dropped = true;
      await pool.end().catch(() => undefined);
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
