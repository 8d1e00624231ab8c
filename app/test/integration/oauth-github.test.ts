/**
 * Social sign-in with GitHub. GitHub is not an OpenID provider and cannot be reached from here,
 * so a local server stands in for it: a TEST DOUBLE OF AN EXTERNAL API, implementing the shapes
 * of GitHub's OAuth app flow and REST API as documented (docs.github.com, "Authorizing OAuth apps"
 * and "REST API endpoints for emails"): GET /login/oauth/authorize, POST /login/oauth/access_token
 * (JSON when asked with Accept: application/json; errors as HTTP 200 with an `error` field, as
 * GitHub answers them; PKCE S256 checked), GET /user and GET /user/emails with a Bearer token.
 * The service speaks to it through openid-client and its own HTTP, as it would to github.com.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { call, startTestApi, type TestApi } from '../support/api';
import { TEST_REDIS_URL, uniqueName } from '../support/env';
import { Browser } from '../support/oauth';
import { waitForRedis } from './redis/helpers';

const PUBLIC_ORIGIN = 'http://app.goticket.test';
const CALLBACK = `${PUBLIC_ORIGIN}/api/v1/auth/oauth/github/callback`;
const CLIENT_ID = 'Iv1.goticket-test';
const CLIENT_SECRET = 'github-client-secret-0123456789abcdef';

interface GitHubUser {
  id: number;
  login: string;
  emails: Array<{ email: string; primary: boolean; verified: boolean; visibility: string | null }>;
}

interface StandIn {
  url: string;
  /** Who signs in at the next authorize (GitHub's own login page is the user's business). */
  next: GitHubUser;
  /** GET /user answers this status instead of the user, when set. */
  userStatus?: number;
  tokenRequests: Array<Record<string, string>>;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => resolve(text));
  });

