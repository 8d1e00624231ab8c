/**
 * The only reader of process.env. Every variable is validated once at startup; a bad value
 * stops the process with one line naming the variable (ConfigError).
 */
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "15m" → 900000. Plain integers are milliseconds. */
export function parseDuration(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const match = DURATION.exec(text);
  if (!match) throw new Error('must be a duration like 500ms, 20s, 15m, 12h or 7d');
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

const duration = (fallback: string, min: number, max: number) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      try {
        const ms = parseDuration(text.trim());
        if (ms < min || ms > max) {
          ctx.addIssue({ code: 'custom', message: `must be between ${min}ms and ${max}ms` });
          return z.NEVER;
        }
        return ms;
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    });

const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .refine((text) => /^\d+$/.test(text.trim()), 'must be a whole number')
    .transform((text) => Number(text.trim()))
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const integer = (fallback: number, min: number, max: number) => z.string().default(String(fallback)).pipe(wholeNumber(min, max));

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (text) => {
        try {
          return protocols.includes(new URL(text).protocol);
        } catch {
          return false;
        }
      },
      `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    );

const optional = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

const csv = z
  .string()
  .default('')
  .transform((text) =>
    text
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean),
  );

/** Connections warmed and kept by default (api): enough for a burst of bookings without a connect on its path. */
const DEFAULT_POOL_MIN = 5;

const ENV = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: integer(8080, 0, 65535),
  /** The gRPC edge's port (api role). */
  GRPC_PORT: integer(9090, 0, 65535),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: optional(
    url(['postgres:', 'postgresql:']).refine(
      (text) => !URL.canParse(text) || ['disable', 'verify-full', null].includes(new URL(text).searchParams.get('sslmode')),
      // node-postgres: require/prefer/no-verify encrypt without verifying, verify-ca skips the host name.
      'sslmode must be verify-full (with sslrootcert) or disable: other modes do not verify the server',
    ),
  ),
  DB_POOL_MAX: integer(20, 1, 500),
  /**
   * Connections the api opens at startup, before readiness turns 200, and keeps open when idle
   * (no cold pool after a rollout). Unset: 5, or DB_POOL_MAX when that is smaller; above
   * DB_POOL_MAX is an error.
   */
  DB_POOL_MIN: optional(wholeNumber(0, 500)),
  DB_STATEMENT_TIMEOUT: duration('5s', 100, 600_000),
  /**
   * Client-side deadline of every query: a statement on a connection that died without a word
   * (a failed-over primary) fails after this, its connection is discarded, and a group-commit
   * batch waiting on it frees its event's queue. Unset: DB_STATEMENT_TIMEOUT + 1 s; must exceed it.
   */
  DB_QUERY_TIMEOUT: optional(duration('0', 200, 600_000)),
  /** Deadline of a new PostgreSQL connection (handshake included) and of a wait for a free pool client. */
  DB_CONNECT_TIMEOUT: duration('5s', 100, 120_000),
  DATA_DIR: z.string().default('.data'),
  EMBEDDED_PG_PORT: integer(54329, 1024, 65535),
  REDIS_URL: optional(url(['redis:', 'rediss:'])),
  AMQP_URL: optional(url(['amqp:', 'amqps:'])),
  JWT_SECRET: optional(z.string().refine((s) => Buffer.byteLength(s) >= 32, 'must be at least 32 bytes')),
  JWT_ISSUER: z.string().min(1).default('goticket'),
  JWT_AUDIENCE: z.string().min(1).default('goticket-api'),
  ACCESS_TOKEN_TTL: duration('15m', 10_000, 86_400_000),
  REFRESH_TOKEN_TTL: duration('7d', 60_000, 90 * 86_400_000),
  BCRYPT_COST: integer(12, 4, 15),
  BOOKING_HOLD_TTL: duration('10m', 1_000, 86_400_000),
  ADMIN_EMAIL: optional(z.email('must be an email address')),
  ADMIN_PASSWORD: optional(z.string().min(12, 'must be at least 12 characters')),
  SHUTDOWN_TIMEOUT: duration('20s', 0, 600_000),
  REQUEST_TIMEOUT: duration('15s', 100, 600_000),
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'must be a size like 100kb')
    .default('100kb'),
  TRUST_PROXY: z
    .string()
    .default('false')
    .refine(
      (v) => /^(false|true|\d+|[\d.:/a-f, ]+|loopback|linklocal|uniquelocal)$/i.test(v.trim()),
      'must be false, a hop count, or a list of trusted addresses/CIDRs',
    ),
  CORS_ORIGINS: csv,
  /** The access-log line of every Nth cached read answered from memory (REST's hot-request stage, gRPC GetEvent; 1: all). */
  ACCESS_LOG_CACHED_READ_EVERY: integer(100, 1, 1_000_000),
  // ---- messaging (outbox relay, notifier, hold-expiry sweeper)
  AMQP_PREFIX: z
    .string()
    .trim()
    .default('goticket')
    .refine((v) => /^[a-z0-9][a-z0-9_.-]{0,100}$/i.test(v), 'must be letters, digits, dots, dashes or underscores'),
  AMQP_RECONNECT_MAX_DELAY: duration('15s', 100, 600_000),
  SMTP_URL: optional(url(['smtp:', 'smtps:'])),
  MAIL_FROM: z.string().trim().min(3).default('GoTicket <no-reply@goticket.local>'),
  OUTBOX_POLL_INTERVAL: duration('1s', 10, 600_000),
  OUTBOX_BATCH_SIZE: integer(100, 1, 5_000),
  OUTBOX_RETENTION: duration('7d', 0, 365 * 86_400_000),
  NOTIFIER_PREFETCH: integer(20, 1, 1_000),
  NOTIFIER_MAX_ATTEMPTS: integer(5, 1, 100),
  NOTIFIER_RETRY_DELAY: duration('5s', 10, 3_600_000),
  EXPIRY_SWEEP_INTERVAL: duration('5s', 10, 3_600_000),
  EXPIRY_BATCH_SIZE: integer(500, 1, 10_000),
  // ---- payments saga (booking side: the window; payments role: the provider, webhook, reconciliation)
  /** How long a hold moved to payment_pending keeps its seats at least (the hold's expiry is extended to now + this). */
  PAYMENT_WINDOW: duration('5m', 1_000, 30 * 60_000),
  /** Stripe secret key (from the runtime Secret). Unset outside production: the local Stripe-compatible server stands in. */
  STRIPE_API_KEY: optional(
    z
      .string()
      .trim()
      .regex(/^(sk|rk)_(test|live)_[A-Za-z0-9]{6,}$/, 'must be a Stripe secret key (sk_test_…, sk_live_… or rk_…)'),
  ),
  /** Where the Stripe SDK sends its requests (host, port and protocol of this URL), e.g. http://127.0.0.1:12111; unset: api.stripe.com. */
  STRIPE_API_BASE: optional(url(['http:', 'https:'])),
  /** Signs webhooks (whsec_…); POST /api/v1/payments/webhook refuses every event without it. */
  STRIPE_WEBHOOK_SECRET: optional(z.string().trim().min(16, 'must be at least 16 characters (whsec_…)')),
  /** Deadline of one provider call (the SDK retries on network errors and 5xx with the same Idempotency-Key). */
  STRIPE_TIMEOUT: duration('10s', 100, 120_000),
  STRIPE_MAX_NETWORK_RETRIES: integer(2, 0, 10),
  /** How often the reconciliation job asks the provider about payments stuck in processing. */
  PAYMENTS_RECONCILE_INTERVAL: duration('30s', 50, 3_600_000),
  /** A payment in processing for longer than this is reconciled. */
  PAYMENTS_STUCK_AFTER: duration('30s', 0, 86_400_000),
  PAYMENTS_PREFETCH: integer(32, 1, 1_000),
  PAYMENTS_MAX_ATTEMPTS: integer(5, 1, 100),
  PAYMENTS_RETRY_DELAY: duration('2s', 10, 3_600_000),
  // ---- cache, rate limits, revocation (Redis when REDIS_URL is set, in-process otherwise)
  REDIS_KEY_PREFIX: z
    .string()
    .default('goticket:')
    .refine((v) => /^[A-Za-z0-9_.:-]{0,100}$/.test(v), 'must be up to 100 letters, digits, dots, colons, dashes or underscores'),
  REDIS_COMMAND_TIMEOUT: duration('200ms', 10, 60_000),
  REDIS_CONNECT_TIMEOUT: duration('2s', 100, 60_000),
  REDIS_BREAKER_THRESHOLD: integer(5, 1, 1_000),
  REDIS_BREAKER_HALF_OPEN: duration('5s', 100, 600_000),
  CACHE_TTL: duration('5s', 0, 3_600_000),
  CACHE_SOLD_OUT_TTL: duration('60s', 0, 3_600_000),
  CACHE_LOCAL_TTL: duration('1s', 0, 60_000),
  CACHE_TOKEN_VERSION_TTL: duration('60s', 0, 3_600_000),
  RATE_LIMIT_LOGIN_FAILURES: integer(5, 0, 1_000_000),
  RATE_LIMIT_LOGIN_WINDOW: duration('15m', 1_000, 86_400_000),
  RATE_LIMIT_REGISTER: integer(10, 0, 1_000_000),
  RATE_LIMIT_REGISTER_WINDOW: duration('1h', 1_000, 86_400_000),
  RATE_LIMIT_WRITES: integer(60, 0, 1_000_000),
  RATE_LIMIT_WRITES_WINDOW: duration('1m', 1_000, 86_400_000),
  RATE_LIMIT_ANON: integer(600, 0, 1_000_000),
  RATE_LIMIT_ANON_WINDOW: duration('1m', 1_000, 86_400_000),
  /** Reads (every request but POST/PUT/PATCH/DELETE) per signed-in user, counted in leases as the anonymous limit is. */
  RATE_LIMIT_READS: integer(1200, 0, 1_000_000),
  RATE_LIMIT_READS_WINDOW: duration('1m', 1_000, 86_400_000),
  /** Social sign-in requests (start, callback, exchange together) per client IP. */
  RATE_LIMIT_OAUTH: integer(30, 0, 1_000_000),
  RATE_LIMIT_OAUTH_WINDOW: duration('15m', 1_000, 86_400_000),
  // ---- social sign-in (issue 19): a provider without a client id is off (its routes answer 404)
  OAUTH_GOOGLE_CLIENT_ID: optional(z.string().trim().min(1).max(512)),
  OAUTH_GOOGLE_CLIENT_SECRET: optional(z.string().min(1).max(512)),
  /** Found with OpenID discovery (`/.well-known/openid-configuration`). */
  OAUTH_GOOGLE_ISSUER: url(['https:', 'http:']).default('https://accounts.google.com'),
  OAUTH_GITHUB_CLIENT_ID: optional(z.string().trim().min(1).max(512)),
  OAUTH_GITHUB_CLIENT_SECRET: optional(z.string().min(1).max(512)),
  /** GitHub's web host (/login/oauth/…); a GitHub Enterprise host, or a local stand-in in tests. */
  OAUTH_GITHUB_BASE_URL: url(['https:', 'http:']).default('https://github.com'),
  /** GitHub's REST API (/user, /user/emails); Enterprise: https://HOST/api/v3. */
  OAUTH_GITHUB_API_URL: url(['https:', 'http:']).default('https://api.github.com'),
  /**
   * The public origin the providers send browsers back to: redirect URI =
   * `<this>/api/v1/auth/oauth/<provider>/callback`, registered exactly so at the provider.
   * Unset outside production: http://localhost:<PORT>.
   */
  OAUTH_REDIRECT_BASE_URL: optional(url(['https:', 'http:'])),
  /** Deadline of each call to a provider (discovery, token exchange, user API): slower is a 503. */
  OAUTH_PROVIDER_TIMEOUT: duration('5s', 100, 60_000),
  // ---- error tracking (Sentry; off unless SENTRY_DSN is set)
  /** From the runtime Secret in production (the DSN is a credential of the project's ingest). */
  SENTRY_DSN: optional(url(['https:', 'http:'])),
  /** Unset: NODE_ENV (the charts set the environment's name). */
  SENTRY_ENVIRONMENT: optional(z.string().trim().min(1).max(64)),
  /** The image tag or digest the charts deploy; unset: the SDK's own guess (SENTRY_RELEASE is read by it too). */
  SENTRY_RELEASE: optional(z.string().trim().min(1).max(200)),
  /** Share of error events sent, 0 to 1. */
  SENTRY_SAMPLE_RATE: z
    .string()
    .default('1')
    .refine((text) => /^(0(\.\d+)?|1(\.0+)?)$/.test(text.trim()), 'must be a number from 0 to 1, like 0.25')
    .transform((text) => Number(text.trim())),
});

export type Config = ReturnType<typeof toConfig>;

/** Every variable the service reads: what the platform may set for it (platform/test checks the cluster sets nothing else). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(ENV.shape);

function toConfig(env: z.infer<typeof ENV>) {
  return {
    env: env.NODE_ENV,
    production: env.NODE_ENV === 'production',
    http: {
      host: env.HOST,
      port: env.PORT,
      requestTimeoutMs: env.REQUEST_TIMEOUT,
      bodyLimit: env.BODY_LIMIT.toLowerCase(),
      trustProxy: parseTrustProxy(env.TRUST_PROXY.trim()),
      corsOrigins: env.CORS_ORIGINS,
      accessLogCachedReadEvery: env.ACCESS_LOG_CACHED_READ_EVERY,
      // Clients and the edge may keep an event read as long as the API may serve a copy that old.
      eventReadMaxAgeSeconds: Math.floor(env.CACHE_TTL / 1000),
    },
    grpc: { port: env.GRPC_PORT, maxReceiveBytes: sizeInBytes(env.BODY_LIMIT) },
    logLevel: env.LOG_LEVEL,
    database: {
      url: env.DATABASE_URL,
      poolMax: env.DB_POOL_MAX,
      poolMin: env.DB_POOL_MIN ?? Math.min(DEFAULT_POOL_MIN, env.DB_POOL_MAX),
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT,
      queryTimeoutMs: env.DB_QUERY_TIMEOUT ?? env.DB_STATEMENT_TIMEOUT + 1_000,
      connectTimeoutMs: env.DB_CONNECT_TIMEOUT,
      embeddedPort: env.EMBEDDED_PG_PORT,
    },
    dataDir: env.DATA_DIR,
    redisUrl: env.REDIS_URL,
    amqpUrl: env.AMQP_URL,
    auth: {
      jwtSecret: env.JWT_SECRET,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      accessTokenTtlMs: env.ACCESS_TOKEN_TTL,
      refreshTokenTtlMs: env.REFRESH_TOKEN_TTL,
      bcryptCost: env.BCRYPT_COST,
      admin: env.ADMIN_EMAIL && env.ADMIN_PASSWORD ? { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD } : undefined,
    },
    bookingHoldMs: env.BOOKING_HOLD_TTL,
    errorTracking: {
      dsn: env.SENTRY_DSN,
      environment: env.SENTRY_ENVIRONMENT ?? env.NODE_ENV,
      release: env.SENTRY_RELEASE,
      sampleRate: env.SENTRY_SAMPLE_RATE,
    },
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT,
    messaging: {
      amqpPrefix: env.AMQP_PREFIX,
      reconnectMaxDelayMs: env.AMQP_RECONNECT_MAX_DELAY,
      smtpUrl: env.SMTP_URL,
      mailFrom: env.MAIL_FROM,
      outboxPollIntervalMs: env.OUTBOX_POLL_INTERVAL,
      outboxBatchSize: env.OUTBOX_BATCH_SIZE,
      outboxRetentionMs: env.OUTBOX_RETENTION,
      notifierPrefetch: env.NOTIFIER_PREFETCH,
      notifierMaxAttempts: env.NOTIFIER_MAX_ATTEMPTS,
      notifierRetryDelayMs: env.NOTIFIER_RETRY_DELAY,
      expirySweepIntervalMs: env.EXPIRY_SWEEP_INTERVAL,
      expiryBatchSize: env.EXPIRY_BATCH_SIZE,
    },
    payments: {
      windowMs: env.PAYMENT_WINDOW,
      stripe: {
        apiKey: env.STRIPE_API_KEY,
        apiBase: env.STRIPE_API_BASE,
        webhookSecret: env.STRIPE_WEBHOOK_SECRET,
        timeoutMs: env.STRIPE_TIMEOUT,
        maxNetworkRetries: env.STRIPE_MAX_NETWORK_RETRIES,
      },
      reconcileIntervalMs: env.PAYMENTS_RECONCILE_INTERVAL,
      stuckAfterMs: env.PAYMENTS_STUCK_AFTER,
      prefetch: env.PAYMENTS_PREFETCH,
      maxAttempts: env.PAYMENTS_MAX_ATTEMPTS,
      retryDelayMs: env.PAYMENTS_RETRY_DELAY,
    },
    redis: {
      keyPrefix: env.REDIS_KEY_PREFIX,
      commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT,
      connectTimeoutMs: env.REDIS_CONNECT_TIMEOUT,
      breakerThreshold: env.REDIS_BREAKER_THRESHOLD,
      breakerHalfOpenMs: env.REDIS_BREAKER_HALF_OPEN,
    },
    cache: {
      ttlMs: env.CACHE_TTL,
      soldOutTtlMs: env.CACHE_SOLD_OUT_TTL,
      localTtlMs: env.CACHE_LOCAL_TTL,
      tokenVersionTtlMs: env.CACHE_TOKEN_VERSION_TTL,
    },
    rateLimits: {
      loginFailures: { points: env.RATE_LIMIT_LOGIN_FAILURES, windowMs: env.RATE_LIMIT_LOGIN_WINDOW },
      register: { points: env.RATE_LIMIT_REGISTER, windowMs: env.RATE_LIMIT_REGISTER_WINDOW },
      writes: { points: env.RATE_LIMIT_WRITES, windowMs: env.RATE_LIMIT_WRITES_WINDOW },
      anonymous: { points: env.RATE_LIMIT_ANON, windowMs: env.RATE_LIMIT_ANON_WINDOW },
      reads: { points: env.RATE_LIMIT_READS, windowMs: env.RATE_LIMIT_READS_WINDOW },
      oauth: { points: env.RATE_LIMIT_OAUTH, windowMs: env.RATE_LIMIT_OAUTH_WINDOW },
    },
    oauth: {
      redirectBaseUrl: (env.OAUTH_REDIRECT_BASE_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, ''),
      timeoutMs: env.OAUTH_PROVIDER_TIMEOUT,
      google: env.OAUTH_GOOGLE_CLIENT_ID
        ? { clientId: env.OAUTH_GOOGLE_CLIENT_ID, clientSecret: env.OAUTH_GOOGLE_CLIENT_SECRET!, issuer: env.OAUTH_GOOGLE_ISSUER }
        : undefined,
      github: env.OAUTH_GITHUB_CLIENT_ID
        ? {
            clientId: env.OAUTH_GITHUB_CLIENT_ID,
            clientSecret: env.OAUTH_GITHUB_CLIENT_SECRET!,
            baseUrl: env.OAUTH_GITHUB_BASE_URL,
            apiUrl: env.OAUTH_GITHUB_API_URL,
          }
        : undefined,
    },
  };
}

/** Social sign-in settings that only make sense together; one line naming the variable otherwise. */
function checkOAuth(env: z.infer<typeof ENV>): void {
  const providers: Array<{ name: string; id?: string; secret?: string; urls: Record<string, string> }> = [
    {
      name: 'GOOGLE',
      id: env.OAUTH_GOOGLE_CLIENT_ID,
      secret: env.OAUTH_GOOGLE_CLIENT_SECRET,
      urls: { OAUTH_GOOGLE_ISSUER: env.OAUTH_GOOGLE_ISSUER },
    },
    {
      name: 'GITHUB',
      id: env.OAUTH_GITHUB_CLIENT_ID,
      secret: env.OAUTH_GITHUB_CLIENT_SECRET,
      urls: { OAUTH_GITHUB_BASE_URL: env.OAUTH_GITHUB_BASE_URL, OAUTH_GITHUB_API_URL: env.OAUTH_GITHUB_API_URL },
    },
  ];
  for (const provider of providers) {
    if (provider.id && !provider.secret)
      throw new ConfigError(`OAUTH_${provider.name}_CLIENT_SECRET`, `is required when OAUTH_${provider.name}_CLIENT_ID is set`);
    if (!provider.id && provider.secret)
      throw new ConfigError(`OAUTH_${provider.name}_CLIENT_ID`, `is required when OAUTH_${provider.name}_CLIENT_SECRET is set`);
    if (!provider.id) continue;
    for (const [variable, value] of Object.entries(provider.urls)) {
      const parsed = new URL(value);
      if (env.NODE_ENV === 'production' && parsed.protocol !== 'https:') throw new ConfigError(variable, 'must use https in production');
      if (parsed.search || parsed.hash || parsed.username || parsed.password)
        throw new ConfigError(variable, 'must be a plain URL without credentials, query or fragment');
    }
  }
  if (env.OAUTH_REDIRECT_BASE_URL !== undefined) {
    const parsed = new URL(env.OAUTH_REDIRECT_BASE_URL);
    if (parsed.search || parsed.hash || parsed.username || parsed.password || parsed.pathname !== '/') {
      throw new ConfigError(
        'OAUTH_REDIRECT_BASE_URL',
        'must be an origin only, like https://goticket.example.com (no path, query or fragment)',
      );
    }
  }
  const enabled = providers.some((provider) => provider.id);
  if (enabled && env.NODE_ENV === 'production') {
    if (!env.OAUTH_REDIRECT_BASE_URL)
      throw new ConfigError('OAUTH_REDIRECT_BASE_URL', 'is required in production when a sign-in provider is enabled');
    if (!env.OAUTH_REDIRECT_BASE_URL.startsWith('https://'))
      throw new ConfigError('OAUTH_REDIRECT_BASE_URL', 'must use https in production');
  }
}

/** `100kb` → 102400 (the units BODY_LIMIT accepts: b, kb, mb). */
function sizeInBytes(size: string): number {
  const [, amount, unit] = /^(\d+)(b|kb|mb)$/i.exec(size)!;
  return Number(amount) * { b: 1, kb: 1024, mb: 1024 * 1024 }[unit!.toLowerCase() as 'b' | 'kb' | 'mb'];
}

function parseTrustProxy(value: string): boolean | number | string[] {
  if (/^false$/i.test(value)) return false;
  if (/^true$/i.test(value)) return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}

/** The process roles (app/src/main.ts ROLES); each needs its own settings in production. */
export type ConfigRole = 'api' | 'worker' | 'payments' | 'migrate' | 'all';

// The in-process stand-ins serve one process: with replicas, rate limits, caches and events would split per pod.
const STAND_IN = 'is required in production (the in-process stand-in is for local runs)';
const BOOKING_SIDE: Record<string, string> = {
  DATABASE_URL: 'is required in production',
  JWT_SECRET: 'is required in production',
  REDIS_URL: STAND_IN,
  AMQP_URL: STAND_IN,
};
/** The payments service: its own login, the broker, the provider. No JWT_SECRET (it signs and checks no token), no REDIS_URL (it uses no cache, rate limit or revocation). */
const PAYMENTS_SIDE: Record<string, string> = {
  DATABASE_URL: 'is required in production (the payments role’s own login)',
  AMQP_URL: STAND_IN,
  STRIPE_API_KEY: 'is required in production for the payments role (the local Stripe-compatible server is for local runs)',
  STRIPE_WEBHOOK_SECRET: 'is required in production for the payments role (without it the webhook refuses every event)',
};

/** What `role` must be given in production: variable → the problem line when it is missing. */
function productionRequirements(role: ConfigRole): Record<string, string> {
  if (role === 'payments') return PAYMENTS_SIDE;
  if (role === 'all') return { ...PAYMENTS_SIDE, ...BOOKING_SIDE };
  return BOOKING_SIDE;
}

/**
 * Parses the environment; throws ConfigError naming the first bad variable. `role`: the process role
 * (its production requirements); unset, the booking side's (api, worker, migrate).
 */
export function loadConfig(source: NodeJS.ProcessEnv = process.env, role: ConfigRole = 'api'): Config {
  const parsed = ENV.safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const problem = issue.code === 'invalid_value' ? `must be one of ${(issue as { values: unknown[] }).values.join(', ')}` : issue.message;
    throw new ConfigError(variable, problem);
  }
  const env = parsed.data;
  if (env.NODE_ENV === 'production') {
    for (const [variable, problem] of Object.entries(productionRequirements(role))) {
      if (!env[variable as keyof typeof env]) throw new ConfigError(variable, problem);
    }
    if (env.BCRYPT_COST < 10) throw new ConfigError('BCRYPT_COST', 'must be at least 10 in production');
  }
  if (env.DB_QUERY_TIMEOUT !== undefined && env.DB_QUERY_TIMEOUT <= env.DB_STATEMENT_TIMEOUT) {
    throw new ConfigError(
      'DB_QUERY_TIMEOUT',
      `must be longer than DB_STATEMENT_TIMEOUT (${env.DB_STATEMENT_TIMEOUT}ms), so the server cancels a slow statement before the client gives up on its connection`,
    );
  }
  if (env.DB_POOL_MIN !== undefined && env.DB_POOL_MIN > env.DB_POOL_MAX) {
    throw new ConfigError('DB_POOL_MIN', `must not exceed DB_POOL_MAX (${env.DB_POOL_MAX})`);
  }
  if (Boolean(env.ADMIN_EMAIL) !== Boolean(env.ADMIN_PASSWORD)) {
    throw new ConfigError(
      env.ADMIN_EMAIL ? 'ADMIN_PASSWORD' : 'ADMIN_EMAIL',
      'must be set together with its pair (ADMIN_EMAIL and ADMIN_PASSWORD)',
    );
  }
  checkOAuth(env);
  return toConfig(env);
}
