/**
 * Outbox relay details against the real servers: LISTEN/NOTIFY wake-up, pruning, and a relay
 * that crashes between publishing and marking (the event is published again; the notifier
 * records it once).
 */
import { randomUUID } from 'node:crypto';
import { PostgresNotifications } from '../../../src/adapters/postgres/notifications';
import { PostgresOutbox, PostgresOutboxWakeUps } from '../../../src/adapters/postgres/outbox';
import { AmqpConnection } from '../../../src/adapters/rabbitmq/connection';
import { RabbitConsumer } from '../../../src/adapters/rabbitmq/consumer';
import { RabbitPublisher } from '../../../src/adapters/rabbitmq/publisher';
import { topologyNames } from '../../../src/adapters/rabbitmq/topology';
import { Notifier } from '../../../src/workers/notifier';
import { OutboxRelay, publishInAggregateOrder, RELAY_LINGER_MS } from '../../../src/workers/outbox-relay';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { TEST_AMQP_URL } from '../../support/env';
import { AmqpTestClient, quietLogger, RecordingMailer, reserveMany, seed, testPrefix, waitFor } from './helpers';

let db: TestDatabase;
let amqp: AmqpTestClient;
let connection: AmqpConnection;
let publisher: RabbitPublisher;

beforeAll(async () => {
  db = await createTestDatabase();
  const prefix = testPrefix();
  amqp = await AmqpTestClient.open(prefix);
  connection = new AmqpConnection({ url: TEST_AMQP_URL, names: topologyNames(prefix), logger: quietLogger });
  connection.start();
  await connection.waitUntilConnected(10_000);
  publisher = new RabbitPublisher(connection, { logger: quietLogger });
});

afterAll(async () => {
  await publisher?.close();
  await connection?.close();
  await amqp?.cleanup();
  await db?.drop();
});

const unpublished = async () => (await db.pool.query(`SELECT 1 FROM outbox WHERE published_at IS NULL`)).rowCount;

test('an insert wakes the relay through LISTEN/NOTIFY long before its next poll', async () => {
  const fixture = await seed(db.pool, { users: 2, events: 1, capacity: 100 });
  const relay = new OutboxRelay({
    outbox: new PostgresOutbox(db.pool),
    wakeUps: new PostgresOutboxWakeUps(db.pool, quietLogger),
    publisher,
    logger: quietLogger,
    pollIntervalMs: 60_000,
    batchSize: 50,
    retentionMs: 86_400_000,
  });
  await relay.start();
  try {
    await waitFor('the startup drain', async () => (await unpublished()) === 0, 5_000);
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      await reserveMany(fixture, 1);
      await waitFor('the new event to be published', async () => (await unpublished()) === 0, 5_000, 10);
      expect(Date.now() - started).toBeLessThan(2_000); // the poll would take 60 s
    }
  } finally {
    await relay.close();
  }
});

test('a row whose insert saw a batch in flight (so it did not notify) and committed after the look-again is published without waiting for the poll', async () => {
  // The race of RELAY_LINGER_MS, made deterministic: the relay's batch is held in publish while a
  // transaction inserts a row (its trigger sees the claimed row as backlog: no NOTIFY); the batch
  // completes, the relay looks again (the insert is not committed: nothing) and goes idle; then the
  // insert commits. Before the linger, that row waited for the next poll (60 s here).
  await db.pool.query(`DELETE FROM outbox`);
  const insertRow = `INSERT INTO outbox (aggregate_type, aggregate_id, type, payload) VALUES ('booking', gen_random_uuid(), 'booking.created', '{}') RETURNING id`;
  const real = new PostgresOutbox(db.pool);
  const looks: number[] = [];
  const outbox = {
    relayBatch: async (...args: Parameters<PostgresOutbox['relayBatch']>) => {
      const batch = await real.relayBatch(...args);
      looks.push(batch.claimed);
      return batch;
    },
    backlog: () => real.backlog(),
    prune: (retentionMs: number, limit?: number) => real.prune(retentionMs, limit),
  };
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let held = false;
  const gated = {
    publish: async (messages: Parameters<RabbitPublisher['publish']>[0]) => {
      if (!held) {
        held = true;
        await released;
      }
      return publisher.publish(messages);
    },
  };
  const relay = new OutboxRelay({
    outbox,
    wakeUps: new PostgresOutboxWakeUps(db.pool, quietLogger),
    publisher: gated,
    logger: quietLogger,
    pollIntervalMs: 60_000,
    batchSize: 50,
    retentionMs: 86_400_000,
  });
  await relay.start();
  const client = await db.pool.connect();
  try {
    await waitFor('the startup look', async () => looks.length > 0, 5_000, 5);
    const first = (await db.pool.query<{ id: string }>(insertRow)).rows[0]!.id; // notifies: the backlog was empty
    await waitFor('the relay to hold a batch in publish', async () => held, 5_000, 5);
    await client.query('BEGIN');
    const late = (await client.query<{ id: string }>(insertRow)).rows[0]!.id; // sees `first` unpublished: no NOTIFY
    const looksBefore = looks.length;
    release();
    // the batch, then the look-again that cannot see the uncommitted row
    await waitFor('the batch and an empty look after it', async () => looks.length >= looksBefore + 2 && looks.at(-1) === 0, 5_000, 2);
    await client.query('COMMIT');
    const published = async (id: string) =>
      (await db.pool.query(`SELECT 1 FROM outbox WHERE id = $1 AND published_at IS NOT NULL`, [id])).rowCount === 1;
    expect(await published(first)).toBe(true);
    await waitFor('the late row to be published (the poll is 60 s away)', () => published(late), 3_000, 10);
    expect(RELAY_LINGER_MS.reduce((a, b) => a + b, 0)).toBeLessThan(3_000);
  } finally {
    release();
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
    await relay.close();
  }
});