async function startGitHub(): Promise<StandIn> {
  const grants = new Map<string, { user: GitHubUser; challenge: string; redirectUri: string }>();
  const tokens = new Map<string, GitHubUser>();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const standIn: StandIn = {
    url,
    next: { id: 1, login: 'octo', emails: [] },
    tokenRequests: [],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('request', (req, res) => {
    void (async () => {
      const target = new URL(req.url!, url);
      const json = (status: number, value: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(value));
      if (target.pathname === '/login/oauth/authorize' && req.method === 'GET') {
        const query = target.searchParams;
        if (query.get('client_id') !== CLIENT_ID || query.get('code_challenge_method') !== 'S256')
          return json(400, { error: 'invalid_request' });
        const code = randomBytes(10).toString('hex');
        grants.set(code, { user: standIn.next, challenge: query.get('code_challenge')!, redirectUri: query.get('redirect_uri')! });
        const back = new URL(query.get('redirect_uri')!);
        back.searchParams.set('code', code);
        back.searchParams.set('state', query.get('state')!);
        return res.writeHead(302, { location: back.href }).end();
      }
      if (target.pathname === '/login/oauth/access_token' && req.method === 'POST') {
        const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
        standIn.tokenRequests.push(form);
        const grant = grants.get(form.code ?? '');
        grants.delete(form.code ?? '');
        if (form.client_id !== CLIENT_ID || form.client_secret !== CLIENT_SECRET)
          return json(200, {
            error: 'incorrect_client_credentials',
            error_description: 'The client_id and/or client_secret passed are incorrect.',
          });
        if (!grant || grant.redirectUri !== form.redirect_uri)
          return json(200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
        if (
          createHash('sha256')
            .update(form.code_verifier ?? '')
            .digest('base64url') !== grant.challenge
        )
          return json(200, { error: 'bad_verification_code', error_description: 'The code_verifier does not match.' });
        const accessToken = `gho_${randomBytes(18).toString('hex')}`;
        tokens.set(accessToken, grant.user);
        return json(200, { access_token: accessToken, token_type: 'bearer', scope: 'read:user,user:email' });
      }
      const user = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /i, ''));
      if (target.pathname === '/user' || target.pathname === '/user/emails') {
        if (!user) return json(401, { message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest' });
        if (target.pathname === '/user')
          return standIn.userStatus
            ? json(standIn.userStatus, { message: 'Server Error' })
            : json(200, { id: user.id, login: user.login, email: null });
        return json(200, user.emails);
      }
      json(404, { message: 'Not Found' });
    })();
  });
  return standIn;
}

let github: StandIn;
let api: TestApi;

beforeAll(async () => {
  github = await startGitHub();
  api = await startTestApi({
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: `${uniqueName('oauth-gh')}:`,
    OAUTH_GITHUB_CLIENT_ID: CLIENT_ID,
    OAUTH_GITHUB_CLIENT_SECRET: CLIENT_SECRET,
    OAUTH_GITHUB_BASE_URL: github.url,
    OAUTH_GITHUB_API_URL: github.url,
    OAUTH_REDIRECT_BASE_URL: PUBLIC_ORIGIN,
    OAUTH_PROVIDER_TIMEOUT: '1s',
    RATE_LIMIT_OAUTH: '10000',
    RATE_LIMIT_REGISTER: '0',
  });
  await waitForRedis(api.url);
}, 60_000);

afterAll(async () => {
  await api?.close();
  await github?.close();
});

async function snapshot() {
  const { rows } = await api.db.pool.query(
    `SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM user_identities) AS identities, (SELECT count(*)::int FROM refresh_tokens) AS refresh_tokens`,
  );
  return rows[0] as Record<string, number>;
}

/** start → GitHub's authorize → back; the callback URL GitHub redirected to (not yet followed) and the browser. */
async function authorize(user: GitHubUser) {
  github.next = user;
  const browser = new Browser({ [PUBLIC_ORIGIN]: api.url.replace(/\/api\/v1$/, '') });
  const started = await browser.request(`${PUBLIC_ORIGIN}/api/v1/auth/oauth/github/start?returnTo=/bookings`);
  expect(started.status).toBe(302);
  const authorization = new URL(started.location!);
  expect(authorization.origin + authorization.pathname).toBe(`${github.url}/login/oauth/authorize`);
  expect(Object.fromEntries(authorization.searchParams)).toMatchObject({
    client_id: CLIENT_ID,
    redirect_uri: CALLBACK,
    scope: 'read:user user:email',
    code_challenge_method: 'S256',
  });
  // GitHub issues no ID token: no nonce is sent
  expect(authorization.searchParams.has('nonce')).toBe(false);
  const back = await browser.request(authorization.href);
  return { browser, callbackUrl: back.location! };
}

async function signIn(user: GitHubUser) {
  const { browser, callbackUrl } = await authorize(user);
  const answer = await browser.request(callbackUrl);
  expect(answer.status).toBe(302);
  const code = /^\/bookings#code=([A-Za-z0-9_-]{43})$/.exec(answer.headers.get('location')!)![1]!;
  const tokens = await call<{ accessToken: string }>(`${api.url}/auth/oauth/exchange`, { body: { code } });
  expect(tokens.status).toBe(200);
  return (await call<{ id: string; email: string }>(`${api.url}/users/me`, { token: tokens.body.accessToken })).body;
}

const register = async (email: string) =>
  (await call<{ id: string }>(`${api.url}/auth/register`, { body: { email, password: 'correct horse battery staple' } })).body.id;

test("a new account from GitHub's primary verified address; the code exchange carried the PKCE verifier and the client secret in the body", async () => {
  const user = await signIn({
    id: 101,
    login: 'octo',
    emails: [
      { email: 'other@example.test', primary: false, verified: true, visibility: null },
      { email: 'octo@example.test', primary: true, verified: true, visibility: 'public' },
    ],
  });
  expect(user.email).toBe('octo@example.test');
  const exchange = github.tokenRequests.at(-1)!;
  expect(exchange).toMatchObject({
    grant_type: 'authorization_code',
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uri: CALLBACK,
    code_verifier: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
  });
  const { rows } = await api.db.pool.query(`SELECT user_id FROM user_identities WHERE provider = 'github' AND subject = '101'`);
  expect(rows).toEqual([{ user_id: user.id }]);
  // again: the same account
  expect(
    (
      await signIn({
        id: 101,
        login: 'octo-renamed',
        emails: [{ email: 'octo@example.test', primary: true, verified: true, visibility: null }],
      })
    ).id,
  ).toBe(user.id);
});

test('the primary verified address joins the existing account holding it', async () => {
  const existing = await register('linked@example.test');
  expect(
    (
      await signIn({
        id: 202,
        login: 'linker',
        emails: [{ email: 'linked@example.test', primary: true, verified: true, visibility: null }],
      })
    ).id,
  ).toBe(existing);
});

test("hostile: an unverified primary, or a verified secondary, equal to an existing account's never links", async () => {
  const victim = await register('victim-gh@example.test');
  const before = (await api.db.pool.query('SELECT * FROM users WHERE id = $1', [victim])).rows;
  const unverified = await signIn({
    id: 303,
    login: 'mallory',
    emails: [{ email: 'victim-gh@example.test', primary: true, verified: false, visibility: null }],
  });
  const secondary = await signIn({
    id: 304,
    login: 'mallory2',
    emails: [
      { email: 'mallory@example.test', primary: true, verified: false, visibility: null },
      { email: 'victim-gh@example.test', primary: false, verified: true, visibility: null },
    ],
  });
  for (const account of [unverified, secondary]) {
    expect(account.id).not.toBe(victim);
    expect(account.email).toMatch(/^github-[0-9a-f]{24}@users\.oauth\.invalid$/);
  }
  expect((await api.db.pool.query('SELECT * FROM users WHERE id = $1', [victim])).rows).toEqual(before);
  expect((await api.db.pool.query('SELECT count(*)::int AS n FROM user_identities WHERE user_id = $1', [victim])).rows[0].n).toBe(0);
});

test('hostile: a code GitHub already redeemed (its 200-with-error answer) is a 401, nothing changed', async () => {
  const first = await authorize({
    id: 405,
    login: 'replayer',
    emails: [{ email: 'replayer@example.test', primary: true, verified: true, visibility: null }],
  });
  expect((await first.browser.request(first.callbackUrl)).status).toBe(302);
  const second = await authorize(github.next);
  const replay = new URL(first.callbackUrl);
  replay.searchParams.set('state', new URL(second.callbackUrl).searchParams.get('state')!);
  const before = await snapshot();
  const answer = await second.browser.request(replay.href);
  expect(answer.status).toBe(401);
  expect(JSON.parse(answer.text)).toMatchObject({ type: expect.stringMatching(/oauth-failed$/) });
  expect(await snapshot()).toEqual(before);
});

test('hostile: state mismatched is refused before GitHub is asked anything', async () => {
  const { browser, callbackUrl } = await authorize({ id: 506, login: 'x', emails: [] });
  const forged = new URL(callbackUrl);
  forged.searchParams.set('state', randomBytes(32).toString('base64url'));
  const asked = github.tokenRequests.length;
  const before = await snapshot();
  expect((await browser.request(forged.href)).status).toBe(401);
  expect(github.tokenRequests.length).toBe(asked);
  expect(await snapshot()).toEqual(before);
});

test("GitHub's API failing (HTTP 500 on /user) is a 502 problem, nothing changed", async () => {
  github.userStatus = 500;
  try {
    const { browser, callbackUrl } = await authorize({
      id: 607,
      login: 'y',
      emails: [{ email: 'y@example.test', primary: true, verified: true, visibility: null }],
    });
    const before = await snapshot();
    const answer = await browser.request(callbackUrl);
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.text)).toMatchObject({ type: expect.stringMatching(/provider-failed$/), title: 'Sign-in provider failed' });
    expect(await snapshot()).toEqual(before);
  } finally {
    github.userStatus = undefined;
  }
});
