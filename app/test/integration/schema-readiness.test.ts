/**
 * Readiness waits for the schema (real PostgreSQL): the api and worker of a first install or an
 * upgrade report not-ready until the migrate Job has applied every migration this build ships.
 * Fails on the old code: readiness checked only that PostgreSQL answered.
 */
import { migrate, readMigrations, schemaHealthCheck } from '../../src/adapters/postgres/migrate';
import { createTestDatabase, type TestDatabase } from '../support/db';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
});
afterAll(async () => {
  await db.drop();
});

test('down on an empty database, down while a migration is pending, up once all are applied', async () => {
  const all = readMigrations();
  expect(all.length).toBeGreaterThan(1);
  const check = schemaHealthCheck(db.pool, all);
  expect(await check.check()).toBe('down'); // no schema_migrations at all: a first install before the Job
  await migrate(db.pool, all.slice(0, -1));
  expect(await check.check()).toBe('down'); // an upgrade whose new migration has not run yet
  await migrate(db.pool, all);
  expect(await check.check()).toBe('up');
  expect(check.critical).toBe(true);
});
