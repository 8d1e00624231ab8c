/**
 * Social sign-in against a real OpenID provider: oidc-provider (OpenID Certified) started on
 * 127.0.0.1 inside the test as the "Google" issuer, with a client registered for the service. The
 * browser flow runs over HTTP through the provider's own login and consent pages; the service
 * keeps its transactions and one-time codes in the real Redis, its accounts in the real PostgreSQL.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { call, startTestApi, type TestApi } from '../support/api';
import { TEST_REDIS_URL, uniqueName } from '../support/env';
import { Browser, signInAtProvider, startOidcProvider, type RunningProvider } from '../support/oauth';
import { waitForRedis } from './redis/helpers';

const PUBLIC_ORIGIN = 'http://app.goticket.test';
const CALLBACK = `${PUBLIC_ORIGIN}/api/v1/auth/oauth/google/callback`;
const COOKIE = '__Host-goticket_oauth';
const CLIENT = { client_id: 'goticket-test', client_secret: 'test-client-secret-0123456789abcdef', redirect_uris: [CALLBACK] };
const ACCOUNTS = {
  'alice-sub': { email: 'alice@example.test', email_verified: true },
  'bob-sub': { email: 'Bob@Example.test', email_verified: true },
  'mallory-sub': { email: 'carol@example.test', email_verified: false },
  'dave-sub': { email: 'dave@example.test', email_verified: true },
  'erin-sub': { email: 'erin@example.test', email_verified: true },
  'frank-sub': { email: 'frank@example.test', email_verified: true },
  'grace-sub': { email: 'grace@example.test', email_verified: true },
  'henry-sub': { email: 'henry@example.test', email_verified: true },
};

let provider: RunningProvider;
let api: TestApi;
let redis: Redis;
const prefix = `${uniqueName('oauth')}:`;

beforeAll(async () => {
  provider = await startOidcProvider({ client: CLIENT, accounts: ACCOUNTS });
  api = await startTestApi({
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    OAUTH_GOOGLE_CLIENT_ID: CLIENT.client_id,
    OAUTH_GOOGLE_CLIENT_SECRET: CLIENT.client_secret,
    OAUTH_GOOGLE_ISSUER: provider.issuer,
    OAUTH_REDIRECT_BASE_URL: PUBLIC_ORIGIN,
    RATE_LIMIT_REGISTER: '0',
    RATE_LIMIT_OAUTH: '10000',
  });
  redis = new Redis(TEST_REDIS_URL);
  await waitForRedis(api.url);
}, 60_000);

afterAll(async () => {
  const keys = await redis?.keys(`${prefix}*`);
  if (keys?.length) await redis.del(...keys);
  redis?.disconnect();
  await api?.close();
  await provider?.close();
});

const browser = () => new Browser({ [PUBLIC_ORIGIN]: api.url.replace(/\/api\/v1$/, '') });
const digest = (value: string) => createHash('sha256').update(value).digest('base64url');

/** GET start → the provider's authorization URL (302) and the state it carries. */
async function begin(agent: Browser, returnTo = '/events') {
  const started = await agent.request(`${PUBLIC_ORIGIN}/api/v1/auth/oauth/google/start?returnTo=${encodeURIComponent(returnTo)}`);
  expect(started.status).toBe(302);
  const authorization = new URL(started.location!);
  return { started, authorization, state: authorization.searchParams.get('state')! };
}

/** The whole flow up to the callback's redirect; returns the one-time code of the fragment. */
async function signIn(login: string, agent = browser(), returnTo = '/events') {
  const { authorization } = await begin(agent, returnTo);
  const callbackUrl = await signInAtProvider(agent, authorization.href, login, CALLBACK);
  const back = await agent.request(callbackUrl);
  expect({ status: back.status, body: back.status === 302 ? '' : back.text }).toEqual({ status: 302, body: '' });
  const location = back.headers.get('location')!;
  const code = /#code=([A-Za-z0-9_-]{43})$/.exec(location)?.[1];
  expect(code).toBeDefined();
  return { agent, callbackUrl, location, code: code! };
}

const exchange = (code: string) =>
  call<{ accessToken: string; refreshToken: string; tokenType: string; expiresIn: number; type?: string }>(
    `${api.url}/auth/oauth/exchange`,
    { body: { code } },
  );
