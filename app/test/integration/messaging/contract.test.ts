/**
 * One contract for the event bus port, run against the RabbitMQ adapter (real broker) and the
 * memory bus: routing, delivery of what was published before consuming, retries with attempt
 * counts, dead-lettering (failing, permanent, unparseable), prefetch bound, cancel semantics.
 */
import { randomUUID } from 'node:crypto';
import { MemoryEventBus } from '../../../src/adapters/memory/event-bus';
import { AmqpConnection } from '../../../src/adapters/rabbitmq/connection';
import { RabbitConsumer } from '../../../src/adapters/rabbitmq/consumer';
import { RabbitPublisher } from '../../../src/adapters/rabbitmq/publisher';
import { assertTopology, topologyNames } from '../../../src/adapters/rabbitmq/topology';
import {
  PermanentMessageError,
  type Delivery,
  type DomainMessage,
  type EventConsumer,
  type EventPublisher,
  type Subscription,
} from '../../../src/ports';
import { TEST_AMQP_URL } from '../../support/env';
import { AmqpTestClient, quietLogger, testPrefix, waitFor } from './helpers';

const OPTIONS = { prefetch: 3, maxAttempts: 3, retryDelayMs: 30 };

interface Harness {
  publisher: EventPublisher;
  consumer: EventConsumer;
  publishRaw(routingKey: string, body: string): Promise<void>;
  deadLetters(): Promise<Array<{ body: string; reason: string }>>;
  close(): Promise<void>;
}

async function rabbitHarness(): Promise<Harness> {
  const prefix = testPrefix();
  const connection = new AmqpConnection({
    url: TEST_AMQP_URL,
    names: topologyNames(prefix),
    logger: quietLogger,
    reconnect: { maxDelayMs: 500 },
  });
  connection.start();
  await connection.waitUntilConnected(10_000);
  const client = await AmqpTestClient.open(prefix);
  const publisher = new RabbitPublisher(connection, { logger: quietLogger });
  const dead: Array<{ body: string; reason: string }> = [];
  return {
    publisher,
    consumer: new RabbitConsumer(connection, { logger: quietLogger, ...OPTIONS }),
    publishRaw: async (key, body) => client.publishRaw(key, body),
    deadLetters: async () => {
      dead.push(...(await client.drainDlq()));
      return dead;
    },
    close: async () => {
      await publisher.close();
      await connection.close();
      await client.cleanup();
    },
  };
}

async function memoryHarness(): Promise<Harness> {
  const bus = new MemoryEventBus(OPTIONS);
  return {
    publisher: bus,
    consumer: bus,
    publishRaw: async (key, body) => bus.publishRaw(key, body),
    deadLetters: async () => bus.deadLetters,
    close: async () => undefined,
  };
}

const message = (type = 'booking.confirmed', data: Record<string, unknown> = {}): DomainMessage => ({
  id: randomUUID(),
  type,
  occurredAt: new Date().toISOString(),
  aggregateId: randomUUID(),
  data: { n: 1, nested: { ok: true }, ...data },
});

