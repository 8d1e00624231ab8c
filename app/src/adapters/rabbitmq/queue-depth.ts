import type { Channel } from 'amqplib';
import { QUEUE_ROLES, queueMessages } from '../../observability/metrics';
import type { AmqpConnection } from './connection';

/**
 * Samples the depth of the notification queues (ready messages) into `goticket_queue_messages`
 * every `intervalMs`, on a channel of its own. The DLQ-not-empty and notifier-not-consuming
 * alerts read it. While the broker is unreachable the series are dropped, not left stale.
 */
export function sampleQueueDepth(connection: AmqpConnection, intervalMs = 5_000): { close(): Promise<void> } {
  let channel: Channel | null = null;
  let running: Promise<void> | null = null;
  const sample = async () => {
    try {
      channel ??= await openChannel(connection, () => (channel = null));
      for (const role of QUEUE_ROLES) {
        const { messageCount } = await channel.checkQueue(connection.names[role]);
        queueMessages.set({ queue: role }, messageCount);
      }
    } catch {
      queueMessages.reset();
    }
  };
  const timer = setInterval(() => {
    running ??= sample().finally(() => (running = null));
  }, intervalMs);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await running;
      await channel?.close().catch(() => undefined);
      channel = null;
    },
  };
}

async function openChannel(connection: AmqpConnection, onClose: () => void): Promise<Channel> {
  const channel = await connection.current().createChannel();
  channel.on('error', () => undefined);
  channel.once('close', onClose);
  return channel;
}
