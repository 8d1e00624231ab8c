import type { Logger } from '../../observability/logger';
import { consumerResults } from '../../observability/metrics';
import type { DomainMessage, EventConsumer, EventPublisher, MessageHandler, PublishResult, Subscription } from '../../ports';
import { decodeMessage, describeFailure, encodeMessage, onHandlerFailure } from '../rabbitmq/message';
import { NOTIFICATIONS_BINDINGS } from '../rabbitmq/topology';

export interface DeadLetter {
  body: string;
  routingKey: string;
  reason: string;
}

export interface MemoryEventBusOptions {
  prefetch: number;
  maxAttempts: number;
  retryDelayMs: number;
  logger?: Logger;
  /** Routing keys this queue is bound to, AMQP topic patterns (default: the notifications binding, `booking.*`). */
  bindings?: readonly string[];
}

interface Queued {
  body: string;
  routingKey: string;
  attempt: number;
}

/** An AMQP topic binding as a RegExp: `*` is one word, `#` any number of words. */
export const topicPattern = (binding: string) =>
  new RegExp(
    `^${binding
      .split('.')
      .map((word) => (word === '*' ? '[^.]+' : word === '#' ? '.*' : word.replace(/[^\w-]/g, '\\$&')))
      .join('\\.')}$`,
  );

/**
 * In-process stand-in for RabbitMQ when AMQP_URL is unset (local runs only): the same routing,
 * the same JSON on the wire, the same retry / dead-letter rules, nothing survives a restart.
 */
export class MemoryEventBus implements EventPublisher, EventConsumer {
  readonly deadLetters: DeadLetter[] = [];
  private readonly queue: Queued[] = [];
  private handler: MessageHandler | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private readonly patterns: RegExp[];

  constructor(private readonly options: MemoryEventBusOptions) {
    this.patterns = (options.bindings ?? NOTIFICATIONS_BINDINGS).map(topicPattern);
  }

  async publish(messages: readonly DomainMessage[]): Promise<PublishResult[]> {
    for (const message of messages) this.publishRaw(message.type, encodeMessage(message).toString());
    return messages.map((m) => ({ id: m.id, ok: true as const }));
  }

  /** What would arrive from the exchange with this routing key and body (tests inject poison with it). */
  publishRaw(routingKey: string, body: string): void {
    if (!this.patterns.some((p) => p.test(routingKey))) return; // no queue bound: dropped, as by a topic exchange
    this.queue.push({ body, routingKey, attempt: 1 });
    this.pump();
  }

  /** Messages waiting for the consumer (not counting those in flight or waiting to be retried). */
  get depth(): number {
    return this.queue.length;
  }

  async consume(handler: MessageHandler): Promise<Subscription> {
    if (this.handler) throw new Error('the memory bus supports one consumer');
    this.handler = handler;
    this.pump();
    return {
      cancel: async () => {
        this.handler = null;
        for (const timer of this.timers) clearTimeout(timer);
        this.timers.clear();
        while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      },
    };
  }

  private pump(): void {
    while (this.handler && this.inFlight.size < this.options.prefetch && this.queue.length > 0) {
      const item = this.queue.shift()!;
      const handler = this.handler;
      const work = this.deliver(handler, item).finally(() => {
        this.inFlight.delete(work);
        this.pump();
      });
      this.inFlight.add(work);
    }
  }

  private async deliver(handler: MessageHandler, item: Queued): Promise<void> {
    // Yield first: a synchronous publisher never runs the handler inline.
    await Promise.resolve();
    try {
      await handler(decodeMessage(item.body), { attempt: item.attempt, redelivered: false });
      consumerResults.inc({ outcome: 'ack' });
    } catch (error) {
      const reason = describeFailure(error, item.attempt);
      if (onHandlerFailure(error, item.attempt, this.options.maxAttempts) === 'retry') {
        consumerResults.inc({ outcome: 'retry' });
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.queue.push({ ...item, attempt: item.attempt + 1 });
          this.pump();
        }, this.options.retryDelayMs);
        this.timers.add(timer);
      } else {
        consumerResults.inc({ outcome: 'dead_lettered' });
        this.options.logger?.error({ routingKey: item.routingKey, reason }, 'message dead-lettered');
        this.deadLetters.push({ body: item.body, routingKey: item.routingKey, reason });
      }
    }
  }
}

/** Several in-process queues behind one exchange: every message goes to each queue whose binding matches it. */
export class MemoryExchange implements EventPublisher {
  constructor(private readonly queues: readonly MemoryEventBus[]) {}

  async publish(messages: readonly DomainMessage[]): Promise<PublishResult[]> {
    for (const queue of this.queues) await queue.publish(messages);
    return messages.map((m) => ({ id: m.id, ok: true as const }));
  }
}
