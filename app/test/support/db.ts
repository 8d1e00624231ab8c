import type { Pool } from 'pg';
import { migrate } from '../../src/adapters/postgres/migrate';
import { createPool } from '../../src/adapters/postgres/pool';
import { createScratchDatabase } from '../../../scripts/lib/scratch-db';
import { TEST_DATABASE_URL, uniqueName } from './env';

export interface TestDatabase {
  name: string;
  url: string;
  pool: Pool;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** A fresh database of its own for one test file, migrated unless told otherwise. */
export async function createTestDatabase(options: { migrate?: boolean; poolMax?: number } = {}): Promise<TestDatabase> {
  const name = uniqueName('gt').toLowerCase();
  const { url, drop } = await createScratchDatabase(TEST_DATABASE_URL, name);
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
      await drop();
    },
  };
}
