/**
 * The `payments` role: the payments service's process. It owns schema `payments` (its own
 * migrations, outbox and inbox), consumes payment.requested and refund.requested from its own
 * queue, charges through the Stripe SDK, answers through its outbox (payment.succeeded,
 * payment.failed, refund.succeeded), serves the provider's webhook on its own port, and
 * reconciles payments stuck in processing. It never reads or writes the booking tables.
 */
import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import type { Router } from 'express';
import { migrate, schemaHealthCheck } from '../adapters/postgres/migrate';
import { PostgresOutbox, PostgresOutboxWakeUps } from '../adapters/postgres/outbox';
import { AmqpConnection } from '../adapters/rabbitmq/connection';
import { RabbitConsumer } from '../adapters/rabbitmq/consumer';
import { RabbitPublisher } from '../adapters/rabbitmq/publisher';
import { paymentsQueue, topologyNames } from '../adapters/rabbitmq/topology';
import { ConfigError, type Config } from '../config';
import type { Logger } from '../observability/logger';
import { paymentsProcessing } from '../observability/metrics';
import type { EventConsumer, EventPublisher, HealthCheck, Subscription } from '../ports';
import { OutboxRelay } from '../workers/outbox-relay';
import { WorkerLoop } from '../workers/loop';
import type { MemoryBroker } from '../compose';
import {
  PAYMENTS_OUTBOX,
  PAYMENTS_OUTBOX_CHANNEL,
  PAYMENTS_SCHEMA,
  PostgresPaymentStore,
  readPaymentMigrations,
} from './adapters/postgres';
import { createStripeClient, StripePaymentProvider, StripeWebhookVerifier } from './adapters/stripe';
import { LocalStripe } from './local-stripe';
import { PaymentService } from './service';
import { WEBHOOK_PATH, webhookRouter } from './webhook';

export interface PaymentsDeps {
  config: Config;
  pool: Pool;
  logger: Logger;
  /** Without AMQP_URL: the in-process broker shared with the worker of the same process. */
  memoryBroker?: MemoryBroker;
}

export interface PaymentsRole {
  health: HealthCheck[];
  /** The webhook route, mounted on the payments role's port. */
  router: Router;
  /** Set once the payments port listens: the local Stripe server posts its webhooks there. */
  listening(url: string): void;
  service: PaymentService;
  /** The local Stripe-compatible server when it stands in for Stripe (no STRIPE_API_KEY outside production). */
  localStripe: LocalStripe | null;
  close(): Promise<void>;
}

/** Applies the payments service's migrations (schema `payments`, tracked in payments.schema_migrations). */
export function migratePayments(pool: Pool): Promise<string[]> {
  return migrate(pool, readPaymentMigrations(), { schema: PAYMENTS_SCHEMA });
}

/**
 * The payments role's schema readiness: its own migrations in payments.schema_migrations, never the
 * booking side's public.schema_migrations (its prod role has no grant on schema public's tables).
 */
export function paymentsSchemaHealthCheck(pool: Pool): HealthCheck {
  return schemaHealthCheck(pool, readPaymentMigrations(), { schema: PAYMENTS_SCHEMA });
}

