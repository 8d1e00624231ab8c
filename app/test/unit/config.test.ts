import { ConfigError, loadConfig, parseDuration } from '../../src/config';

const PROD = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://db/goticket',
  REDIS_URL: 'redis://cache:6379',
  AMQP_URL: 'amqp://mq:5672',
  JWT_SECRET: 'x'.repeat(32),
};

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('has working defaults for a local run', () => {
    const config = loadConfig({});
    expect(config.http.port).toBe(8080);
    expect(config.auth.accessTokenTtlMs).toBe(15 * 60_000);
    expect(config.auth.refreshTokenTtlMs).toBe(7 * 86_400_000);
    expect(config.auth.bcryptCost).toBe(12);
    expect(config.bookingHoldMs).toBe(10 * 60_000);
    expect(config.shutdownTimeoutMs).toBe(20_000);
    expect(config.database.url).toBeUndefined();
    expect(config.http.trustProxy).toBe(false);
  });

  it.each([
    ['DATABASE_URL', { ...PROD, DATABASE_URL: '' }, 'is required in production'],
    ['JWT_SECRET', { ...PROD, JWT_SECRET: '' }, 'is required in production'],
    ['REDIS_URL', { ...PROD, REDIS_URL: '' }, 'is required in production'],
    ['AMQP_URL', { ...PROD, AMQP_URL: '' }, 'is required in production'],
    ['JWT_SECRET', { ...PROD, JWT_SECRET: 'short' }, 'at least 32 bytes'],
    ['BCRYPT_COST', { ...PROD, BCRYPT_COST: '4' }, 'at least 10 in production'],
    ['PORT', { PORT: 'eighty' }, 'whole number'],
    ['PORT', { PORT: '70000' }, 'between'],
    ['NODE_ENV', { NODE_ENV: 'prod' }, 'one of'],
    ['ACCESS_TOKEN_TTL', { ACCESS_TOKEN_TTL: '15 minutes' }, 'duration'],
    ['BOOKING_HOLD_TTL', { BOOKING_HOLD_TTL: '0s' }, 'between'],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x/y' }, 'postgres://'],
    // node-postgres would encrypt without verifying the server (or without checking its name)
    ['DATABASE_URL', { DATABASE_URL: 'postgres://db/goticket?sslmode=require&uselibpqcompat=true' }, 'sslmode must be verify-full'],
    ['DATABASE_URL', { DATABASE_URL: 'postgres://db/goticket?sslmode=no-verify' }, 'sslmode must be verify-full'],
    ['DATABASE_URL', { DATABASE_URL: 'postgres://db/goticket?sslmode=verify-ca&sslrootcert=/ca.pem' }, 'sslmode must be verify-full'],
    ['REDIS_URL', { REDIS_URL: 'not a url' }, 'redis://'],
    ['AMQP_URL', { AMQP_URL: 'http://rabbit' }, 'amqp://'],
    ['ADMIN_PASSWORD', { ADMIN_EMAIL: 'admin@example.test' }, 'together'],
    ['ADMIN_EMAIL', { ADMIN_EMAIL: 'nope', ADMIN_PASSWORD: 'long enough password' }, 'email'],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }, 'one of'],
    ['TRUST_PROXY', { TRUST_PROXY: 'yes please' }, 'hop count'],
    ['DB_POOL_MIN', { DB_POOL_MIN: 'some' }, 'whole number'],
    ['DB_POOL_MIN', { DB_POOL_MIN: '21' }, 'must not exceed DB_POOL_MAX (20)'],
    ['DB_POOL_MIN', { DB_POOL_MAX: '4', DB_POOL_MIN: '5' }, 'must not exceed DB_POOL_MAX (4)'],
  ])('names %s in one line when it is bad', (variable, env, fragment) => {
    const message = errorOf(env);
    expect(message).toContain(variable);
    expect(message).toContain(fragment);
    expect(message).not.toContain('\n');
  });

  it('warms 5 connections by default, never more than DB_POOL_MAX unless told to (then it is an error)', () => {
    expect(loadConfig({}).database).toMatchObject({ poolMax: 20, poolMin: 5 });
    expect(loadConfig({ DB_POOL_MAX: '3' }).database).toMatchObject({ poolMax: 3, poolMin: 3 });
    expect(loadConfig({ DB_POOL_MIN: '0' }).database.poolMin).toBe(0);
    expect(loadConfig({ DB_POOL_MIN: '20' }).database.poolMin).toBe(20);
    expect(loadConfig({ DB_POOL_MIN: '' }).database.poolMin).toBe(5);
  });

  it('accepts a complete production environment', () => {
    const config = loadConfig({ ...PROD, TRUST_PROXY: '1', CORS_ORIGINS: 'https://a.test, https://b.test' });
    expect(config.production).toBe(true);
    expect(config.http.trustProxy).toBe(1);
    expect(config.http.corsOrigins).toEqual(['https://a.test', 'https://b.test']);
  });

  describe('production requirements are per role', () => {
    const PAYMENTS_PROD = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://goticket_payments@db/goticket',
      AMQP_URL: 'amqp://mq:5672',
      STRIPE_API_KEY: 'sk_live_abcdef123456',
      STRIPE_WEBHOOK_SECRET: 'whsec_abcdef1234567890',
    };
    const problem = (env: Record<string, string>, role: Parameters<typeof loadConfig>[1]) => {
      try {
        loadConfig(env, role);
        return undefined;
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
    };

    it('the payments role starts with its own login, the broker and the provider: no JWT_SECRET, no REDIS_URL', () => {
      const config = loadConfig(PAYMENTS_PROD, 'payments');
      expect([config.production, config.auth.jwtSecret, config.redisUrl, config.payments.stripe.webhookSecret]).toEqual([
        true,
        undefined,
        undefined,
        PAYMENTS_PROD.STRIPE_WEBHOOK_SECRET,
      ]);
    });

    it.each(['DATABASE_URL', 'AMQP_URL', 'STRIPE_API_KEY', 'STRIPE_WEBHOOK_SECRET'])(
      'the payments role in production refuses to start without %s, in one line naming it',
      (key) => {
        const { [key as keyof typeof PAYMENTS_PROD]: _dropped, ...rest } = PAYMENTS_PROD;
        const message = problem(rest, 'payments');
        expect(message).toMatch(new RegExp(`^invalid configuration: ${key} is required in production`));
        expect(message).not.toContain('\n');
        // empty counts as missing (a Secret key with no value)
        expect(problem({ ...PAYMENTS_PROD, [key]: '' }, 'payments')).toMatch(new RegExp(`^invalid configuration: ${key} is required`));
      },
    );

    it('outside production the payments role needs none of them (the local Stripe-compatible server stands in)', () => {
      expect(problem({ NODE_ENV: 'development' }, 'payments')).toBeUndefined();
    });

    it('the booking side still needs JWT_SECRET and REDIS_URL, and no provider key', () => {
      for (const role of ['api', 'worker', 'migrate'] as const) {
        expect([role, problem(PROD, role)]).toEqual([role, undefined]);
        expect([role, problem({ ...PROD, JWT_SECRET: '' }, role)]).toEqual([
          role,
          expect.stringContaining('JWT_SECRET is required in production'),
        ]);
        expect([role, problem({ ...PROD, REDIS_URL: '' }, role)]).toEqual([
          role,
          expect.stringContaining('REDIS_URL is required in production'),
        ]);
      }
      expect(problem(PROD, 'payments')).toMatch(/STRIPE_API_KEY is required in production for the payments role/);
    });

    it('all (api, worker and payments in one process) needs both sides’ settings', () => {
      expect(problem({ ...PROD, ...PAYMENTS_PROD }, 'all')).toBeUndefined();
      expect(problem(PROD, 'all')).toMatch(/STRIPE_API_KEY is required/);
      expect(problem(PAYMENTS_PROD, 'all')).toMatch(/JWT_SECRET is required/);
    });
  });

  it('parses durations', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('20s')).toBe(20_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1500')).toBe(1500);
    expect(() => parseDuration('1.5h')).toThrow('duration');
  });
});
