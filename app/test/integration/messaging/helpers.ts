/** Shared fixtures of the messaging integration tests (real PostgreSQL and RabbitMQ). */
import { connect, type Channel, type ChannelModel } from 'amqplib';
import type { Pool } from 'pg';
import { PostgresBookingStore } from '../../../src/adapters/postgres/bookings';
import { deleteTopology, topologyNames, type TopologyNames } from '../../../src/adapters/rabbitmq/topology';
import { loadConfig, type Config } from '../../../src/config';
import { createLogger, type Logger } from '../../../src/observability/logger';
import type { Mail, Mailer } from '../../../src/ports';
import { TEST_AMQP_URL, uniqueName } from '../../support/env';

export const quietLogger: Logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** Worker config for tests: fast polling, a prefix of its own. */
export function messagingConfig(databaseUrl: string, env: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    AMQP_URL: TEST_AMQP_URL,
    AMQP_RECONNECT_MAX_DELAY: '500ms',
    OUTBOX_POLL_INTERVAL: '100ms',
    OUTBOX_BATCH_SIZE: '200',
    NOTIFIER_PREFETCH: '50',
    NOTIFIER_MAX_ATTEMPTS: '3',
    NOTIFIER_RETRY_DELAY: '50ms',
    EXPIRY_SWEEP_INTERVAL: '100ms',
    ...env,
  });
}

export function testPrefix(): string {
  return uniqueName('gtm');
}

/** Polls `probe` until it returns a truthy value; fails with `what` and the last value seen. */
export async function waitFor<T>(what: string, probe: () => Promise<T>, timeoutMs = 30_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Runs `fn` over `items` with at most `concurrency` at once; results in order. */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await fn(items[index]!, index);
      }
    }),
  );
  return results;
}

export interface Fixture {
  userIds: string[];
  eventIds: string[];
  bookings: PostgresBookingStore;
}

/** Users and events by plain SQL; bookings go through PostgresBookingStore. */
export async function seed(pool: Pool, options: { users: number; events: number; capacity: number }): Promise<Fixture> {
  const users = await pool.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) SELECT 'user' || g || '-' || gen_random_uuid() || '@example.test', 'x'
       FROM generate_series(1, $1) g RETURNING id`,
    [options.users],
  );
  const organizer = users.rows[0]!.id;
  const events = await pool.query<{ id: string }>(
    `INSERT INTO events (organizer_id, name, starts_at, ends_at, price_cents, capacity, available)
     SELECT $1, 'event ' || g, now() + interval '30 days', now() + interval '30 days 3 hours', 2500, $3, $3
       FROM generate_series(1, $2) g RETURNING id`,
    [organizer, options.events, options.capacity],
  );
  return { userIds: users.rows.map((r) => r.id), eventIds: events.rows.map((r) => r.id), bookings: new PostgresBookingStore(pool) };
}

/** Reserves `count` one-seat holds round-robin over the fixture's events and users. */
export async function reserveMany(fixture: Fixture, count: number, holdMs = 600_000, concurrency = 16): Promise<string[]> {
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      const result = await fixture.bookings.reserve({
        eventId: fixture.eventIds[i % fixture.eventIds.length]!,
        userId: fixture.userIds[i % fixture.userIds.length]!,
        quantity: 1,
        holdMs,
      });
      if (result.kind !== 'created') throw new Error(`reserve failed: ${result.kind}`);
      return result.booking.id;
    },
  );
}

/** Counts sends per booking (from the mail text); can fail for chosen recipients. */
export class RecordingMailer implements Mailer {
  readonly sent: Mail[] = [];
  readonly failures: Mail[] = [];
  constructor(private readonly failFor: (mail: Mail) => boolean = () => false) {}

  async send(mail: Mail): Promise<void> {
    if (this.failFor(mail)) {
      this.failures.push(mail);
      throw new Error(`mailbox unavailable: ${mail.to}`);
    }
    this.sent.push(mail);
  }

  /** How many mails mention each booking id. */
  countsByBooking(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const mail of this.sent) {
      const id = /[0-9a-f]{8}-[0-9a-f-]{27}/.exec(mail.text)?.[0] ?? '?';
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }
}

/** A test's own AMQP connection: inspect queues, tap the exchange, clean up the topology. */
export class AmqpTestClient {
  private constructor(
    readonly model: ChannelModel,
    readonly channel: Channel,
    readonly names: TopologyNames,
  ) {}

  static async open(prefix: string): Promise<AmqpTestClient> {
    const model = await connect(TEST_AMQP_URL);
    const channel = await model.createChannel();
    return new AmqpTestClient(model, channel, topologyNames(prefix));
  }

  /** Binds a fresh exclusive queue to every event and collects what arrives, in order. */
  async tap(): Promise<Array<{ id: string; type: string; aggregateId: string }>> {
    const seen: Array<{ id: string; type: string; aggregateId: string }> = [];
    await this.channel.assertExchange(this.names.events, 'topic', { durable: true });
    const { queue } = await this.channel.assertQueue('', { exclusive: true, autoDelete: true });
    await this.channel.bindQueue(queue, this.names.events, '#');
    await this.channel.consume(
      queue,
      (message) => {
        if (!message) return;
        const body = JSON.parse(message.content.toString()) as { id: string; type: string; aggregateId: string };
        seen.push({ id: body.id, type: body.type, aggregateId: body.aggregateId });
      },
      { noAck: true },
    );
    return seen;
  }

  /** Drains the DLQ: bodies with the dead-letter reason header. */
  async drainDlq(): Promise<Array<{ body: string; reason: string; routingKey: string }>> {
    const out: Array<{ body: string; reason: string; routingKey: string }> = [];
    for (;;) {
      const message = await this.channel.get(this.names.dlq, { noAck: true });
      if (!message) return out;
      const headers = message.properties.headers ?? {};
      out.push({
        body: message.content.toString(),
        reason: String(headers['x-goticket-reason'] ?? ''),
        routingKey: String(headers['x-goticket-routing-key'] ?? message.fields.routingKey),
      });
    }
  }

  publishRaw(routingKey: string, body: string | Buffer, properties: Record<string, unknown> = {}): void {
    this.channel.publish(this.names.events, routingKey, Buffer.isBuffer(body) ? body : Buffer.from(body), {
      persistent: true,
      ...properties,
    });
  }

  async queueDepth(queue: string): Promise<number> {
    return (await this.channel.checkQueue(queue)).messageCount;
  }

  /** Deletes the test's exchanges and queues, then closes. */
  async cleanup(): Promise<void> {
    const channel = await this.model.createChannel();
    channel.on('error', () => undefined);
    await deleteTopology(channel, this.names).catch(() => undefined);
    await this.model.close().catch(() => undefined);
  }
}

/** Seats held (pending + payment_pending + confirmed) must equal capacity - available for every event. */
export async function seatAccountingErrors(pool: Pool): Promise<Array<Record<string, unknown>>> {
  const { rows } = await pool.query(`SELECT e.id, e.capacity, e.available,
      COALESCE(sum(b.quantity) FILTER (WHERE b.status IN ('pending', 'payment_pending', 'confirmed')), 0)::int AS held
    FROM events e LEFT JOIN bookings b ON b.event_id = e.id
    GROUP BY e.id HAVING e.capacity - e.available <> COALESCE(sum(b.quantity) FILTER (WHERE b.status IN ('pending', 'payment_pending', 'confirmed')), 0)
       OR e.available > e.capacity OR e.available < 0`);
  return rows;
}