export async function startPayments(deps: PaymentsDeps): Promise<PaymentsRole> {
  const { config, pool } = deps;
  const p = config.payments;
  const m = config.messaging;
  const logger = deps.logger.child({ role: 'payments' });
  const closers: Array<() => Promise<void>> = [];
  const health: HealthCheck[] = [];

  let apiKey = p.stripe.apiKey;
  let apiBase = p.stripe.apiBase;
  let webhookSecret = p.stripe.webhookSecret;
  let localStripe: LocalStripe | null = null;
  if (!apiKey) {
    if (config.production)
      throw new ConfigError(
        'STRIPE_API_KEY',
        'is required in production for the payments role (the local Stripe-compatible server is for local runs)',
      );
    webhookSecret ??= `whsec_local_${randomBytes(16).toString('hex')}`;
    localStripe = new LocalStripe({ webhookSecret });
    apiBase = await localStripe.start();
    apiKey = 'sk_test_local';
    const stripe = localStripe;
    closers.push(() => stripe.close());
    logger.warn(
      { apiBase },
      'STRIPE_API_KEY not set: payments go to the local Stripe-compatible server (it stands in for Stripe; no money moves)',
    );
  }
  const stripe = createStripeClient({ apiKey, apiBase, timeoutMs: p.stripe.timeoutMs, maxNetworkRetries: p.stripe.maxNetworkRetries });
  const store = new PostgresPaymentStore(pool);
  const service = new PaymentService({ store, provider: new StripePaymentProvider(stripe), logger });
  const verifier = webhookSecret ? new StripeWebhookVerifier(stripe, webhookSecret) : null;
  if (!verifier) logger.warn('STRIPE_WEBHOOK_SECRET not set: the webhook refuses every event (reconciliation still resolves payments)');

  let publisher: EventPublisher;
  let consumer: EventConsumer;
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
      prefetch: p.prefetch,
      maxAttempts: p.maxAttempts,
      retryDelayMs: p.retryDelayMs,
      queue: paymentsQueue(connection.names),
    });
    health.push({ name: 'rabbitmq', critical: true, check: async () => (connection.connected ? 'up' : 'down') });
    closers.push(
      () => connection.close(),
      () => rabbitPublisher.close(),
    );
  } else {
    if (!deps.memoryBroker) throw new Error('the payments role needs AMQP_URL unless it shares the process (role all) with the worker');
    publisher = deps.memoryBroker.exchange;
    consumer = deps.memoryBroker.payments;
  }

  const relay = new OutboxRelay({
    outbox: new PostgresOutbox(pool, PAYMENTS_OUTBOX),
    wakeUps: new PostgresOutboxWakeUps(pool, logger.child({ component: 'payments-outbox-relay' }), PAYMENTS_OUTBOX_CHANNEL),
    publisher,
    logger,
    pollIntervalMs: m.outboxPollIntervalMs,
    batchSize: m.outboxBatchSize,
    retentionMs: m.outboxRetentionMs,
    name: 'payments-outbox-relay',
    onBacklog: () => undefined,
  });
  health.push(relay.healthCheck());

  const reconciliation = new WorkerLoop(
    async () => {
      const looked = await service.reconcile(p.stuckAfterMs);
      const inFlight = await store.inFlight(p.stuckAfterMs);
      paymentsProcessing.set({ state: 'processing' }, inFlight.processing);
      paymentsProcessing.set({ state: 'refunding' }, inFlight.refunding);
      paymentsProcessing.set({ state: 'stuck' }, inFlight.stuck);
      return looked === 100 ? 'more' : 'idle';
    },
    { name: 'payments-reconciliation', intervalMs: p.reconcileIntervalMs, failureDelayMs: p.reconcileIntervalMs, logger },
  );

  let subscription: Subscription | null = await consumer.consume(service.handle);
  await relay.start();
  reconciliation.start();
  logger.info(
    { provider: localStripe ? 'local Stripe-compatible server' : (apiBase ?? 'api.stripe.com') },
    'payments started: consumer, outbox relay, reconciliation, webhook',
  );

  let closing: Promise<void> | null = null;
  return {
    health,
    router: webhookRouter({ verifier, payments: service, logger }),
    listening(url) {
      localStripe?.configure({ webhookUrl: `${url}${WEBHOOK_PATH}` });
    },
    service,
    localStripe,
    close() {
      closing ??= (async () => {
        await subscription?.cancel();
        subscription = null;
        await Promise.all([relay.close(), reconciliation.stop()]);
        for (const close of closers.reverse()) await close().catch(() => undefined);
        logger.info('payments stopped');
      })();
      return closing;
    },
  };
}
