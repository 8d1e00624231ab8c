/**
 * Composition root. `node build/app/main.js <role>`:
 *   api      HTTP API
 *   worker   outbox relay, notifier, payment saga consumer, hold-expiry sweeper (+ health and metrics over HTTP)
 *   payments the payments service: charges, refunds, reconciliation, the provider's webhook (+ health and metrics)
 *   migrate  apply SQL migrations (the booking side's and the payments service's) and exit
 *   all      api + worker + payments in one process, migrating first (the local default)
 */
// First: OpenTelemetry must patch http, express, pg, amqplib before they load (on only with OTEL_EXPORTER_OTLP_ENDPOINT).
import { shutdownTracing } from './observability/tracing';
import type { RequestListener } from 'node:http';
import { createServer } from 'node:net';
import express from 'express';
import { ServiceUnavailableError, StartupError } from './domain/errors';
import { lockDataDir } from './adapters/local-instance';
import { localJwtSecret } from './adapters/local-jwt-secret';
import { startEmbeddedPostgres } from './adapters/postgres/embedded';
import { migrate, schemaHealthCheck } from './adapters/postgres/migrate';
import { unavailableReason } from './adapters/postgres/errors';
import { createPool, postgresHealthCheck } from './adapters/postgres/pool';
import { ConfigError, loadConfig, type Config, type ConfigRole } from './config';
import { healthRouter } from './http/health';
import { closeServer, listen } from './http/server';
import { startErrorTracking } from './observability/error-tracking';
import { FailureReporter } from './observability/failures';
import { createLogger, type Logger } from './observability/logger';
import { redactText } from './observability/redact';
import { observePool, registry } from './observability/metrics';
import type { Closeable, HealthCheck } from './ports';
import { composeApi, createMemoryBroker, startWorkers } from './compose';
import type { GrpcEdge } from './grpc/server';
import { migratePayments, paymentsSchemaHealthCheck, startPayments } from './payments';
import { WEBHOOK_PATH } from './payments/webhook';

export const ROLES = ['api', 'worker', 'payments', 'migrate', 'all'] as const satisfies readonly ConfigRole[];
export type ProcessRole = (typeof ROLES)[number];