const me = (token: string) => call<{ id: string; email: string; role: string }>(`${api.url}/users/me`, { token });

async function register(email: string) {
  const created = await call<{ id: string }>(`${api.url}/auth/register`, { body: { email, password: 'correct horse battery staple' } });
  expect(created.status).toBe(201);
  return created.body.id;
}

/** What a refused sign-in must leave alone. */
async function snapshot() {
  const { rows } = await api.db.pool.query(`SELECT
      (SELECT coalesce(string_agg(id || ':' || email || ':' || role || ':' || token_version, ',' ORDER BY id), '') FROM users) AS users,
      (SELECT coalesce(string_agg(provider || ':' || subject || ':' || user_id || ':' || last_sign_in_at, ',' ORDER BY provider, subject), '') FROM user_identities) AS identities,
      (SELECT count(*)::int FROM refresh_tokens) AS refresh_tokens`);
  return rows[0] as { users: string; identities: string; refresh_tokens: number };
}

async function lastFailure(): Promise<{ reason: string; kind: string } | undefined> {
  const { rows } = await api.db.pool.query(`SELECT details FROM audit_log WHERE action = 'auth.oauth_failed' ORDER BY id DESC LIMIT 1`);
  return rows[0]?.details as { reason: string; kind: string } | undefined;
}

function expectSignInFailed(response: { status: number; headers: Headers; text: string }) {
  expect(response.status).toBe(401);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(response.text)).toMatchObject({ type: expect.stringMatching(/oauth-failed$/), title: 'Sign-in failed', status: 401 });
  // no redirect anywhere, no code, the cookie cleared
  expect(response.headers.get('location')).toBeNull();
  expect(response.headers.getSetCookie().some((line) => line.startsWith(`${COOKIE}=;`) && /Max-Age=0/.test(line))).toBe(true);
}

