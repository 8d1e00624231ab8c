/**
 * ID tokens a real provider would never issue, and providers that fail. oidc-provider (see
 * oauth-google.test.ts) only mints valid tokens, so these come from a forging issuer: a local HTTP
 * server on 127.0.0.1 speaking OpenID Connect's wire format (discovery, JWKS, authorize, token),
 * a test double of a hostile or broken external provider. Tokens are signed with `jose`; the
 * service validates them with openid-client only. The first test proves the forger's honest
 * token passes, so each refusal below is caused by its one defect alone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey } from 'jose';
import { call, startTestApi, type TestApi } from '../support/api';
import { TEST_REDIS_URL, uniqueName } from '../support/env';
import { Browser } from '../support/oauth';
import { waitForRedis } from './redis/helpers';

const PUBLIC_ORIGIN = 'http://app.goticket.test';
const CALLBACK = `${PUBLIC_ORIGIN}/api/v1/auth/oauth/google/callback`;
const CLIENT_ID = 'goticket-forged';
const CLIENT_SECRET = 'forged-client-secret-0123456789';

type Mode =
  'valid' | 'alg-none' | 'other-key' | 'expired' | 'wrong-aud' | 'wrong-iss' | 'nonce-mismatch' | 'http-500' | 'not-json' | 'slow';

interface Forger {
  issuer: string;
  mode: Mode;
  close(): Promise<void>;
}

const listen = (server: Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
const body = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => resolve(text));
  });

async function startForger(): Promise<Forger> {
  const signing = await generateKeyPair('RS256');
  const stranger = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(signing.publicKey)), kid: 'published', alg: 'RS256', use: 'sig' };
  const requests = new Map<string, { nonce: string; challenge: string }>();
  const server = createServer();
  const issuer = await listen(server);
  const forger: Forger = { issuer, mode: 'valid', close: () => close(server) };
  const sign = (claims: Record<string, unknown>, key: CryptoKey, kid: string) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(key);

  server.on('request', (req, res) => {
    void (async () => {
      const url = new URL(req.url!, issuer);
      const json = (status: number, value: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (url.pathname === '/.well-known/openid-configuration') {
        return json(200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['client_secret_post'],
        });
      }
      if (url.pathname === '/jwks') return json(200, { keys: [jwk] });
      if (url.pathname === '/authorize') {
        const code = randomBytes(16).toString('hex');
        requests.set(code, { nonce: url.searchParams.get('nonce')!, challenge: url.searchParams.get('code_challenge')! });
        const back = new URL(url.searchParams.get('redirect_uri')!);
        back.searchParams.set('code', code);
        back.searchParams.set('state', url.searchParams.get('state')!);
        return res.writeHead(302, { location: back.href }).end();
      }
      if (url.pathname === '/token' && req.method === 'POST') {
        const form = new URLSearchParams(await body(req));
        const request = requests.get(form.get('code') ?? '');
        requests.delete(form.get('code') ?? '');
        const verifierOk =
          request &&
          createHash('sha256')
            .update(form.get('code_verifier') ?? '')
            .digest('base64url') === request.challenge;
        if (!request || !verifierOk || form.get('client_secret') !== CLIENT_SECRET) return json(400, { error: 'invalid_grant' });
        const now = Math.floor(Date.now() / 1000);
        const claims: Record<string, unknown> = {
          iss: issuer,
          aud: CLIENT_ID,
          sub: 'forged-sub',
          email: 'victim@example.test',
          email_verified: true,
          nonce: request.nonce,
          iat: now,
          exp: now + 300,
        };
        let idToken: string;
        switch (forger.mode) {
          case 'alg-none':
            idToken = new UnsecuredJWT(claims).encode();
            break;
          case 'other-key':
            idToken = await sign(claims, stranger.privateKey, 'published');
            break;
          case 'expired':
            idToken = await sign({ ...claims, iat: now - 7_200, exp: now - 3_600 }, signing.privateKey, 'published');
            break;
          case 'wrong-aud':
            idToken = await sign({ ...claims, aud: 'someone-else' }, signing.privateKey, 'published');
            break;
          case 'wrong-iss':
            idToken = await sign({ ...claims, iss: 'https://accounts.evil.test' }, signing.privateKey, 'published');
            break;
          case 'nonce-mismatch':
            idToken = await sign({ ...claims, nonce: randomBytes(32).toString('base64url') }, signing.privateKey, 'published');
            break;
          case 'http-500':
            return json(500, { error: 'server_error' });
          case 'not-json':
            return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
          case 'slow':
            return; // never answers
          default:
            idToken = await sign(claims, signing.privateKey, 'published');
        }
        return json(200, { access_token: randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 300, id_token: idToken });
      }
      json(404, { error: 'not_found' });
    })();
  });
  return forger;
}

let forger: Forger;
let api: TestApi;
const prefix = `${uniqueName('oauth-forged')}:`;

beforeAll(async () => {
  forger = await startForger();
  api = await startTestApi({
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    OAUTH_GOOGLE_CLIENT_ID: CLIENT_ID,
    OAUTH_GOOGLE_CLIENT_SECRET: CLIENT_SECRET,
    OAUTH_GOOGLE_ISSUER: forger.issuer,
    OAUTH_REDIRECT_BASE_URL: PUBLIC_ORIGIN,
    OAUTH_PROVIDER_TIMEOUT: '500ms',
    RATE_LIMIT_OAUTH: '10000',
  });
  await waitForRedis(api.url);
}, 60_000);

afterAll(async () => {
  await api?.close();
  await forger?.close();
});

async function snapshot() {
  const { rows } = await api.db.pool.query(
    `SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM user_identities) AS identities, (SELECT count(*)::int FROM refresh_tokens) AS refresh_tokens`,
  );
  return rows[0] as Record<string, number>;
}

/** start → the forger's authorize → the callback, as a browser; the callback's answer. */
async function attempt(mode: Mode) {
  forger.mode = mode;
  const browser = new Browser({ [PUBLIC_ORIGIN]: api.url.replace(/\/api\/v1$/, '') });
  const started = await browser.request(`${PUBLIC_ORIGIN}/api/v1/auth/oauth/google/start`);
  expect(started.status).toBe(302);
  const authorized = await browser.request(started.location!);
  expect(authorized.location).toMatch(new RegExp(`^${CALLBACK}\\?code=`));
  const back = await browser.request(authorized.location!);
  return {
    status: back.status,
    location: back.headers.get('location'),
    problem: back.status >= 400 ? (JSON.parse(back.text) as { type: string; title: string; detail: string }) : null,
    headers: back.headers,
  };
}