test('published rows older than the retention are pruned; unpublished and recent rows stay', async () => {
  const outbox = new PostgresOutbox(db.pool);
  await db.pool.query(`DELETE FROM outbox`);
  const insert = `INSERT INTO outbox (aggregate_type, aggregate_id, type, payload, published_at)
                  SELECT 'booking', gen_random_uuid(), 'booking.created', '{}', $1 FROM generate_series(1, $2)`;
  await db.pool.query(insert, [new Date(Date.now() - 3_600_000), 1_500]);
  await db.pool.query(insert, [new Date(), 3]);
  await db.pool.query(insert, [null, 2]);
  expect(await outbox.prune(60_000, 1_000)).toBe(1_000);
  expect(await outbox.prune(60_000, 1_000)).toBe(500);
  expect(await outbox.prune(60_000, 1_000)).toBe(0);
  const { rows } = await db.pool.query<{ published: boolean; n: number }>(
    `SELECT published_at IS NOT NULL AS published, count(*)::int AS n FROM outbox GROUP BY 1 ORDER BY 1`,
  );
  expect(rows).toEqual([
    { published: false, n: 2 },
    { published: true, n: 3 },
  ]);
  expect(await outbox.backlog()).toEqual({ count: 2, oldestAgeSeconds: expect.any(Number) });
  await db.pool.query(`DELETE FROM outbox`);
});

test('a relay crashing between publish and mark publishes the event again; the notifier records it once', async () => {
  const fixture = await seed(db.pool, { users: 1, events: 1, capacity: 10 });
  const [id] = await reserveMany(fixture, 1);
  expect((await fixture.bookings.confirm(id!)).kind).toBe('ok');
  const tapped = await amqp.tap();
  const outbox = new PostgresOutbox(db.pool);

  // 1st relay: the broker confirms, then the process "dies" before the marks commit
  await expect(
    outbox.relayBatch(10, async (messages) => {
      const results = await publisher.publish(messages);
      expect(results.every((r) => r.ok)).toBe(true);
      throw new Error('crash before commit');
    }),
  ).rejects.toThrow('crash before commit');
  expect(await unpublished()).toBeGreaterThan(0);

  // 2nd relay publishes the same rows again
  const batch = await outbox.relayBatch(10, (messages) => publisher.publish(messages));
  expect(batch.failed).toBe(0);
  expect(await unpublished()).toBe(0);

  await waitFor('both copies on the exchange', async () => tapped.filter((m) => m.aggregateId === id).length === 4);
  const confirmedCopies = tapped.filter((m) => m.aggregateId === id && m.type === 'booking.confirmed');
  expect(confirmedCopies).toHaveLength(2);
  expect(confirmedCopies[0]!.id).toBe(confirmedCopies[1]!.id); // same message id: consumers can dedupe

  const mailer = new RecordingMailer();
  const notifier = new Notifier({
    consumer: new RabbitConsumer(connection, { logger: quietLogger, prefetch: 10, maxAttempts: 3, retryDelayMs: 50 }),
    notifications: new PostgresNotifications(db.pool),
    mailer,
    logger: quietLogger,
  });
  await notifier.start();
  try {
    await waitFor('the queue to drain', async () => (await amqp.queueDepth(amqp.names.notifications)) === 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { rows } = await db.pool.query(`SELECT type FROM notifications WHERE booking_id = $1`, [id]);
    expect(rows).toEqual([{ type: 'booking.confirmed' }]);
    expect(mailer.countsByBooking().get(id!)).toBe(1);
  } finally {
    await notifier.close();
  }
});

test('events of one aggregate are never published out of order by concurrent relays', async () => {
  await db.pool.query(`DELETE FROM outbox`);
  const tapped = await amqp.tap();
  const aggregates = Array.from({ length: 5 }, () => randomUUID());
  // 5 aggregates × 40 events, interleaved, so every batch of 7 straddles aggregates
  for (let n = 0; n < 40; n++) {
    await db.pool.query(
      `INSERT INTO outbox (aggregate_type, aggregate_id, type, payload) SELECT 'event', a, 'event.updated', jsonb_build_object('n', $2::int) FROM unnest($1::uuid[]) a`,
      [aggregates, n],
    );
  }
  const outbox = new PostgresOutbox(db.pool);
  const relays = Array.from({ length: 3 }, () =>
    (async () => {
      for (;;) {
        const batch = await outbox.relayBatch(7, async (messages) => {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 10));
          return publisher.publish(messages);
        });
        if (batch.claimed === 0 && (await unpublished()) === 0) return;
      }
    })(),
  );
  await Promise.all(relays);
  const ordered = new Map<string, number[]>();
  await waitFor('every event tapped', async () => tapped.length === 200);
  const bodies = await db.pool.query<{ id: string; n: number }>(`SELECT id, (payload->>'n')::int AS n FROM outbox`);
  const numberOf = new Map(bodies.rows.map((r) => [r.id, r.n]));
  for (const m of tapped) ordered.set(m.aggregateId, [...(ordered.get(m.aggregateId) ?? []), numberOf.get(m.id)!]);
  for (const aggregate of aggregates) expect(ordered.get(aggregate)).toEqual(Array.from({ length: 40 }, (_, n) => n));
});