describe('the browser flow with a real OpenID provider', () => {
  test('start → provider login and consent → callback → exchange → GET /users/me, for a new account', async () => {
    const agent = browser();
    const { started, authorization } = await begin(agent, '/events?tab=mine');
    // the authorization request: code flow, PKCE S256, state and nonce, the exact redirect URI
    expect(authorization.origin + authorization.pathname).toBe(`${provider.issuer}/auth`);
    const query = Object.fromEntries(authorization.searchParams);
    expect(query).toMatchObject({
      response_type: 'code',
      client_id: CLIENT.client_id,
      redirect_uri: CALLBACK,
      code_challenge_method: 'S256',
      scope: 'openid email',
    });
    expect(query.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(query.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(query.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // the cookie: __Host-, HttpOnly, Secure, SameSite=Lax, Path=/, no Domain, 10 minutes
    const cookie = started.headers.getSetCookie().find((line) => line.startsWith(`${COOKIE}=`))!;
    expect(cookie).toMatch(/; Max-Age=600; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
    expect(cookie).not.toMatch(/Domain=/i);
    expect(started.headers.get('cache-control')).toBe('no-store');
    // kept server-side in Redis, under the cookie's digest, single use, 10-minute TTL
    const handle = agent.cookie(PUBLIC_ORIGIN, COOKIE)!;
    const key = `${prefix}once:oauth-tx:${digest(handle)}`;
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
    const kept = JSON.parse((await redis.get(key))!) as Record<string, string>;
    expect(kept).toMatchObject({ provider: 'google', state: query.state, nonce: query.nonce, returnTo: '/events?tab=mine' });
    expect(createHash('sha256').update(kept.codeVerifier!).digest('base64url')).toBe(query.code_challenge);
    // nothing of it in the browser but the random handle
    expect(handle).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const callbackUrl = await signInAtProvider(agent, authorization.href, 'alice-sub', CALLBACK);
    const back = await agent.request(callbackUrl);
    expect(back.status).toBe(302);
    const location = back.headers.get('location')!;
    // back to returnTo with a one-time code in the fragment; no token in the Location
    expect(location).toMatch(/^\/events\?tab=mine#code=[A-Za-z0-9_-]{43}$/);
    expect(location).not.toMatch(/eyJ/);
    expect(await redis.exists(key)).toBe(0);
    const code = location.split('#code=')[1]!;
    const codeTtl = await redis.pttl(`${prefix}once:oauth-code:${digest(code)}`);
    expect(codeTtl).toBeGreaterThan(50_000);
    expect(codeTtl).toBeLessThanOrEqual(60_000);

    const tokens = await exchange(code);
    expect(tokens.status).toBe(200);
    expect(tokens.headers.get('cache-control')).toBe('no-store');
    expect(tokens.body).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      tokenType: 'Bearer',
      expiresIn: 900,
    });
    const user = await me(tokens.body.accessToken);
    expect(user.status).toBe(200);
    expect(user.body).toMatchObject({ email: 'alice@example.test', role: 'user' });
    // the same tokens as a password login: the refresh token rotates
    expect((await call(`${api.url}/auth/refresh`, { body: { refreshToken: tokens.body.refreshToken } })).status).toBe(200);
    const identity = await api.db.pool.query(
      `SELECT user_id, email, email_verified FROM user_identities WHERE provider = 'google' AND subject = 'alice-sub'`,
    );
    expect(identity.rows).toEqual([{ user_id: user.body.id, email: 'alice@example.test', email_verified: true }]);
    const audit = await api.db.pool.query(`SELECT action FROM audit_log WHERE actor_id = $1 ORDER BY id`, [user.body.id]);
    expect(audit.rows.map((row: { action: string }) => row.action)).toEqual(['auth.oauth_account_created', 'auth.oauth_login']);
    // an account made by social sign-in has no password: a password login cannot take it over
    const { rows } = await api.db.pool.query('SELECT password_hash FROM users WHERE id = $1', [user.body.id]);
    expect(rows[0].password_hash).toBeNull();
    expect((await call(`${api.url}/auth/login`, { body: { email: 'alice@example.test', password: '' } })).status).toBe(400);

    // the same identity again: the same account, no new one
    const again = await signIn('alice-sub');
    const second = await exchange(again.code);
    expect((await me(second.body.accessToken)).body.id).toBe(user.body.id);
    const signedIn = await api.db.pool.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE actor_id = $1 AND action = 'auth.oauth_identity_signed_in'`,
      [user.body.id],
    );
    expect(signedIn.rows[0].n).toBe(1);
  });

  test("pre-account takeover: a verified e-mail joins the account a squatter registered with a password; the squatter's password and sessions end", async () => {
    // the attacker registers the victim's address with a password (registration proves no address) and signs in
    const password = 'correct horse battery staple';
    const bob = await register('bob@example.test');
    const login = (email: string) =>
      call<{ accessToken: string; refreshToken: string; type?: string; title?: string; detail?: string }>(`${api.url}/auth/login`, {
        body: { email, password },
      });
    const squatter = await login('bob@example.test');
    expect(squatter.status).toBe(200);
    expect((await me(squatter.body.accessToken)).status).toBe(200);

    // the victim signs in with Google (address verified by the provider, any case): linked to that account
    const { code } = await signIn('bob-sub');
    const tokens = await exchange(code);
    expect((await me(tokens.body.accessToken)).body).toMatchObject({ id: bob, email: 'bob@example.test' });

    // the password is gone: 401 exactly as for an address nobody holds (no enumeration difference)
    const refused = await login('bob@example.test');
    const nobody = await login(`${uniqueName('nobody')}@example.test`);
    const answer = (response: typeof refused) => ({
      status: response.status,
      type: response.body.type,
      title: response.body.title,
      detail: response.body.detail,
    });
    expect(answer(refused)).toEqual(answer(nobody));
    expect(refused.status).toBe(401);
    expect((await api.db.pool.query('SELECT password_hash, token_version FROM users WHERE id = $1', [bob])).rows).toEqual([
      { password_hash: null, token_version: 1 },
    ]);
    // every session of the squatter ends at once: the refresh token is refused, the access token too
    expect((await call(`${api.url}/auth/refresh`, { body: { refreshToken: squatter.body.refreshToken } })).status).toBe(401);
    expect((await me(squatter.body.accessToken)).status).toBe(401);
    // the victim's own tokens work
    expect((await me(tokens.body.accessToken)).status).toBe(200);
    expect((await call(`${api.url}/auth/refresh`, { body: { refreshToken: tokens.body.refreshToken } })).status).toBe(200);
    // audited under its own action, naming what was cleared
    const links = await api.db.pool.query(
      `SELECT action, details FROM audit_log WHERE action LIKE 'auth.oauth_identity_linked%' AND actor_id = $1`,
      [bob],
    );
    expect(links.rows).toEqual([
      {
        action: 'auth.oauth_identity_linked_password_and_sessions_cleared',
        details: expect.objectContaining({
          provider: 'google',
          subject: 'bob-sub',
          email: 'bob@example.test',
          passwordRemoved: true,
          refreshTokensRevoked: 1,
          tokenVersion: 1,
        }),
      },
    ]);
  });

  test('an account whose address a verified identity proved already links without clearing anything', async () => {
    const password = 'correct horse battery staple';
    const henry = await register('henry@example.test');
    // an earlier verified identity (as a link made before this rule left it): the address is proven
    await api.db.pool.query(
      `INSERT INTO user_identities (provider, subject, user_id, email, email_verified) VALUES ('github', $1, $2, 'henry@example.test', true)`,
      [uniqueName('gh'), henry],
    );
    const session = await call<{ accessToken: string; refreshToken: string }>(`${api.url}/auth/login`, {
      body: { email: 'henry@example.test', password },
    });
    expect(session.status).toBe(200);
    const { code } = await signIn('henry-sub');
    expect((await me((await exchange(code)).body.accessToken)).body.id).toBe(henry);
    // the password and the earlier session still work
    expect((await call(`${api.url}/auth/login`, { body: { email: 'henry@example.test', password } })).status).toBe(200);
    expect((await me(session.body.accessToken)).status).toBe(200);
    expect((await call(`${api.url}/auth/refresh`, { body: { refreshToken: session.body.refreshToken } })).status).toBe(200);
    const links = await api.db.pool.query(
      `SELECT action, details FROM audit_log WHERE action LIKE 'auth.oauth_identity_linked%' AND actor_id = $1`,
      [henry],
    );
    expect(links.rows).toEqual([
      {
        action: 'auth.oauth_identity_linked',
        details: expect.objectContaining({ provider: 'google', subject: 'henry-sub', email: 'henry@example.test' }),
      },
    ]);
  });
});

describe('hostile: each refused, nothing changed in the database', () => {
  test("an unverified e-mail equal to an existing account's never links: a separate account without that address", async () => {
    const carol = await register('carol@example.test');
    const before = await api.db.pool.query('SELECT * FROM users WHERE id = $1', [carol]);
    const { code } = await signIn('mallory-sub');
    const tokens = await exchange(code);
    const user = await me(tokens.body.accessToken);
    expect(user.body.id).not.toBe(carol);
    expect(user.body.email).toMatch(/^google-[0-9a-f]{24}@users\.oauth\.invalid$/);
    expect((await api.db.pool.query('SELECT * FROM users WHERE id = $1', [carol])).rows).toEqual(before.rows);
    expect((await api.db.pool.query('SELECT count(*)::int AS n FROM user_identities WHERE user_id = $1', [carol])).rows[0].n).toBe(0);
    expect((await api.db.pool.query(`SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = $1`, [carol])).rows[0].n).toBe(0);
  });

  test('state missing from the callback', async () => {
    const agent = browser();
    const { authorization } = await begin(agent);
    const callbackUrl = new URL(await signInAtProvider(agent, authorization.href, 'frank-sub', CALLBACK));
    callbackUrl.searchParams.delete('state');
    const before = await snapshot();
    expectSignInFailed(await agent.request(callbackUrl.href));
    expect(await snapshot()).toEqual(before);
    expect(await lastFailure()).toMatchObject({ reason: 'state missing from the callback', kind: 'oauth-failed' });
  });

  test('state mismatched', async () => {
    const agent = browser();
    const { authorization } = await begin(agent);
    const callbackUrl = new URL(await signInAtProvider(agent, authorization.href, 'frank-sub', CALLBACK));
    callbackUrl.searchParams.set('state', randomBytes(32).toString('base64url'));
    const before = await snapshot();
    expectSignInFailed(await agent.request(callbackUrl.href));
    expect(await snapshot()).toEqual(before);
    expect((await lastFailure())?.reason).toBe('state does not match the transaction');
  });

  test('state replayed: the same callback again, with the same cookie, after it succeeded', async () => {
    const agent = browser();
    const { authorization } = await begin(agent);
    const handle = agent.cookie(PUBLIC_ORIGIN, COOKIE)!;
    const callbackUrl = await signInAtProvider(agent, authorization.href, 'frank-sub', CALLBACK);
    expect((await agent.request(callbackUrl)).status).toBe(302);
    agent.setCookie(PUBLIC_ORIGIN, COOKIE, handle);
    const before = await snapshot();
    expectSignInFailed(await agent.request(callbackUrl));
    expect(await snapshot()).toEqual(before);
    expect((await lastFailure())?.reason).toBe('unknown, used or expired sign-in transaction');
  });

  test("state from another browser: the callback of browser A arrives with browser B's cookie, or with none", async () => {
    const a = browser();
    const { authorization } = await begin(a);
    const callbackA = await signInAtProvider(a, authorization.href, 'frank-sub', CALLBACK);
    const b = browser();
    await begin(b);
    const before = await snapshot();
    expectSignInFailed(await b.request(callbackA));
    expect((await lastFailure())?.reason).toBe('state does not match the transaction');
    expectSignInFailed(await browser().request(callbackA));
    expect((await lastFailure())?.reason).toMatch(/^no sign-in cookie/);
    expect(await snapshot()).toEqual(before);
  });

  test('code replayed: a code already redeemed, delivered with a fresh transaction', async () => {
    const { callbackUrl } = await signIn('frank-sub');
    const agent = browser();
    const { state } = await begin(agent);
    const replay = new URL(callbackUrl);
    replay.searchParams.set('state', state);
    const before = await snapshot();
    expectSignInFailed(await agent.request(replay.href));
    expect(await snapshot()).toEqual(before);
    expect((await lastFailure())?.reason).toBe('token endpoint answered invalid_grant');
  });

  test("PKCE verifier wrong: a code issued for one transaction, redeemed with another's verifier", async () => {
    const a = browser();
    const { authorization } = await begin(a);
    const callbackA = new URL(await signInAtProvider(a, authorization.href, 'frank-sub', CALLBACK));
    const b = browser();
    const { state } = await begin(b);
    callbackA.searchParams.set('state', state);
    const before = await snapshot();
    expectSignInFailed(await b.request(callbackA.href));
    expect(await snapshot()).toEqual(before);
    expect((await lastFailure())?.reason).toBe('token endpoint answered invalid_grant');
  });

  test('provider error parameters: error=access_denied', async () => {
    const agent = browser();
    const { state } = await begin(agent);
    const denied = new URL(CALLBACK);
    denied.search = new URLSearchParams({
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
      state,
      iss: provider.issuer,
    }).toString();
    const before = await snapshot();
    expectSignInFailed(await agent.request(denied.href));
    expect(await snapshot()).toEqual(before);
    expect((await lastFailure())?.reason).toBe('provider answered access_denied');
  });

  test.each(['https://evil.test', '//evil.test', '/\\evil.test', 'javascript:alert(document.domain)'])(
    'returnTo = %s: 400, no redirect, no transaction',
    async (returnTo) => {
      const agent = browser();
      const keysBefore = (await redis.keys(`${prefix}once:oauth-tx:*`)).length;
      const before = await snapshot();
      const refused = await agent.request(`${PUBLIC_ORIGIN}/api/v1/auth/oauth/google/start?returnTo=${encodeURIComponent(returnTo)}`);
      expect(refused.status).toBe(400);
      expect(refused.location).toBeNull();
      expect(refused.headers.getSetCookie()).toEqual([]);
      expect(JSON.parse(refused.text)).toMatchObject({
        type: expect.stringMatching(/validation$/),
        errors: [{ path: 'query.returnTo', message: expect.stringMatching(/relative path/) }],
      });
      expect((await redis.keys(`${prefix}once:oauth-tx:*`)).length).toBe(keysBefore);
      expect(await snapshot()).toEqual(before);
    },
  );

  test('one-time code replayed', async () => {
    const { code } = await signIn('grace-sub');
    expect((await exchange(code)).status).toBe(200);
    const before = await snapshot();
    const replay = await exchange(code);
    expect(replay.status).toBe(401);
    expect(replay.body.type).toMatch(/oauth-failed$/);
    expect(await snapshot()).toEqual(before);
    expect((await lastFailure())?.reason).toBe('unknown, used or expired one-time code');
  });

  test('one-time code expired (Redis let it lapse)', async () => {
    const { code } = await signIn('grace-sub');
    // What 60 s of waiting would do, in a millisecond: the key's own TTL runs out in Redis.
    expect(await redis.pexpire(`${prefix}once:oauth-code:${digest(code)}`, 1)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = await snapshot();
    const late = await exchange(code);
    expect(late.status).toBe(401);
    expect(await snapshot()).toEqual(before);
  });

  test('an identity whose account was deleted: the code issued before gets no tokens', async () => {
    const { code } = await signIn('erin-sub');
    const { rows } = await api.db.pool.query(`SELECT user_id FROM user_identities WHERE provider = 'google' AND subject = 'erin-sub'`);
    await api.db.pool.query('DELETE FROM users WHERE id = $1', [rows[0].user_id]);
    const before = await snapshot();
    const refused = await exchange(code);
    expect(refused.status).toBe(401);
    expect(await snapshot()).toEqual(before);
    expect((await lastFailure())?.reason).toBe('the account of this sign-in no longer exists');
    // the identity went with the account
    expect((await api.db.pool.query(`SELECT count(*)::int AS n FROM user_identities WHERE subject = 'erin-sub'`)).rows[0].n).toBe(0);
  });

  test('an identity whose account was demoted: tokens carry the role it has now', async () => {
    const dave = await register('dave@example.test');
    await api.db.pool.query(`UPDATE users SET role = 'admin' WHERE id = $1`, [dave]);
    const { code } = await signIn('dave-sub');
    await api.db.pool.query(`UPDATE users SET role = 'user', token_version = token_version + 1 WHERE id = $1`, [dave]);
    const tokens = await exchange(code);
    expect(tokens.status).toBe(200);
    const claims = JSON.parse(Buffer.from(tokens.body.accessToken.split('.')[1]!, 'base64url').toString()) as { role: string };
    expect(claims.role).toBe('user');
    expect((await me(tokens.body.accessToken)).body).toMatchObject({ id: dave, role: 'user' });
    expect((await call(`${api.url}/audit`, { token: tokens.body.accessToken })).status).toBe(403);
  });

  test('a provider that is not configured answers 404 problem+json on all its routes; an unknown one 400', async () => {
    for (const path of ['/auth/oauth/github/start', '/auth/oauth/github/callback?code=x&state=y']) {
      const answer = await call(`${api.url}${path}`);
      expect({ path, status: answer.status, type: answer.body.type }).toEqual({
        path,
        status: 404,
        type: expect.stringMatching(/not-found$/),
      });
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
    expect((await call(`${api.url}/auth/oauth/facebook/start`)).status).toBe(400);
  });
});

describe('rate limits', () => {
  test('start, callback and exchange share a per-IP limit: 429 problem+json with Retry-After once spent', async () => {
    const limited = await startTestApi({
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `${prefix}rl:`,
      OAUTH_GOOGLE_CLIENT_ID: CLIENT.client_id,
      OAUTH_GOOGLE_CLIENT_SECRET: CLIENT.client_secret,
      OAUTH_GOOGLE_ISSUER: provider.issuer,
      OAUTH_REDIRECT_BASE_URL: PUBLIC_ORIGIN,
      RATE_LIMIT_OAUTH: '3',
      RATE_LIMIT_OAUTH_WINDOW: '15m',
    });
    try {
      await waitForRedis(limited.url);
      const statuses: number[] = [];
      for (let i = 0; i < 2; i += 1) statuses.push((await fetch(`${limited.url}/auth/oauth/google/start`, { redirect: 'manual' })).status);
      statuses.push((await call(`${limited.url}/auth/oauth/exchange`, { body: { code: 'A'.repeat(43) } })).status);
      const refused = await fetch(`${limited.url}/auth/oauth/google/callback?code=x&state=y`, { redirect: 'manual' });
      expect(statuses).toEqual([302, 302, 401]);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.headers.get('ratelimit-policy')).toBe('3;w=900');
    } finally {
      await limited.close();
    }
  });
});