export async function main(role: ProcessRole, config: Config, logger: Logger): Promise<void> {
  // Sentry when SENTRY_DSN is set: every bug of this process, one event per incident (error-tracking.ts)
  const tracker = startErrorTracking({ ...config.errorTracking, role });
  const processFailures = new FailureReporter(logger, { tracker });
  if (tracker) process.on('unhandledRejection', (reason) => tracker.captureError(reason, { source: 'process' }));
  /** Closed in reverse order on shutdown. */
  const closers: Array<{ name: string } & Closeable> = [{ name: 'tracing', close: shutdownTracing }];
  if (tracker) closers.push({ name: 'error-tracking', close: async () => void (await tracker.flush()) });
  let shuttingDown = false;

  const shutdown = async (reason: string, exitCode: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ reason }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    for (const closer of closers.reverse()) {
      await closer.close().catch((error: unknown) => logger.error({ err: error, component: closer.name }, 'close failed'));
    }
    clearTimeout(deadline);
    logger.info('stopped');
    process.exit(exitCode);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));
  // a closed terminal: stop the same way (the embedded PostgreSQL with it)
  process.once('SIGHUP', () => void shutdown('SIGHUP', 0));

  let databaseUrl = config.database.url;
  try {
    // one instance per data folder: a second make run says who holds it (first: its ports are that
    // instance's too), released after the cluster stopped
    if (!databaseUrl) {
      const lock = lockDataDir(config.dataDir);
      closers.push({ name: 'data-dir-lock', close: async () => lock.release() });
    }
    // before anything starts (embedded PostgreSQL, migrations, workers): a port in use is one line now, not a stack later
    if (role !== 'migrate') await ensurePortFree(config.http.host, config.http.port);
    if (role === 'api' || role === 'all') await ensurePortFree(config.http.host, config.grpc.port, 'GRPC_PORT');
    const backends: Record<string, string> = {};
    if (!databaseUrl) {
      const embedded = await startEmbeddedPostgres(config.dataDir, config.database.embeddedPort, (message) => logger.warn(message));
      closers.push({ name: 'embedded-postgres', close: () => embedded.stop() });
      databaseUrl = embedded.url;
      backends.postgres = `embedded (${config.dataDir}/postgres, port ${config.database.embeddedPort})`;
    } else {
      backends.postgres = redactText(databaseUrl);
    }
    const pool = createPool({
      url: databaseUrl,
      max: config.database.poolMax,
      statementTimeoutMs: config.database.statementTimeoutMs,
      queryTimeoutMs: config.database.queryTimeoutMs,
      connectTimeoutMs: config.database.connectTimeoutMs,
      applicationName: `goticket-${role}`,
      // a reset or a dead connection: one line per incident, however many connections it takes
      // (not while stopping: pg-pool's end() resolves before its clients' sockets are closed, so the
      // embedded cluster's stop right after it may still cut one: expected, not an incident)
      onConnectionError: (error) => {
        if (!shuttingDown)
          processFailures.incidents.record('database connections lost', { reason: unavailableReason(error) ?? error.message });
      },
    });
    closers.push({ name: 'postgres-pool', close: () => pool.end() });
    observePool(pool);

    if (role === 'migrate' || role === 'all' || !config.database.url) {
      const applied = [...(await migrate(pool)), ...(await migratePayments(pool)).map((name) => `payments/${name}`)];
      logger.info({ applied }, applied.length ? 'migrations applied' : 'schema up to date');
      if (role === 'migrate') return void (await shutdown('migrations done', 0));
    }

    // The payments service owns its schema: its role applies its own migrations (idempotent, locked).
    if (role === 'payments' && config.database.url) await migratePayments(pool);

    // api and worker wait for the migrate Job: not ready (not serving) until the schema is this build's.
    // The payments role checks only its own schema (its prod role has no grant on the booking tables).
    const health: HealthCheck[] = [
      postgresHealthCheck(pool),
      role === 'payments' ? paymentsSchemaHealthCheck(pool) : schemaHealthCheck(pool),
    ];
    let handler: RequestListener;
    let grpcEdge: GrpcEdge | undefined;
    // Without AMQP_URL the worker and the payments service of this process share one in-process broker.
    const memoryBroker = config.amqpUrl ? undefined : createMemoryBroker(config, logger);

    if (role === 'api' || role === 'all') {
      const api = composeApi({
        pool,
        config,
        logger,
        jwtSecret: config.auth.jwtSecret ?? localSecret(config.dataDir, logger),
        health,
        metrics: registry,
        isShuttingDown: () => shuttingDown,
        failures: processFailures,
      });
      closers.push({ name: 'redis', close: api.close });
      if (config.auth.admin) {
        const outcome = await api.services.auth.bootstrapAdmin(config.auth.admin.email, config.auth.admin.password);
        if (outcome === 'not_admin') {
          logger.warn(
            { email: config.auth.admin.email, outcome },
            'admin bootstrap: ADMIN_EMAIL belongs to an account that is not an admin; it was not promoted (an admin can, with PATCH /api/v1/users/:id/role)',
          );
        } else logger.info({ email: config.auth.admin.email, outcome }, 'admin bootstrap');
      }
      handler = api.app;
      grpcEdge = api.grpc;
    } else {
      handler = express()
        .disable('x-powered-by')
        .use(healthRouter(health, () => shuttingDown, registry));
    }

    if (role === 'worker' || role === 'all') {
      const workers = await startWorkers({ config, pool, logger, memoryBroker, failures: processFailures });
      health.push(...workers.health);
      closers.push({ name: 'workers', close: () => workers.close() });
      backends.events = config.amqpUrl ? `rabbitmq (${redactText(config.amqpUrl)})` : 'memory (in-process; set AMQP_URL for RabbitMQ)';
    }

    let payments: Awaited<ReturnType<typeof startPayments>> | null = null;
    if (role === 'payments' || role === 'all') {
      payments = await startPayments({ config, pool, logger, memoryBroker });
      health.push(...payments.health);
      const started = payments;
      closers.push({ name: 'payments', close: () => started.close() });
      // The provider's webhook is served on this role's port; everything else goes where it went.
      const webhookApp = express().disable('x-powered-by').use(payments.router);
      const rest = handler;
      handler = (req, res) => {
        if ((req.url ?? '').startsWith(WEBHOOK_PATH)) webhookApp(req, res);
        else rest(req, res);
      };
      backends.payments = payments.localStripe
        ? `local Stripe-compatible server (${payments.localStripe.url}; set STRIPE_API_KEY for Stripe)`
        : `stripe (${config.payments.stripe.apiBase ?? 'api.stripe.com'})`;
    }

    const { server, url } = await listen(handler, config.http.host, config.http.port);
    closers.push({ name: 'http', close: () => closeServer(server) });
    payments?.listening(url.replace('://localhost:', '://127.0.0.1:'));
    if (grpcEdge) {
      const port = await grpcEdge.listen(config.http.host, config.grpc.port);
      // Closed before HTTP (closers run in reverse): NOT_SERVING at once, in-flight RPCs finish.
      closers.push({ name: 'grpc', close: () => grpcEdge.close(Math.floor(config.shutdownTimeoutMs * 0.75)) });
      backends.grpc = `port ${port}`;
    }
    backends.cache = config.redisUrl ? `redis (${redactText(config.redisUrl)})` : 'memory (in-process; set REDIS_URL for Redis)';
    logger.info({ role, url, backends }, `GoTicket ${role} listening on ${url}`);
  } catch (error) {
    const known = startupProblem(error, databaseUrl);
    if (known) logger.fatal({ reason: known.reason }, known.line);
    else {
      logger.fatal({ err: error }, 'startup failed');
      tracker?.captureError(error, { source: 'process', component: `${role} startup` });
    }
    await shutdown('startup failed', 1);
  }
}