test('a nacked event is published again before the later events of its aggregate, which wait unmarked', async () => {
  await db.pool.query(`DELETE FROM outbox`);
  const tapped = await amqp.tap();
  const [held, other] = [randomUUID(), randomUUID()];
  for (let n = 0; n < 3; n++) {
    await db.pool.query(
      `INSERT INTO outbox (aggregate_type, aggregate_id, type, payload) SELECT 'event', a, 'event.updated', jsonb_build_object('n', $2::int) FROM unnest($1::uuid[]) a`,
      [[held, other], n],
    );
  }
  const { rows: firstOfHeld } = await db.pool.query<{ id: string }>(`SELECT id FROM outbox WHERE aggregate_id = $1 ORDER BY seq LIMIT 1`, [
    held,
  ]);
  const nackOnce = new Set([firstOfHeld[0]!.id]);
  const outbox = new PostgresOutbox(db.pool);
  // the broker refuses the held aggregate's first event once (as a nack would), confirms the rest
  const flaky = (messages: Parameters<typeof publisher.publish>[0]) =>
    publishInAggregateOrder(messages, async (wave) => {
      const refused = wave.filter((m) => nackOnce.delete(m.id));
      const results = await publisher.publish(wave.filter((m) => !refused.includes(m)));
      return [...results, ...refused.map((m) => ({ id: m.id, ok: false as const, error: new Error('nack') }))];
    });

  const first = await outbox.relayBatch(10, flaky);
  expect(first).toEqual({ claimed: 6, published: 3, failed: 1 });
  const { rows: state } = await db.pool.query<{ n: number; published: boolean; attempts: number; last_error: string | null }>(
    `SELECT (payload->>'n')::int AS n, published_at IS NOT NULL AS published, attempts, last_error FROM outbox WHERE aggregate_id = $1 ORDER BY seq`,
    [held],
  );
  expect(state).toEqual([
    { n: 0, published: false, attempts: 1, last_error: 'nack' },
    { n: 1, published: false, attempts: 0, last_error: null },
    { n: 2, published: false, attempts: 0, last_error: null },
  ]);

  expect(await outbox.relayBatch(10, flaky)).toEqual({ claimed: 3, published: 3, failed: 0 });
  await waitFor('every event tapped', async () => tapped.length === 6);
  const numbers = new Map(
    (await db.pool.query<{ id: string; n: number }>(`SELECT id, (payload->>'n')::int AS n FROM outbox`)).rows.map((r) => [r.id, r.n]),
  );
  const order = (aggregate: string) => tapped.filter((m) => m.aggregateId === aggregate).map((m) => numbers.get(m.id));
  expect(order(held)).toEqual([0, 1, 2]);
  expect(order(other)).toEqual([0, 1, 2]);
});
