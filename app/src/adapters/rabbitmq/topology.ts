import type { Channel } from 'amqplib';

/** Every exchange and queue name, derived from one prefix so test runs can isolate themselves. */
export interface TopologyNames {
  /** Topic exchange every domain event is published to; routing key = event type. */
  events: string;
  /** Fanout exchange for dead letters. */
  dlx: string;
  /** The notifier's queue, bound to `booking.*`. */
  notifications: string;
  /** Holds failed messages for the retry delay, then dead-letters them back to `notifications`. */
  retry: string;
  dlq: string;
}

export const NOTIFICATIONS_BINDING = 'booking.*';

export function topologyNames(prefix: string): TopologyNames {
  return {
    events: `${prefix}.events`,
    dlx: `${prefix}.dlx`,
    notifications: `${prefix}.notifications`,
    retry: `${prefix}.notifications.retry`,
    dlq: `${prefix}.notifications.dlq`,
  };
}

/** Idempotent: every (re)connection declares it, so a broker that lost it gets it back. */
export async function assertTopology(channel: Channel, names: TopologyNames): Promise<void> {
  await channel.assertExchange(names.events, 'topic', { durable: true });
  await channel.assertExchange(names.dlx, 'fanout', { durable: true });
  await channel.assertQueue(names.dlq, { durable: true });
  await channel.bindQueue(names.dlq, names.dlx, '');
  await channel.assertQueue(names.notifications, { durable: true, arguments: { 'x-dead-letter-exchange': names.dlx } });
  await channel.bindQueue(names.notifications, names.events, NOTIFICATIONS_BINDING);
  await channel.assertQueue(names.retry, {
    durable: true,
    arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': names.notifications },
  });
}

/** Removes everything assertTopology declared (tests clean up after themselves with it). */
export async function deleteTopology(channel: Channel, names: TopologyNames): Promise<void> {
  for (const queue of [names.notifications, names.retry, names.dlq]) await channel.deleteQueue(queue);
  for (const exchange of [names.events, names.dlx]) await channel.deleteExchange(exchange);
}
