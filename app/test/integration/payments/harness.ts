/**
 * The whole saga in one test process, on the real servers: the API (HTTP, real PostgreSQL), the
 * worker (outbox relay, notifier, saga consumer, expiry sweeper) and the payments role (its own
 * schema, consumer, outbox relay, reconciliation, webhook on its own HTTP port), talking through
 * the real RabbitMQ under a prefix of their own, the Stripe SDK pointed at the local
 * Stripe-compatible server (started here on 127.0.0.1, port 0).
 */
import type { Server } from 'node:http';
import express from 'express';
import { loadConfig } from '../../../src/config';
import { closeServer, listen } from '../../../src/http/server';
import { migratePayments, startPayments, type PaymentsRole } from '../../../src/payments';
import { LocalStripe, type LocalStripeOptions } from '../../../src/payments/local-stripe';
import { startWorkers, type Workers } from '../../../src/compose';
import { startFromSource, type RunningService } from '../../e2e/process';
import { startTestApi, type TestApi } from '../../support/api';
import { TEST_AMQP_URL } from '../../support/env';
import { AmqpTestClient, quietLogger, RecordingMailer, testPrefix } from '../messaging/helpers';

export const WEBHOOK_SECRET = 'whsec_test_0123456789abcdef0123456789abcdef';

export interface Saga {
  api: TestApi;
  stripe: LocalStripe;
  mailer: RecordingMailer;
  workers: Workers;
  /** The in-process payments role (null when it runs as its own process). */
  payments: PaymentsRole | null;
  /** The separate `main.ts payments` process (when `paymentsProcess`), to SIGKILL. */
  paymentsProcess: RunningService | null;
  paymentsUrl: string;
  amqp: AmqpTestClient;
  env: Record<string, string>;
  /** Stops the payments role (as a crash would: nothing of it keeps running) and starts it again. */
  restartPayments(): Promise<void>;
  stopPayments(): Promise<void>;
  startPayments(): Promise<void>;
  close(): Promise<void>;
}

export interface SagaOptions {
  env?: Record<string, string>;
  stripe?: LocalStripeOptions;
  /** The AMQP URL the payments role uses (a TCP proxy's, to cut it); the api and worker use the broker directly. */
  paymentsAmqpUrl?: string;
  /** Run the payments role as its own process (`tsx app/src/main.ts payments`), which a test can SIGKILL. */
  paymentsProcess?: boolean;
  /** Serve the gRPC edge too (TestApi.grpcAddress). */
  grpc?: boolean;
}

export async function startSaga(options: SagaOptions = {}): Promise<Saga> {
  const prefix = testPrefix();
  const stripe = new LocalStripe({ webhookSecret: WEBHOOK_SECRET, ...options.stripe });
  const stripeUrl = await stripe.start();
  const env: Record<string, string> = {
    AMQP_URL: TEST_AMQP_URL,
    AMQP_PREFIX: prefix,
    AMQP_RECONNECT_MAX_DELAY: '500ms',
    OUTBOX_POLL_INTERVAL: '100ms',
    OUTBOX_BATCH_SIZE: '200',
    NOTIFIER_PREFETCH: '50',
    NOTIFIER_MAX_ATTEMPTS: '5',
    NOTIFIER_RETRY_DELAY: '100ms',
    EXPIRY_SWEEP_INTERVAL: '100ms',
    STRIPE_API_KEY: 'sk_test_goticket0123',
    STRIPE_API_BASE: stripeUrl,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_TIMEOUT: '3s',
    STRIPE_MAX_NETWORK_RETRIES: '2',
    PAYMENTS_RECONCILE_INTERVAL: '500ms',
    PAYMENTS_STUCK_AFTER: '1s',
    PAYMENTS_RETRY_DELAY: '200ms',
    PAYMENTS_MAX_ATTEMPTS: '3',
    RATE_LIMIT_WRITES: '0',
    RATE_LIMIT_READS: '0',
    ...options.env,
  };
  const api = await startTestApi(env, { grpc: options.grpc });
  await migratePayments(api.db.pool);
  const amqp = await AmqpTestClient.open(prefix);
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: api.db.url, ...env });
  const mailer = new RecordingMailer();
  const workers = await startWorkers({ config, pool: api.db.pool, logger: quietLogger, mailer });

  const paymentsEnv = { ...env, AMQP_URL: options.paymentsAmqpUrl ?? env.AMQP_URL! };
  const paymentsConfig = loadConfig({ NODE_ENV: 'test', DATABASE_URL: api.db.url, ...paymentsEnv });
  let payments: PaymentsRole | null = null;
  let child: RunningService | null = null;
  let server: Server | null = null;
  let paymentsUrl = '';
  const start = async () => {
    if (options.paymentsProcess) {
      child = await startFromSource('payments', {
        NODE_ENV: 'test',
        DATABASE_URL: api.db.url,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        ...paymentsEnv,
      });
      paymentsUrl = child.url.replace('://localhost:', '://127.0.0.1:');
    } else {
      payments = await startPayments({ config: paymentsConfig, pool: api.db.pool, logger: quietLogger });
      const listening = await listen(express().use(payments.router), '127.0.0.1', 0);
      server = listening.server;
      paymentsUrl = listening.url;
    }
    stripe.configure({ webhookUrl: `${paymentsUrl}/api/v1/payments/webhook` });
  };
  const stop = async () => {
    stripe.configure({ webhookUrl: undefined });
    if (server) await closeServer(server);
    await payments?.close();
    if (child && child.child.exitCode === null && child.child.signalCode === null) await child.stop();
    server = null;
    payments = null;
    child = null;
  };
  await start();
  const saga: Saga = {
    api,
    stripe,
    mailer,
    workers,
    get payments() {
      return payments;
    },
    get paymentsProcess() {
      return child;
    },
    get paymentsUrl() {
      return paymentsUrl;
    },
    amqp,
    env,
    restartPayments: async () => {
      await stop();
      await start();
    },
    stopPayments: stop,
    startPayments: start,
    async close() {
      await stop();
      await workers.close();
      await stripe.close();
      await amqp.cleanup();
      await api.close();
    },
  };
  return saga;
}
