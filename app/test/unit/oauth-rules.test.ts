import { MemoryOneTimeStore } from '../../src/adapters/memory/one-time-store';
import { ConfigError, loadConfig } from '../../src/config';
import { ValidationError } from '../../src/domain/errors';
import { DEFAULT_RETURN_TO, mayLinkByEmail, safeReturnTo } from '../../src/domain/oauth';

const PROD = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://db/goticket',
  REDIS_URL: 'redis://cache:6379',
  AMQP_URL: 'amqp://mq:5672',
  JWT_SECRET: 'x'.repeat(32),
};

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('returnTo allow-list', () => {
  it.each(['/', '/events', '/events/3f2b?tab=seats&x=1', '/a/b-c_d.e~f/%20'])('keeps the relative path %s', (path) => {
    expect(safeReturnTo(path)).toBe(path);
  });

  it('defaults to the root', () => {
    expect(safeReturnTo(undefined)).toBe(DEFAULT_RETURN_TO);
    expect(safeReturnTo('')).toBe(DEFAULT_RETURN_TO);
  });

  it.each([
    'https://evil.test',
    '//evil.test',
    '/\\evil.test',
    '\\\\evil.test',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'evil.test',
    '/\t/evil.test',
    '/\n/evil.test',
    '/%2F%2Fevil.test',
    '/%5Cevil.test',
    '/%2f/evil.test',
    '/events#frag',
    '/ space',
    `/${'a'.repeat(600)}`,
    '/%E0%A4%A',
  ])('refuses %j as a ValidationError on query.returnTo', (value) => {
    expect(() => safeReturnTo(value)).toThrow(ValidationError);
    try {
      safeReturnTo(value);
    } catch (error) {
      expect((error as ValidationError).fields[0]?.path).toBe('query.returnTo');
    }
  });
});

describe('account linking rule', () => {
  it('links only on an address the provider verified', () => {
    expect(mayLinkByEmail({ provider: 'google', subject: '1', email: 'a@example.test', emailVerified: true })).toBe(true);
    expect(mayLinkByEmail({ provider: 'google', subject: '1', email: 'a@example.test', emailVerified: false })).toBe(false);
    expect(mayLinkByEmail({ provider: 'github', subject: '1', email: null, emailVerified: true })).toBe(false);
  });
});

describe('memory one-time store (the stand-in without REDIS_URL)', () => {
  it('gives a value once, and never after its TTL', async () => {
    let now = 1_000;
    const store = new MemoryOneTimeStore({ now: () => now });
    await store.put('codes', 'k', 'user-1', 60_000);
    await store.put('codes', 'late', 'user-2', 60_000);
    expect(await store.take('codes', 'k')).toBe('user-1');
    expect(await store.take('codes', 'k')).toBeNull();
    expect(await store.take('other', 'late')).toBeNull();
    now += 60_001;
    expect(await store.take('codes', 'late')).toBeNull();
  });

  it('stays bounded: the oldest entry goes first', async () => {
    const store = new MemoryOneTimeStore({ maxEntries: 2 });
    await store.put('n', 'a', '1', 60_000);
    await store.put('n', 'b', '2', 60_000);
    await store.put('n', 'c', '3', 60_000);
    expect(await store.take('n', 'a')).toBeNull();
    expect(await store.take('n', 'c')).toBe('3');
  });
});

describe('social sign-in configuration', () => {
  it('is off by default, with the documented defaults', () => {
    const config = loadConfig({});
    expect(config.oauth.google).toBeUndefined();
    expect(config.oauth.github).toBeUndefined();
    expect(config.oauth.redirectBaseUrl).toBe('http://localhost:8080');
    expect(config.oauth.timeoutMs).toBe(5_000);
    const on = loadConfig({
      OAUTH_GOOGLE_CLIENT_ID: 'g',
      OAUTH_GOOGLE_CLIENT_SECRET: 's',
      OAUTH_GITHUB_CLIENT_ID: 'h',
      OAUTH_GITHUB_CLIENT_SECRET: 't',
    });
    expect(on.oauth.google).toEqual({ clientId: 'g', clientSecret: 's', issuer: 'https://accounts.google.com' });
    expect(on.oauth.github).toEqual({ clientId: 'h', clientSecret: 't', baseUrl: 'https://github.com', apiUrl: 'https://api.github.com' });
  });

  it.each([
    [{ OAUTH_GOOGLE_CLIENT_ID: 'g' }, 'invalid configuration: OAUTH_GOOGLE_CLIENT_SECRET is required when OAUTH_GOOGLE_CLIENT_ID is set'],
    [
      { OAUTH_GITHUB_CLIENT_SECRET: 't' },
      'invalid configuration: OAUTH_GITHUB_CLIENT_ID is required when OAUTH_GITHUB_CLIENT_SECRET is set',
    ],
    [{ OAUTH_GOOGLE_ISSUER: 'ftp://x' }, 'invalid configuration: OAUTH_GOOGLE_ISSUER must be a URL starting with https:// or http://'],
    [{ OAUTH_GITHUB_API_URL: 'not a url' }, 'invalid configuration: OAUTH_GITHUB_API_URL must be a URL starting with https:// or http://'],
    [
      { OAUTH_REDIRECT_BASE_URL: 'https://goticket.example.com/app' },
      'invalid configuration: OAUTH_REDIRECT_BASE_URL must be an origin only, like https://goticket.example.com (no path, query or fragment)',
    ],
    [
      { OAUTH_PROVIDER_TIMEOUT: '5 minutes' },
      'invalid configuration: OAUTH_PROVIDER_TIMEOUT must be a duration like 500ms, 20s, 15m, 12h or 7d',
    ],
    [
      { ...PROD, OAUTH_GITHUB_CLIENT_ID: 'h', OAUTH_GITHUB_CLIENT_SECRET: 't' },
      'invalid configuration: OAUTH_REDIRECT_BASE_URL is required in production when a sign-in provider is enabled',
    ],
    [
      {
        ...PROD,
        OAUTH_GOOGLE_CLIENT_ID: 'g',
        OAUTH_GOOGLE_CLIENT_SECRET: 's',
        OAUTH_GOOGLE_ISSUER: 'http://127.0.0.1:9',
        OAUTH_REDIRECT_BASE_URL: 'https://x.test',
      },
      'invalid configuration: OAUTH_GOOGLE_ISSUER must use https in production',
    ],
    [
      { ...PROD, OAUTH_GOOGLE_CLIENT_ID: 'g', OAUTH_GOOGLE_CLIENT_SECRET: 's', OAUTH_REDIRECT_BASE_URL: 'http://x.test' },
      'invalid configuration: OAUTH_REDIRECT_BASE_URL must use https in production',
    ],
  ])('%j → %s', (env, message) => {
    expect(configError(env as Record<string, string>)).toBe(message);
  });
});
