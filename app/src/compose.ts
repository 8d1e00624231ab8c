/**
 * The composition root: wires the api's services (composeApi) and the worker role's workers
 * (startWorkers) onto a pool, choosing the adapters. Shared by main.ts and the tests, so both run the
 * same graph; nothing else constructs an adapter.
 */
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { BcryptPasswordHasher } from './adapters/crypto/bcrypt';
import { createMailer } from './adapters/mailer';
import { MemoryEventBus, MemoryExchange } from './adapters/memory/event-bus';
import { PostgresPaymentOutcomes, sampleSagaStates } from './adapters/postgres/saga';
import { PostgresHoldExpiry } from './adapters/postgres/expiry';
import { PostgresNotifications } from './adapters/postgres/notifications';
import { PostgresOutbox, PostgresOutboxWakeUps } from './adapters/postgres/outbox';
import { sampleTopEvents } from './adapters/postgres/sales';
import { AmqpConnection } from './adapters/rabbitmq/connection';
import { RabbitConsumer } from './adapters/rabbitmq/consumer';
import { RabbitPublisher } from './adapters/rabbitmq/publisher';
import { sampleQueueDepth } from './adapters/rabbitmq/queue-depth';
import { PAYMENTS_BINDINGS, SAGA_BINDINGS, sagaQueue, topologyNames } from './adapters/rabbitmq/topology';
import { JwtAccessTokenCodec } from './adapters/crypto/jwt';
import { GitHubProvider, OpenIdConnectProvider } from './adapters/oauth/providers';
import { PostgresAuditLog } from './adapters/postgres/audit';
import { PostgresAuditReader } from './adapters/postgres/audit-query';
import { PostgresBookingStore } from './adapters/postgres/bookings';
import { PostgresEventStore } from './adapters/postgres/events';
import { PostgresIdentityStore } from './adapters/postgres/identities';
import { PostgresHoldSchedule } from './adapters/postgres/holds';
import { PostgresRefreshTokenStore } from './adapters/postgres/refresh-tokens';
import { PostgresSessionStore } from './adapters/postgres/sessions';
import { listenForTokenVersionChanges } from './adapters/postgres/token-version-changes';
import { warmPool } from './adapters/postgres/pool';
import { PostgresUserStore } from './adapters/postgres/users';
import { createCacheBackends } from './adapters/redis';
import type { Config } from './config';
import { API_BASE, createApp } from './http/app';
import { clientIpOf } from './http/client-ip';
import { corsPolicy } from './http/cors';
import { rateLimits } from './http/rate-limit';
import { graphqlRouter } from './graphql/handler';
import { createGrpcServer } from './grpc/server';
import { FailureReporter } from './observability/failures';
import { bookingCounters } from './observability/metrics';
import type { Logger } from './observability/logger';
import type { OAuthProviderName } from './domain/oauth';
import type { Clock, EventConsumer, EventPublisher, HealthCheck, IdentityProvider, Mailer } from './ports';
import { AuditService } from './services/audit';
import { AuthService } from './services/auth';
import { BookingService } from './services/bookings';
import { EventCache } from './services/event-cache';
import { EventService } from './services/events';
import { OAuthService } from './services/oauth';
import { TokenVersions } from './services/token-versions';
import { UserService } from './services/users';
import { HoldExpirySweeper } from './workers/expiry-sweeper';
import { Notifier } from './workers/notifier';
import { OutboxRelay } from './workers/outbox-relay';
import { PaymentSaga } from './workers/saga';

export const systemClock: Clock = { now: () => new Date() };

export interface ApiOptions {
  pool: Pool;
  config: Config;
  logger: Logger;
  jwtSecret: string;
  health: HealthCheck[];
  metrics: Registry;
  isShuttingDown: () => boolean;
  clock?: Clock;
  /** The process's failure reporter, shared with its workers so an outage is one incident (main.ts). */
  failures?: FailureReporter;
}

