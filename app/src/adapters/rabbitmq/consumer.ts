import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { RetryPolicy } from 'cockatiel';
import { consumerResults } from '../../observability/metrics';
import type { Logger } from '../../observability/logger';
import type { EventConsumer, MessageHandler, Subscription } from '../../ports';
import { foreverRetry, type AmqpConnection } from './connection';
import { decodeMessage, describeFailure, onHandlerFailure } from './message';
import { notificationsQueue, type QueueNames } from './topology';

export const ATTEMPT_HEADER = 'x-goticket-attempt';
const REASON_HEADER = 'x-goticket-reason';
export const ROUTING_KEY_HEADER = 'x-goticket-routing-key';

export interface RabbitConsumerOptions {
  logger: Logger;
  /** Unacknowledged messages in flight at once (per consumer). */
  prefetch: number;
  /** Handler failures before a message goes to the DLQ. */
  maxAttempts: number;
  /** How long a failed message waits in the retry queue. */
  retryDelayMs: number;
  /** The queue consumed and its retry queue (default: the notifications queue). */
  queue?: QueueNames;
}

/**
 * Consumes a queue (the notifications queue unless told otherwise) with a bounded prefetch and manual acks. A failed message is
 * republished to the retry queue (confirmed) and only then acked, so it is never lost; after
 * `maxAttempts`, or when it cannot be parsed, it goes to the DLQ with the reason in a header.
 */
export class RabbitConsumer implements EventConsumer {
  constructor(
    private readonly connection: AmqpConnection,
    private readonly options: RabbitConsumerOptions,
  ) {}

  async consume(handler: MessageHandler): Promise<Subscription> {
    const runner = new ConsumerRunner(this.connection, this.options, handler);
    runner.start();
    return runner;
  }
}

class ConsumerRunner implements Subscription {
  private channel: ConfirmChannel | null = null;
  private consumerTag: string | null = null;
  private setupAbort: AbortController | null = null;
  private cancelled = false;
  private readonly inFlight = new Set<Promise<void>>();
  private unsubscribe: () => void = () => undefined;
  private readonly retry: RetryPolicy;
  private readonly log: Logger;
  private readonly queue: QueueNames;

  constructor(
    private readonly connection: AmqpConnection,
    private readonly options: RabbitConsumerOptions,
    private readonly handler: MessageHandler,
  ) {
    this.queue = options.queue ?? notificationsQueue(connection.names);
    this.log = options.logger.child({ component: 'consumer', queue: this.queue.queue });
    this.retry = foreverRetry({ initialDelayMs: 200, maxDelayMs: 5_000 });
  }

  start(): void {
    // Every (re)connection opens a fresh channel and consumes again.
    this.unsubscribe = this.connection.onConnect(() => void this.setup());
  }

  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    this.unsubscribe();
    this.setupAbort?.abort();
    const channel = this.channel;
    if (channel && this.consumerTag) await channel.cancel(this.consumerTag).catch(() => undefined);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    this.channel = null;
    if (channel) await channel.close().catch(() => undefined);
  }

  private async setup(): Promise<void> {
    this.setupAbort?.abort();
    const abort = new AbortController();
    this.setupAbort = abort;
    try {
      await this.retry.execute(() => this.open(abort.signal), abort.signal);
    } catch (error) {
      if (!abort.signal.aborted) this.log.error({ err: (error as Error).message }, 'consumer setup gave up');
    }
  }

  private async open(signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.cancelled) return;
    const channel = await this.connection.current().createConfirmChannel();
    if (signal.aborted || this.cancelled) {
      await channel.close().catch(() => undefined);
      return;
    }
    channel.on('error', (error: Error) => this.log.warn({ err: error.message }, 'consumer channel error'));
    channel.once('close', () => {
      if (this.channel !== channel) return;
      this.channel = null;
      this.consumerTag = null;
      // A channel lost on a live connection (e.g. a channel-level error) is re-opened here;
      // a lost connection re-opens it through onConnect.
      if (!this.cancelled && this.connection.connected) void this.setup();
    });
    await channel.prefetch(this.options.prefetch);
    this.channel = channel;
    const { consumerTag } = await channel.consume(this.queue.queue, (message) => {
      if (!message) return; // cancelled by the broker (queue deleted): the channel close re-subscribes
      const work = this.handle(channel, message).finally(() => this.inFlight.delete(work));
      this.inFlight.add(work);
    });
    this.consumerTag = consumerTag;
    this.log.info({ prefetch: this.options.prefetch }, 'consuming');
  }

  private async handle(channel: ConfirmChannel, message: ConsumeMessage): Promise<void> {
    const headers = message.properties.headers ?? {};
    const attempt = Number(headers[ATTEMPT_HEADER] ?? 1) || 1;
    try {
      const decoded = decodeMessage(message.content);
      await this.handler(decoded, { attempt, redelivered: message.fields.redelivered });
      settle(() => channel.ack(message));
      consumerResults.inc({ outcome: 'ack' });
    } catch (error) {
      const reason = describeFailure(error, attempt);
      if (onHandlerFailure(error, attempt, this.options.maxAttempts) === 'retry') {
        this.log.warn({ messageId: message.properties.messageId, attempt, reason }, 'message failed; will retry');
        await this.forward(
          channel,
          message,
          '',
          this.queue.retry,
          {
            [ATTEMPT_HEADER]: attempt + 1,
            [REASON_HEADER]: reason,
          },
          { expiration: String(this.options.retryDelayMs) },
        );
        consumerResults.inc({ outcome: 'retry' });
      } else {
        this.log.error({ messageId: message.properties.messageId, attempt, reason }, 'message dead-lettered');
        await this.forward(channel, message, this.connection.names.dlx, message.fields.routingKey, {
          [ATTEMPT_HEADER]: attempt,
          [REASON_HEADER]: reason,
        });
        consumerResults.inc({ outcome: 'dead_lettered' });
      }
    }
  }

  /**
   * Republishes the message (confirmed) and only then acks the original: a crash in between
   * duplicates it, never loses it. If the republish fails the original is rejected to the
   * queue's dead-letter exchange; if the channel is gone the broker redelivers it.
   */
  private async forward(
    channel: ConfirmChannel,
    message: ConsumeMessage,
    exchange: string,
    routingKey: string,
    headers: Record<string, unknown>,
    extra: Options.Publish = {},
  ): Promise<void> {
    const properties: Options.Publish = {
      ...message.properties,
      ...extra,
      persistent: true,
      headers: {
        ...withoutBrokerDeathHeaders(message.properties.headers),
        [ROUTING_KEY_HEADER]: (message.properties.headers?.[ROUTING_KEY_HEADER] as unknown) ?? message.fields.routingKey,
        ...headers,
      },
    };
    try {
      await new Promise<void>((resolve, reject) => {
        channel.publish(exchange, routingKey, message.content, properties, (error) => (error ? reject(error) : resolve()));
      });
      settle(() => channel.ack(message));
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'could not republish a failed message; rejecting it');
      settle(() => channel.nack(message, false, false));
    }
  }
}

/** ack/nack on a channel that just closed throws; the broker redelivers such messages anyway. */
function settle(fn: () => void): void {
  try {
    fn();
  } catch {
    // channel closed: nothing to settle any more
  }
}

/** x-death bookkeeping is the broker's; we count attempts in our own header. */
function withoutBrokerDeathHeaders(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers ?? {}).filter(([key]) => !/^x-(first-|last-)?death/.test(key)));
}