/** Binds HOST:PORT for a moment, so a port in use stops the process before any work starts. */
export async function ensurePortFree(host: string, port: number, variable = 'PORT'): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = host === '0.0.0.0' || host === '::' ? '' : ` on ${host}`;
    if (code === 'EADDRINUSE')
      throw new StartupError(
        `${variable} ${port} is already in use${where}: stop what is using it, or set ${variable} to a free port`,
        'port in use',
      );
    if (code === 'EACCES')
      throw new StartupError(
        `${variable} ${port} needs privileges this user does not have: set ${variable} above 1023`,
        'port not allowed',
      );
    if (code === 'EADDRNOTAVAIL')
      throw new StartupError(`HOST ${host} is not an address of this machine: set HOST to one (0.0.0.0 for all)`, 'host not available');
    throw error;
  }
}

/** The one line for a failure a newcomer meets at startup (port in use, database unreachable); null for a bug. */
function startupProblem(error: unknown, databaseUrl: string | undefined): { line: string; reason: string } | null {
  if (error instanceof StartupError) return { line: error.message, reason: error.reason };
  if (error instanceof ServiceUnavailableError && error.dependency === 'database') {
    const where = databaseUrl ? ` at ${redactText(databaseUrl)}` : '';
    return {
      line: `database unreachable${where} (${error.reason}): check DATABASE_URL and that PostgreSQL is running`,
      reason: 'database unreachable',
    };
  }
  return null;
}

/** Local runs without JWT_SECRET sign with a key kept in DATA_DIR (production refuses to start without one). */
function localSecret(dataDir: string, logger: Logger): string {
  const { secret, file, created } = localJwtSecret(dataDir);
  logger.warn(
    { file },
    `JWT_SECRET is not set: ${created ? 'generated a local signing key' : 'using the local signing key'} (kept across restarts; production requires JWT_SECRET)`,
  );
  return secret;
}

if (require.main === module) {
  const role = (process.argv[2] ?? 'all') as ProcessRole;
  if (!ROLES.includes(role)) {
    console.error(`usage: main.js <${ROLES.join('|')}> (got "${role}")`);
    process.exit(2);
  }
  let config: Config;
  try {
    config = loadConfig(process.env, role);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel, pretty: !config.production && process.stdout.isTTY, asyncStdout: true });
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
  void main(role, config, logger);
}
