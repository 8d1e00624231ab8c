/** Wires the API's services onto a pool. Shared by main.ts and the tests, so both run the same graph. */
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { BcryptPasswordHasher } from './adapters/crypto/bcrypt';
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
import type { FailureReporter } from './observability/failures';
import type { Logger } from './observability/logger';
import type { OAuthProviderName } from './domain/oauth';
import type { Clock, HealthCheck, IdentityProvider } from './ports';
import { AuditService } from './services/audit';
import { AuthService } from './services/auth';
import { BookingService } from './services/bookings';
import { EventCache } from './services/event-cache';
import { EventService } from './services/events';
import { OAuthService } from './services/oauth';
import { TokenVersions } from './services/token-versions';
import { UserService } from './services/users';

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
  const eventCache = new EventCache({ cache: backends.cache, ttlMs: config.cache.ttlMs, soldOutTtlMs: config.cache.soldOutTtlMs, localTtlMs: config.cache.localTtlMs });
  const tokenVersions = new TokenVersions({ users, cache: backends.cache, ttlMs: config.cache.tokenVersionTtlMs, localTtlMs: config.cache.localTtlMs });
  // Revocation through any replica reaches this one through PostgreSQL, even when that replica cannot reach Redis.
  const versionChanges = listenForTokenVersionChanges(pool, logger, { changed: (userId) => tokenVersions.changedElsewhere(userId), missed: () => tokenVersions.forgetAll() });
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
      cache: eventCache,
      holds: new PostgresHoldSchedule(pool),
      audit,
    }),
    audit: new AuditService({ reader: new PostgresAuditReader(pool) }),
    oauth: new OAuthService({
      providers: identityProviders(config),
      oneTime: backends.oneTime,
      identities: new PostgresIdentityStore(pool),
      users,
      audit,
      issueTokensFor: (userId) => auth.issueTokensFor(userId),
      redirectUri: (provider) => `${config.oauth.redirectBaseUrl}${API_BASE}/auth/oauth/${provider}/callback`,
    }),
  };
  const clientIp = clientIpOf(config.http.trustProxy);
  const limits = rateLimits({ limiters: backends.limiters, policies: config.rateLimits, clientIp, audit });
  const graphql = graphqlRouter({
    services,
    logger,
    http: { bodyLimit: config.http.bodyLimit, requestTimeoutMs: config.http.requestTimeoutMs, corsPolicy: corsPolicy(config.http.corsOrigins ?? []) },
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
  return { app, grpc, services, rateLimits: limits, accessTokens, userStore: users, bookingStore, cache: backends.cache, warmup, close: async () => {
      await versionChanges.close();
      await backends.close();
    },
  };
}

/** The configured providers (a provider without a client id is off). */
function identityProviders(config: Config): Map<OAuthProviderName, IdentityProvider> {
  const providers = new Map<OAuthProviderName, IdentityProvider>();
  const { google, github, timeoutMs } = config.oauth;
  if (google) providers.set('google', new OpenIdConnectProvider('google', new URL(google.issuer), { clientId: google.clientId, clientSecret: google.clientSecret, timeoutMs }));
  if (github) {
    providers.set('github', new GitHubProvider({ baseUrl: new URL(github.baseUrl), apiUrl: new URL(github.apiUrl) }, { clientId: github.clientId, clientSecret: github.clientSecret, timeoutMs }));
  }
  return providers;
}
