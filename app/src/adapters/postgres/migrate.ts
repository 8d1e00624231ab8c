import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Pool, QueryConfig, QueryResultRow } from 'pg';
import type { HealthCheck } from '../../ports';

/** Fixed key: every replica of the service contends for the same advisory lock. */
const MIGRATION_LOCK_KEY = 0x60_71_c3_e7;

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{3}_[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(path.join(dir, file), 'utf8');
      return { name: file.replace(/\.sql$/, ''), sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

export class MigrationChecksumError extends Error {
  constructor(name: string) {
    super(`migration ${name} was changed after it was applied; add a new migration instead`);
  }
}

/**
 * The longest a migration statement may take on the client's side (setTimeout's maximum, ~24 days):
 * the pool's query deadline is for requests, and a migration may rewrite a big table. A connection
 * that dies meanwhile is found by TCP keepalive (the pool enables it).
 */
const MIGRATION_QUERY_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Applies pending migrations, each in its own transaction, under a session advisory lock so
 * replicas starting together apply each migration exactly once. Returns the names applied.
 *
 * The pool's statement_timeout (DB_STATEMENT_TIMEOUT, 5 s) and query deadline are for requests:
 * a replica waiting for the lock while another one migrates, or a migration that rewrites a big
 * table, must not be cancelled by them. This session lifts the one and its statements the other;
 * statement_timeout is restored before the connection goes back to the pool. The connection's
 * 'error' listener is the pool's (createPool): a reset mid-migration fails the migration (and its
 * transaction rolls back on the server), it does not crash the process.
 */
export interface MigrateOptions {
  /**
   * A schema of its own (created if missing) whose `schema_migrations` tracks these migrations,
   * under a lock of its own: the payments service's migrations (schema `payments`). Default: the
   * booking side's, in the public schema.
   */
  schema?: string;
}

export async function migrate(pool: Pool, migrations: Migration[] = readMigrations(), options: MigrateOptions = {}): Promise<string[]> {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_]+$/.test(schema)) throw new Error(`not a schema name: ${schema}`);
  const table = schema ? `${schema}.schema_migrations` : 'schema_migrations';
  const lockKey = schema
    ? MIGRATION_LOCK_KEY + 1 + [...schema].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1_000_000, 0)
    : MIGRATION_LOCK_KEY;
  const client = await pool.connect();
  const query = <R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]) =>
    client.query<R>({ text, values, query_timeout: MIGRATION_QUERY_TIMEOUT_MS } as QueryConfig);
  try {
    await query('SET statement_timeout = 0');
    await query('SELECT pg_advisory_lock($1)', [lockKey]);
    try {
      // Only when missing: `CREATE SCHEMA IF NOT EXISTS` needs CREATE on the database even when the
      // schema exists, and in prod the payments role owns its schema (the role script made it) without that grant.
      if (schema && (await query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount === 0)
        await query(`CREATE SCHEMA ${schema}`);
      await query(`CREATE TABLE IF NOT EXISTS ${table} (
        name text PRIMARY KEY,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await query<{ name: string; checksum: string }>(`SELECT name, checksum FROM ${table}`);
      const applied = new Map(rows.map((row) => [row.name, row.checksum]));
      const done: string[] = [];
      for (const migration of migrations) {
        const checksum = applied.get(migration.name);
        if (checksum !== undefined) {
          if (checksum !== migration.checksum) throw new MigrationChecksumError(migration.name);
          continue;
        }
        await query('BEGIN');
        try {
          await query(migration.sql);
          await query(`INSERT INTO ${table} (name, checksum) VALUES ($1, $2)`, [migration.name, migration.checksum]);
          await query('COMMIT');
        } catch (error) {
          await query('ROLLBACK').catch(() => undefined);
          throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
        }
        done.push(migration.name);
      }
      return done;
    } finally {
      await query('SELECT pg_advisory_unlock($1)', [lockKey]).catch(() => undefined);
    }
  } finally {
    // back to the timeout the connection was opened with; a client that cannot say so is not reused
    const healthy = await query('RESET statement_timeout').then(
      () => true,
      () => false,
    );
    client.release(!healthy);
  }
}

/**
 * Readiness of a process that does not migrate itself (api, worker): down until every migration
 * this build ships is recorded in schema_migrations (with `schema`: that schema's own, as the
 * payments role checks only payments.schema_migrations). New pods therefore never serve before the
 * migrate Job (an Argo CD hook, a Helm hook) has moved the schema, on a first install as on an
 * upgrade; old pods keep serving meanwhile (the rollout waits for readiness). Once up it stays up
 * (a schema does not go back): later probes cost nothing.
 */
export function schemaHealthCheck(pool: Pool, migrations: Migration[] = readMigrations(), options: MigrateOptions = {}): HealthCheck {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_]+$/.test(schema)) throw new Error(`not a schema name: ${schema}`);
  const table = schema ? `${schema}.schema_migrations` : 'schema_migrations';
  let current = false;
  return {
    name: 'schema',
    critical: true,
    async check() {
      if (current) return 'up';
      try {
        const { rows } = await pool.query<{ name: string }>(`SELECT name FROM ${table}`);
        const applied = new Set(rows.map((row) => row.name));
        current = migrations.every((migration) => applied.has(migration.name));
      } catch {
        return 'down'; // no schema_migrations yet (first install), or the database is down
      }
      return current ? 'up' : 'down';
    },
  };
}