describe.each([
  ['RabbitMQ adapter', rabbitHarness],
  ['memory bus', memoryHarness],
])('event bus contract: %s', (_name, makeHarness) => {
  let bus: Harness;
  let subscription: Subscription | null = null;

  beforeEach(async () => {
    bus = await makeHarness();
  });
  afterEach(async () => {
    await subscription?.cancel();
    subscription = null;
    await bus.close();
  });

  /** Consumes with `handler`, recording every delivery. */
  const consume = async (handler: (m: DomainMessage, d: Delivery) => Promise<void> = async () => undefined) => {
    const seen: Array<{ message: DomainMessage; delivery: Delivery }> = [];
    subscription = await bus.consumer.consume(async (m, d) => {
      seen.push({ message: m, delivery: d });
      await handler(m, d);
    });
    return seen;
  };

  test('the notified types published before consuming arrive intact; other types (booking.created, event.*) are not routed to the queue', async () => {
    const sent = [
      message('booking.created'),
      message('event.created'),
      message('booking.confirmed', { quantity: 3 }),
      message('booking.cancelled'),
      message('booking.expired'),
    ];
    const results = await bus.publisher.publish(sent);
    expect(results).toEqual(sent.map((m) => ({ id: m.id, ok: true })));
    const seen = await consume();
    await waitFor('three deliveries', async () => seen.length === 3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen.map((s) => s.message.type).sort()).toEqual(['booking.cancelled', 'booking.confirmed', 'booking.expired']);
    expect(seen.find((s) => s.message.type === 'booking.confirmed')!.message).toEqual(sent[2]);
    expect(seen.every((s) => s.delivery.attempt === 1)).toBe(true);
  });

  test('a failing handler gets the message again with a growing attempt count until it succeeds', async () => {
    const seen = await consume(async (_m, d) => {
      if (d.attempt < 3) throw new Error(`flaky ${d.attempt}`);
    });
    const sent = message();
    await bus.publisher.publish([sent]);
    await waitFor('three attempts', async () => seen.length === 3);
    expect(seen.map((s) => [s.message.id, s.delivery.attempt])).toEqual([
      [sent.id, 1],
      [sent.id, 2],
      [sent.id, 3],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(seen).toHaveLength(3);
    expect(await bus.deadLetters()).toEqual([]);
  });

  test('after maxAttempts a message is dead-lettered with the reason; the next one is still processed', async () => {
    const bad = message('booking.cancelled');
    const seen = await consume(async (m) => {
      if (m.id === bad.id) throw new Error('mail server says no');
    });
    await bus.publisher.publish([bad]);
    const dead = await waitFor(
      'a dead letter',
      async () => ((await bus.deadLetters()).length === 1 ? bus.deadLetters() : undefined),
      10_000,
    );
    expect(JSON.parse(dead[0]!.body)).toEqual(bad);
    expect(dead[0]!.reason).toBe('attempt 3: Error: mail server says no');
    const good = message();
    await bus.publisher.publish([good]);
    await waitFor('the next message', async () => seen.some((s) => s.message.id === good.id));
    expect(seen.filter((s) => s.message.id === bad.id)).toHaveLength(3);
  });

  test('a PermanentMessageError dead-letters at once, without retries', async () => {
    const seen = await consume(async () => {
      throw new PermanentMessageError('cannot ever work');
    });
    await bus.publisher.publish([message()]);
    const dead = await waitFor(
      'a dead letter',
      async () => ((await bus.deadLetters()).length === 1 ? bus.deadLetters() : undefined),
      10_000,
    );
    expect(dead[0]!.reason).toBe('attempt 1: PermanentMessageError: cannot ever work');
    expect(seen).toHaveLength(1);
  });

  test('an unparseable message never reaches the handler and is dead-lettered with the reason', async () => {
    const seen = await consume();
    await bus.publishRaw('booking.confirmed', '{"id":');
    const good = message();
    await bus.publisher.publish([good]);
    await waitFor('the valid message', async () => seen.length === 1);
    const dead = await waitFor(
      'a dead letter',
      async () => ((await bus.deadLetters()).length === 1 ? bus.deadLetters() : undefined),
      10_000,
    );
    expect(dead[0]).toEqual({
      body: '{"id":',
      reason: expect.stringMatching(/^attempt 1: UnparseableMessageError: body is not JSON/),
      routingKey: 'booking.confirmed',
    });
    expect(seen[0]!.message).toEqual(good);
  });

  test('no more than prefetch messages are in flight; cancel waits for them and stops deliveries', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen = await consume(async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 40));
      inFlight--;
    });
    await bus.publisher.publish(Array.from({ length: 12 }, () => message()));
    await waitFor('some deliveries', async () => seen.length >= 4);
    await subscription!.cancel();
    subscription = null;
    expect(inFlight).toBe(0); // cancel returned only after the handlers finished
    const count = seen.length;
    expect(peak).toBe(OPTIONS.prefetch);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(seen.length).toBe(count);
  });
});

test('RabbitMQ: a queue declared with the former booking.* binding loses it when the topology is asserted', async () => {
  const prefix = testPrefix();
  const names = topologyNames(prefix);
  const client = await AmqpTestClient.open(prefix);
  try {
    // the topology as an older release declared it
    await client.channel.assertExchange(names.events, 'topic', { durable: true });
    await client.channel.assertExchange(names.dlx, 'fanout', { durable: true });
    await client.channel.assertQueue(names.notifications, { durable: true, arguments: { 'x-dead-letter-exchange': names.dlx } });
    await client.channel.bindQueue(names.notifications, names.events, 'booking.*');
    await assertTopology(client.channel, names);
    client.publishRaw('booking.created', '{}');
    client.publishRaw('booking.confirmed', '{}');
    await waitFor('the confirmed message', async () => (await client.channel.checkQueue(names.notifications)).messageCount === 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const first = await client.channel.get(names.notifications, { noAck: true });
    expect(first && first.fields.routingKey).toBe('booking.confirmed');
    expect(await client.channel.get(names.notifications, { noAck: true })).toBe(false);
  } finally {
    await client.cleanup();
  }
});
