/** The run's own database: created, seeded, and dropped afterwards. */
import { randomUUID } from 'node:crypto';
import { hash } from '@node-rs/bcrypt';
import { Pool } from 'pg';
import { createScratchDatabase } from '../../scripts/lib/scratch-db';

export const ADMIN_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  name: string;
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

export async function createDatabase(name: string): Promise<BenchDatabase> {
  const { url, drop } = await createScratchDatabase(ADMIN_DATABASE_URL, name);
  const pool = new Pool({ connectionString: url, max: 4, application_name: 'goticket-bench' });
  pool.on('error', () => undefined);
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

/** Free connection slots on the server right now (pgbench clients must fit in them). */
export async function freeConnectionSlots(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ free: number }>(
    `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
            - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS free`,
  );
  return rows[0]!.free;
}

export async function serverVersion(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
  return rows[0]!.v;
}

export interface BenchUser {
  id: string;
  email: string;
}

export const BENCH_PASSWORD = 'bench-password-0123456789';

/**
 * Users straight into the table, all with one bcrypt hash made at the service's production cost
 * (hashing once keeps setup fast; every login still verifies it at that cost).
 */
export async function seedUsers(pool: Pool, count: number, cost: number): Promise<{ users: BenchUser[]; organizer: BenchUser }> {
  const passwordHash = await hash(BENCH_PASSWORD, cost);
  const all: Array<BenchUser & { role: string }> = [];
  for (let i = 0; i < count; i++)
    all.push({ id: randomUUID(), email: `bench-user-${String(i).padStart(3, '0')}@bench.goticket.test`, role: 'user' });
  const organizer = { id: randomUUID(), email: 'bench-organizer@bench.goticket.test', role: 'organizer' };
  all.push(organizer);
  await pool.query(
    `INSERT INTO users (id, email, password_hash, role)
     SELECT u.id, u.email, $2, u.role FROM jsonb_to_recordset($1::jsonb) AS u(id uuid, email text, role text)`,
    [JSON.stringify(all), passwordHash],
  );
  return { users: all.slice(0, count).map(({ id, email }) => ({ id, email })), organizer: { id: organizer.id, email: organizer.email } };
}

export interface SeededEvent {
  id: string;
  capacity: number;
}

/** One bookable event (starts in a week), inserted directly. */
export async function seedEvent(pool: Pool, organizerId: string, name: string, capacity: number, priceCents = 4_500): Promise<SeededEvent> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO events (organizer_id, name, description, venue, starts_at, ends_at, price_cents, currency, capacity, available)
     VALUES ($1, $2, 'benchmark event', 'Bench Arena', now() + interval '7 days', now() + interval '7 days 3 hours', $3, 'EUR', $4, $4)
     RETURNING id`,
    [organizerId, name, priceCents, capacity],
  );
  return { id: rows[0]!.id, capacity };
}

export const GENRES = ['rock', 'jazz', 'opera', 'comedy', 'techno', 'folk', 'classical', 'theatre'];
export const CITIES = ['Berlin', 'Paris', 'Lisbon', 'Oslo', 'Rome', 'Vienna', 'Prague', 'Dublin', 'Madrid', 'Athens'];

/** `count` events spread over the next ~year, with varied names, prices and capacities. */
export async function seedBrowseEvents(pool: Pool, organizerId: string, count: number): Promise<void> {
  await pool.query(
    `INSERT INTO events (organizer_id, name, description, venue, starts_at, ends_at, price_cents, currency, capacity, available)
     SELECT $1,
            'Show ' || i || ': ' || ($3::text[])[1 + i % cardinality($3::text[])] || ' night in ' || ($4::text[])[1 + i % cardinality($4::text[])],
            'A seeded event for the browsing benchmark, number ' || i,
            ($4::text[])[1 + i % cardinality($4::text[])] || ' Hall',
            date_trunc('minute', now()) + interval '1 day' + i * interval '47 minutes',
            date_trunc('minute', now()) + interval '1 day' + i * interval '47 minutes' + interval '3 hours',
            500 + (i * 7919) % 19500, 'EUR', 100 + i % 4900, 100 + i % 4900
       FROM generate_series(1, $2::int) AS i`,
    [organizerId, count, GENRES, CITIES],
  );
  await pool.query('ANALYZE events');
}
