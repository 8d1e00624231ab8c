import { once } from 'node:events';
import type { ConfirmChannel, Options } from 'amqplib';
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleAll, type CircuitBreakerPolicy } from 'cockatiel';
import type { Logger } from '../../observability/logger';
import { withRemoteContext } from '../../observability/trace-context';
import type { DomainMessage, EventPublisher, PublishResult } from '../../ports';
import type { AmqpConnection } from './connection';
import { encodeMessage } from './message';

export interface RabbitPublisherOptions {
  logger: Logger;
  /** A batch whose confirms do not all arrive within this fails (and the channel is replaced). */
  confirmTimeoutMs?: number;
  /** Consecutive failed batches that open the circuit. */
  breakAfter?: number;
  /** Longest the circuit stays open before a trial batch. */
  maxHalfOpenAfterMs?: number;
}

class BatchFailedError extends Error {
  constructor(readonly results: PublishResult[]) {
    super(`${results.filter((r) => !r.ok).length} of ${results.length} message(s) not confirmed`);
  }
}

/**
 * Publishes on a confirm channel: persistent JSON, messageId = outbox id, routing key = type.
 * A message counts as published only once the broker confirmed it. A circuit breaker (cockatiel)
 * fails batches fast while the broker keeps failing, and lets a trial batch through later.
 */
export class RabbitPublisher implements EventPublisher {
  private channel: ConfirmChannel | null = null;
  private opening: Promise<ConfirmChannel> | null = null;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly log: Logger;

  constructor(
    private readonly connection: AmqpConnection,
    private readonly options: RabbitPublisherOptions,
  ) {
    this.log = options.logger.child({ component: 'publisher' });
    this.breaker = circuitBreaker(handleAll, {
      halfOpenAfter: new ExponentialBackoff({ initialDelay: 250, maxDelay: options.maxHalfOpenAfterMs ?? 5_000 }),
      breaker: new ConsecutiveBreaker(options.breakAfter ?? 3),
    });
    this.breaker.onBreak(() => this.log.warn('publishing circuit open: broker failing, failing fast'));
    this.breaker.onReset(() => this.log.info('publishing circuit closed: broker confirms again'));
  }

  async publish(messages: readonly DomainMessage[]): Promise<PublishResult[]> {
    if (messages.length === 0) return [];
    try {
      return await this.breaker.execute(() => this.publishBatch(messages));
    } catch (error) {
      if (error instanceof BatchFailedError) return error.results;
      return messages.map((m) => ({ id: m.id, ok: false as const, error: error as Error }));
    }
  }

  async close(): Promise<void> {
    const channel = this.channel;
    this.channel = null;
    if (channel) await channel.close().catch(() => undefined);
  }

  private async publishBatch(messages: readonly DomainMessage[]): Promise<PublishResult[]> {
    const channel = await this.confirmChannel();
    const exchange = this.connection.names.events;
    const confirms: Array<Promise<PublishResult>> = [];
    for (const message of messages) {
      let writable = true;
      confirms.push(
        new Promise<PublishResult>((resolve) => {
          try {
            // In the trace of the request that wrote the outbox row: the consumer's span joins it.
            writable = withRemoteContext(messageHeaders(message), () =>
              channel.publish(exchange, message.type, encodeMessage(message), publishProperties(message), (error) =>
                resolve(error ? { id: message.id, ok: false, error: toError(error) } : { id: message.id, ok: true }),
              ),
            );
          } catch (error) {
            resolve({ id: message.id, ok: false, error: toError(error) });
          }
        }),
      );
      // Respect the socket's backpressure instead of buffering a whole batch in memory.
      if (!writable) await waitForDrain(channel);
    }
    const results = await this.withTimeout(channel, Promise.all(confirms), messages);
    if (results.some((r) => !r.ok)) throw new BatchFailedError(results);
    return results;
  }

  private async withTimeout(
    channel: ConfirmChannel,
    all: Promise<PublishResult[]>,
    messages: readonly DomainMessage[],
  ): Promise<PublishResult[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.options.confirmTimeoutMs ?? 5_000;
    const timeout = new Promise<PublishResult[]>((resolve) => {
      timer = setTimeout(() => {
        // Late confirms on this channel would be meaningless: drop it and open a fresh one next time.
        if (this.channel === channel) this.channel = null;
        channel.close().catch(() => undefined);
        const error = new Error(`no broker confirm within ${timeoutMs}ms`);
        resolve(messages.map((m) => ({ id: m.id, ok: false as const, error })));
      }, timeoutMs);
    });
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private confirmChannel(): Promise<ConfirmChannel> {
    if (this.channel) return Promise.resolve(this.channel);
    this.opening ??= (async () => {
      const channel = await this.connection.current().createConfirmChannel();
      channel.on('error', (error: Error) => this.log.warn({ err: error.message }, 'publisher channel error'));
      channel.once('close', () => {
        if (this.channel === channel) this.channel = null;
      });
      this.channel = channel;
      return channel;
    })().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }
}

function publishProperties(message: DomainMessage): Options.Publish {
  return {
    persistent: true,
    messageId: message.id,
    type: message.type,
    contentType: 'application/json',
    timestamp: Math.floor(Date.parse(message.occurredAt) / 1000),
    appId: 'goticket',
    headers: { ...messageHeaders(message) },
  };
}

function messageHeaders(message: DomainMessage): Record<string, unknown> {
  return (message as { headers?: Record<string, unknown> }).headers ?? {};
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function waitForDrain(channel: ConfirmChannel): Promise<void> {
  return Promise.race([once(channel, 'drain'), once(channel, 'close')]).then(() => undefined);
}
