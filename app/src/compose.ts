/** Wires the API's services onto a pool. Shared by main.ts and the tests, so both run the same graph. */
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { BcryptPasswordHasher } from './adapters/crypto/bcrypt';
import { JwtAccessTokenCodec } from './adapters/crypto/jwt';
import { PostgresAuditLog } from './adapters/postgres/audit';
import { PostgresBookingStore } from './adapters/postgres/bookings';
import { PostgresEventStore } from './adapters/postgres/events';
import { PostgresRefreshTokenStore } from './adapters/postgres/refresh-tokens';
import { PostgresUserStore } from './adapters/postgres/users';
import type { Config } from './config';
import { createApp } from './http/app';
import type { Logger } from './observability/logger';
import type { Clock, HealthCheck } from './ports';
import { AuthService } from './services/auth';
import { BookingService } from './services/bookings';
import { EventService } from './services/events';
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
}

export function composeApi(options: ApiOptions) {
  const { pool, config } = options;
  const clock = options.clock ?? systemClock;
  const users = new PostgresUserStore(pool);
  const audit = new PostgresAuditLog(pool);
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
  });
  const services = {
    auth,
    users: new UserService({ users, audit }),
    events: new EventService({ events: new PostgresEventStore(pool), audit }),
    bookings: new BookingService({ bookings: new PostgresBookingStore(pool), clock, holdMs: config.bookingHoldMs }),
  };
  const app = createApp({
    logger: options.logger,
    ...services,
    health: options.health,
    metrics: options.metrics,
    http: config.http,
    isShuttingDown: options.isShuttingDown,
  });
  return { app, services, accessTokens, userStore: users };
}