test("control: the forger's honest ID token signs in (so every refusal below is its one defect)", async () => {
  const result = await attempt('valid');
  expect(result.status).toBe(302);
  const code = result.location!.split('#code=')[1]!;
  const tokens = await call<{ accessToken: string }>(`${api.url}/auth/oauth/exchange`, { body: { code } });
  expect(tokens.status).toBe(200);
  expect((await call<{ email: string }>(`${api.url}/users/me`, { token: tokens.body.accessToken })).body.email).toBe('victim@example.test');
});

test.each([
  ['alg-none', 'alg none', /unexpected JWT "alg" header parameter/],
  ['other-key', 'signed by another key than the provider publishes', /JWT signature verification failed/],
  ['expired', 'expired', /"exp" \(expiration time\) claim value, expiration is past/],
  ['wrong-aud', 'for another audience', /"aud" \(audience\) claim value/],
  ['wrong-iss', 'from another issuer', /"iss" \(issuer\) claim value/],
  ['nonce-mismatch', 'nonce mismatch', /"nonce" claim value/],
] as const)('ID token %s (%s): 401 sign-in failed, nothing changed', async (mode, _what, reason) => {
  const before = await snapshot();
  const result = await attempt(mode);
  expect(result.status).toBe(401);
  expect(result.problem).toMatchObject({ type: expect.stringMatching(/oauth-failed$/), title: 'Sign-in failed' });
  expect(result.location).toBeNull();
  expect(await snapshot()).toEqual(before);
  const { rows } = await api.db.pool.query(`SELECT details FROM audit_log WHERE action = 'auth.oauth_failed' ORDER BY id DESC LIMIT 1`);
  expect(rows[0].details).toMatchObject({ kind: 'oauth-failed', reason: expect.stringMatching(reason) });
});

test.each([
  ['http-500', 502, /provider-failed$/],
  ['not-json', 502, /provider-failed$/],
  ['slow', 503, /unavailable$/],
] as const)('token endpoint %s: a clear %d problem within the deadline, nothing changed', async (mode, status, type) => {
  const before = await snapshot();
  const result = await attempt(mode);
  expect(result.status).toBe(status);
  expect(result.problem?.type).toMatch(type);
  expect(result.problem?.detail).toMatch(/retry/);
  if (status === 503) expect(Number(result.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(await snapshot()).toEqual(before);
});

test('provider down (connection refused) or silent (never answers discovery): 503 problem, no hang', async () => {
  const closed = createServer();
  const closedUrl = await listen(closed);
  await close(closed);
  const silent = createServer(() => undefined);
  const silentUrl = await listen(silent);
  const broken = await startTestApi({
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: `${prefix}down:`,
    OAUTH_GOOGLE_CLIENT_ID: CLIENT_ID,
    OAUTH_GOOGLE_CLIENT_SECRET: CLIENT_SECRET,
    OAUTH_GOOGLE_ISSUER: closedUrl,
    OAUTH_GITHUB_CLIENT_ID: 'gh',
    OAUTH_GITHUB_CLIENT_SECRET: 'gh-secret',
    OAUTH_GITHUB_BASE_URL: silentUrl,
    OAUTH_GITHUB_API_URL: silentUrl,
    OAUTH_REDIRECT_BASE_URL: PUBLIC_ORIGIN,
    OAUTH_PROVIDER_TIMEOUT: '300ms',
  });
  try {
    await waitForRedis(broken.url);
    const down = await call<{ type: string; detail: string }>(`${broken.url}/auth/oauth/google/start`);
    expect(down.status).toBe(503);
    expect(down.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(down.body.detail).toBe('the service cannot reach its identity provider google right now; retry in a few seconds');
    // GitHub's authorize URL needs no network; its token endpoint is the silent one
    const browser = new Browser({ [PUBLIC_ORIGIN]: broken.url.replace(/\/api\/v1$/, '') });
    const started = await browser.request(`${PUBLIC_ORIGIN}/api/v1/auth/oauth/github/start`);
    expect(started.status).toBe(302);
    const state = new URL(started.location!).searchParams.get('state')!;
    const slow = await browser.request(`${CALLBACK.replace('google', 'github')}?code=abc&state=${state}`);
    expect(slow.status).toBe(503);
    expect(JSON.parse(slow.text)).toMatchObject({
      type: expect.stringMatching(/unavailable$/),
      detail: expect.stringContaining('identity provider github'),
    });
  } finally {
    await broken.close();
    await close(silent);
  }
});
