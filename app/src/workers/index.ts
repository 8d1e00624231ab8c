import type { Pool } from 'pg';
import { createMailer } from '../adapters/mailer';
import { MemoryEventBus, MemoryExchange } from '../adapters/memory/event-bus';
import { PostgresNotifications } from '../adapters/postgres/notifications';
import { sampleTopEvents } from '../adapters/postgres/sales';
import { AmqpConnection } from '../adapters/rabbitmq/connection';
import { RabbitConsumer } from '../adapters/rabbitmq/consumer';
import { RabbitPublisher } from '../adapters/rabbitmq/publisher';
import { sampleQueueDepth } from '../adapters/rabbitmq/queue-depth';
import { PAYMENTS_BINDINGS, SAGA_BINDINGS, sagaQueue, topologyNames } from '../adapters/rabbitmq/topology';
import { PostgresPaymentOutcomes, sampleSagaStates } from '../adapters/postgres/saga';
import type { Config } from '../config';
import { FailureReporter } from '../observability/failures';
import type { Logger } from '../observability/logger';
import type { EventConsumer, EventPublisher, HealthCheck, Mailer } from '../ports';
import { HoldExpirySweeper } from './expiry-sweeper';
import { Notifier } from './notifier';
import { OutboxRelay } from './outbox-relay';
import { PaymentSaga } from './saga';

export interface Workers {
  /** `rabbitmq` and `outbox-relay` are critical: the worker is not ready while the broker is unreachable or the relay is stuck. */
  health: HealthCheck[];
  /** Stops polling, cancels consumers, waits for in-flight work, closes channels and connections. */
  close(): Promise<void>;
}

export interface WorkerDeps {
  config: Config;
  pool: Pool;
  logger: Logger;
  /** Overrides the mailer chosen from config (SMTP_URL → SMTP, else the log). */
  mailer?: Mailer;
  /** Without AMQP_URL: the in-process broker the payments role of the same process shares (main.ts makes one). */
  memoryBroker?: MemoryBroker;
  /** The process's failure reporter (shared with the api in one process, main.ts); default: one for all the workers. */
  failures?: FailureReporter;
}

/** The in-process stand-in for the broker: one exchange, a queue per consumer (AMQP_URL unset, local runs only). */
export interface MemoryBroker {
  exchange: MemoryExchange;
  notifications: MemoryEventBus;
  payments: MemoryEventBus;
  saga: MemoryEventBus;
}

export function createMemoryBroker(config: Config, logger?: Logger): MemoryBroker {
  const m = config.messaging;
  const queue = (bindings?: readonly string[]) =>
    new MemoryEventBus({ prefetch: m.notifierPrefetch, maxAttempts: m.notifierMaxAttempts, retryDelayMs: m.notifierRetryDelayMs, logger, bindings });
  const notifications = queue();
  const payments = new MemoryEventBus({
    prefetch: config.payments.prefetch,
    maxAttempts: config.payments.maxAttempts,
    retryDelayMs: config.payments.retryDelayMs,
    logger,
    bindings: PAYMENTS_BINDINGS,
  });
  const saga = queue(SAGA_BINDINGS);
  return { exchange: new MemoryExchange([notifications, payments, saga]), notifications, payments, saga };
}

/** Starts the outbox relay, the notifier, the payment saga's consumer and the hold-expiry sweeper (the `worker` role). */
export async function startWorkers(deps: WorkerDeps): Promise<Workers> {
  const { config, pool } = deps;
  const m = config.messaging;
  const logger = deps.logger.child({ role: 'worker' });
  // one reporter for every loop: a database outage met by the relay and the sweeper is one incident
  const failures = deps.failures ?? new FailureReporter(logger);
  const mailer = deps.mailer ?? createMailer({ smtpUrl: m.smtpUrl, from: m.mailFrom, logger });
  const health: HealthCheck[] = [];
  const closers: Array<() => Promise<void>> = [];

  let publisher: EventPublisher;
  let consumer: EventConsumer;
  let sagaConsumer: EventConsumer;
  if (config.amqpUrl) {
    const connection = new AmqpConnection({
      url: config.amqpUrl,
      names: topologyNames(m.amqpPrefix),
      logger,
      reconnect: { initialDelayMs: 100, maxDelayMs: m.reconnectMaxDelayMs },
    });
    connection.start();
    const rabbitPublisher = new RabbitPublisher(connection, { logger, maxHalfOpenAfterMs: m.reconnectMaxDelayMs });
    publisher = rabbitPublisher;
    consumer = new RabbitConsumer(connection, {
      logger,
      prefetch: m.notifierPrefetch,
      maxAttempts: m.notifierMaxAttempts,
      retryDelayMs: m.notifierRetryDelayMs,
    });
    sagaConsumer = new RabbitConsumer(connection, {
      logger,
      prefetch: m.notifierPrefetch,
      maxAttempts: m.notifierMaxAttempts,
      retryDelayMs: m.notifierRetryDelayMs,
      queue: sagaQueue(connection.names),
    });
    health.push({ name: 'rabbitmq', critical: true, check: async () => (connection.connected ? 'up' : 'down') });
    closers.push(() => connection.close(), () => rabbitPublisher.close());
    const depth = sampleQueueDepth(connection);
    closers.push(() => depth.close());
    logger.info({ prefix: m.amqpPrefix }, 'event bus: RabbitMQ');
  } else {
    const broker = deps.memoryBroker ?? createMemoryBroker(config, logger);
    publisher = broker.exchange;
    consumer = broker.notifications;
    sagaConsumer = broker.saga;
    logger.warn('AMQP_URL not set: using the in-process memory event bus (events do not leave this process, nothing survives a restart)');
  }

  const relay = new OutboxRelay({
    pool,
    publisher,
    logger,
    pollIntervalMs: m.outboxPollIntervalMs,
    batchSize: m.outboxBatchSize,
    retentionMs: m.outboxRetentionMs,
    failures,
  });
  health.push(relay.healthCheck());
  const notifier = new Notifier({ consumer, notifications: new PostgresNotifications(pool), mailer, logger });
  const saga = new PaymentSaga({ consumer: sagaConsumer, outcomes: new PostgresPaymentOutcomes(pool), logger });
  const sweeper = new HoldExpirySweeper({ pool, logger, intervalMs: m.expirySweepIntervalMs, batchSize: m.expiryBatchSize, failures });

  const sales = sampleTopEvents(pool, logger);
  closers.push(() => sales.close());
  const states = sampleSagaStates(pool, logger);
  closers.push(() => states.close());
  await notifier.start();
  await saga.start();
  await relay.start();
  sweeper.start();
  logger.info('workers started: outbox relay, notifier, payment saga, hold-expiry sweeper');

  let closing: Promise<void> | null = null;
  return {
    health,
    close() {
      closing ??= (async () => {
        // Producers first, then the consumer (waits for in-flight messages), then connections.
        await Promise.all([relay.close(), sweeper.close()]);
        await notifier.close();
        await saga.close();
        for (const close of closers.reverse()) await close().catch(() => undefined);
        await mailer.close?.().catch(() => undefined);
        logger.info('workers stopped');
      })();
      return closing;
    },
  };
}