/**
 * Opens DB_POOL_MIN connections first (`warmup`; readiness is down until then). With REDIS_URL the cache, rate limits and token versions live in Redis (its readiness check,
 * non-critical, is appended to `options.health`); without it, in-process stand-ins. `close()`
 * releases the Redis connection.
 */
export function composeApi(options: ApiOptions) {
  const { pool, config, logger } = options;
  const clock = options.clock ?? systemClock;
  // Readiness (the pool's postgres check) stays down until the connections are open.
  const warmup = warmPool(pool, config.database.poolMin, {
    onError: (error) => logger.warn({ err: error, min: config.database.poolMin }, 'postgres pool warm-up failed; retrying'),
  }).then((open) => {
    if (open > 0) logger.info({ connections: open, min: config.database.poolMin }, 'postgres pool warm');
    return open;
  });
  const users = new PostgresUserStore(pool);
  const audit = new PostgresAuditLog(pool);
  const backends = createCacheBackends({ url: config.redisUrl, logger: options.logger, ...config.redis });
  options.health.push(...backends.health);
  const eventCache = new EventCache({
    cache: backends.cache,
    ttlMs: config.cache.ttlMs,
    soldOutTtlMs: config.cache.soldOutTtlMs,
    localTtlMs: config.cache.localTtlMs,
  });
  const tokenVersions = new TokenVersions({
    users,
    cache: backends.cache,
    ttlMs: config.cache.tokenVersionTtlMs,
    localTtlMs: config.cache.localTtlMs,
  });
  // Revocation through any replica reaches this one through PostgreSQL, even when that replica cannot reach Redis.
  const versionChanges = listenForTokenVersionChanges(pool, logger, {
    changed: (userId) => tokenVersions.changedElsewhere(userId),
    missed: () => tokenVersions.forgetAll(),
  });
  const accessTokens = new JwtAccessTokenCodec({
    secret: options.jwtSecret,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    ttlMs: config.auth.accessTokenTtlMs,
  });
  const auth = new AuthService({
    users,
    refreshTokens: new PostgresRefreshTokenStore(pool),
    hasher: new BcryptPasswordHasher(config.auth.bcryptCost),
    accessTokens,
    audit,
    clock,
    refreshTokenTtlMs: config.auth.refreshTokenTtlMs,
    tokenVersions,
    sessions: new PostgresSessionStore(pool),
  });
  // A batch stuck on a dead connection fails at the pool's query deadline; a reservation that
  // could not start within the request's own deadline is not started at all.
  const bookingStore = new PostgresBookingStore(pool, {
    deadlineMs: config.database.queryTimeoutMs,
    maxWaitMs: Math.max(1_000, config.http.requestTimeoutMs - config.database.queryTimeoutMs),
  });
  options.health.push(bookingStore.healthCheck());
  const services = {
    auth,
    users: new UserService({ users, audit, tokenVersions }),
    events: new EventService({ events: new PostgresEventStore(pool), audit, cache: eventCache, clock }),
    bookings: new BookingService({
      bookings: bookingStore,
      clock,
      holdMs: config.bookingHoldMs,
      paymentWindowMs: config.payments.windowMs,
      cache: eventCache,
      holds: new PostgresHoldSchedule(pool),
      audit,
      recorder: bookingCounters,
    }),
    audit: new AuditService({ reader: new PostgresAuditReader(pool) }),
    oauth: new OAuthService({
      providers: identityProviders(config),
      oneTime: backends.oneTime,
      identities: new PostgresIdentityStore(pool),
      users,
      audit,
      sessionsEnded: (userId) => tokenVersions.changed(userId),
      issueTokensFor: (userId) => auth.issueTokensFor(userId),
      redirectUri: (provider) => `${config.oauth.redirectBaseUrl}${API_BASE}/auth/oauth/${provider}/callback`,
    }),
  };
  const clientIp = clientIpOf(config.http.trustProxy);
  const limits = rateLimits({ limiters: backends.limiters, policies: config.rateLimits, clientIp, audit });
  const graphql = graphqlRouter({
    services,
    logger,
    http: {
      bodyLimit: config.http.bodyLimit,
      requestTimeoutMs: config.http.requestTimeoutMs,
      corsPolicy: corsPolicy(config.http.corsOrigins ?? []),
    },
    limits,
    clientIp,
    production: config.production,
  });
  const grpc = createGrpcServer({
    services,
    logger,
    limits,
    health: options.health,
    isShuttingDown: options.isShuttingDown,
    maxReceiveBytes: config.grpc.maxReceiveBytes,
    accessLogCachedReadEvery: config.http.accessLogCachedReadEvery,
  });
  const app = createApp({
    logger: options.logger,
    ...services,
    health: options.health,
    metrics: options.metrics,
    http: config.http,
    oauthLimiter: config.rateLimits.oauth.points > 0 ? backends.limiters.create('oauth', config.rateLimits.oauth) : null,
    rateLimits: limits,
    edges: [graphql],
    isShuttingDown: options.isShuttingDown,
    failures: options.failures,
  });
  return {
    app,
    grpc,
    services,
    rateLimits: limits,
    accessTokens,
    userStore: users,
    bookingStore,
    cache: backends.cache,
    warmup,
    close: async () => {
      await versionChanges.close();
      await backends.close();
    },
  };
}

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
  /** The process's failure reporter (shared with the api in one process, main.ts); default: one for all the workers. */
  failures?: FailureReporter;
  /** Without AMQP_URL: the in-process broker the payments role of the same process shares (main.ts makes one). */
  memoryBroker?: MemoryBroker;
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
    new MemoryEventBus({
      prefetch: m.notifierPrefetch,
      maxAttempts: m.notifierMaxAttempts,
      retryDelayMs: m.notifierRetryDelayMs,
      logger,
      bindings,
    });
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

/** Wires and starts the `worker` role: the outbox relay, the notifier and the hold-expiry sweeper. */
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
    closers.push(
      () => connection.close(),
      () => rabbitPublisher.close(),
    );
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
    outbox: new PostgresOutbox(pool),
    wakeUps: new PostgresOutboxWakeUps(pool, logger.child({ component: 'outbox-relay' })),
    publisher,
    logger,
    failures,
    pollIntervalMs: m.outboxPollIntervalMs,
    batchSize: m.outboxBatchSize,
    retentionMs: m.outboxRetentionMs,
  });
  health.push(relay.healthCheck());
  const notifier = new Notifier({ consumer, notifications: new PostgresNotifications(pool), mailer, logger });
  const saga = new PaymentSaga({ consumer: sagaConsumer, outcomes: new PostgresPaymentOutcomes(pool), logger, recorder: bookingCounters });
  const sweeper = new HoldExpirySweeper({
    expiry: new PostgresHoldExpiry(pool),
    logger,
    intervalMs: m.expirySweepIntervalMs,
    batchSize: m.expiryBatchSize,
    failures,
  });

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

/** The configured providers (a provider without a client id is off). */
function identityProviders(config: Config): Map<OAuthProviderName, IdentityProvider> {
  const providers = new Map<OAuthProviderName, IdentityProvider>();
  const { google, github, timeoutMs } = config.oauth;
  if (google)
    providers.set(
      'google',
      new OpenIdConnectProvider('google', new URL(google.issuer), {
        clientId: google.clientId,
        clientSecret: google.clientSecret,
        timeoutMs,
      }),
    );
  if (github) {
    providers.set(
      'github',
      new GitHubProvider(
        { baseUrl: new URL(github.baseUrl), apiUrl: new URL(github.apiUrl) },
        { clientId: github.clientId, clientSecret: github.clientSecret, timeoutMs },
      ),
    );
  }
  return providers;
}
