/**
 * Rate limits against real Redis: failed logins per email + IP, registrations per IP, writes and
 * reads per user, anonymous requests per IP. Client IPs come from X-Forwarded-For, trusted from loopback
 * only (TRUST_PROXY=loopback), the way the ingress is trusted in production.
 */
import { Registry } from 'prom-client';
import { composeApi } from '../../../src/compose';
import { closeServer, listen } from '../../../src/http/server';
import { call, futureEvent, TEST_JWT_SECRET, type TestApi } from '../../support/api';
import { deleteKeys, quietLogger, scanKeys, startRedisApi } from './helpers';

let api: TestApi & { prefix: string };
let nextIp = 1;
/** A client address of its own per test: anonymous budgets never leak between tests. */
const ip = () => `203.0.113.${nextIp++}`;
const PASSWORD = 'correct-horse-battery';

beforeAll(async () => {
  api = await startRedisApi({
    TRUST_PROXY: 'loopback',
    RATE_LIMIT_LOGIN_FAILURES: '5',
    RATE_LIMIT_LOGIN_WINDOW: '15m',
    RATE_LIMIT_REGISTER: '3',
    RATE_LIMIT_WRITES: '4',
    RATE_LIMIT_ANON: '30',
    RATE_LIMIT_READS: '12',
  });
});

afterAll(async () => {
  await api?.close();
  if (api) await deleteKeys(api.prefix);
});

async function account(): Promise<string> {
  const email = `rl-${Math.random().toString(36).slice(2, 10)}@example.test`;
  await api.api.services.auth.register(email, PASSWORD);
  return email;
}

const login = (email: string, password: string, from: string) =>
  call<{ accessToken?: string; type?: string }>(`${api.url}/auth/login`, {
    body: { email, password },
    headers: { 'X-Forwarded-For': from },
  });

describe('failed logins per email + IP', () => {
  it('answers the 6th failed login in the window with 429, Retry-After and RateLimit-* headers', async () => {
    const email = await account();
    const from = ip();
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await login(email, 'wrong-password-0', from));
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401, 401]);
    expect(answers.map((a) => a.headers.get('ratelimit-remaining'))).toEqual(['4', '3', '2', '1', '0']);

    // the right password does not help: the guesser is locked out of this pair for the window
    const sixth = await login(email, PASSWORD, from);
    expect(sixth.status).toBe(429);
    expect(sixth.headers.get('content-type')).toContain('application/problem+json');
    expect(sixth.body.type).toMatch(/\/rate-limited$/);
    const retryAfter = Number(sixth.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(850);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expect(sixth.headers.get('ratelimit-limit')).toBe('5');
    expect(sixth.headers.get('ratelimit-remaining')).toBe('0');
    expect(Number(sixth.headers.get('ratelimit-reset'))).toBe(retryAfter);
    expect(sixth.headers.get('ratelimit-policy')).toBe('5;w=900');

    // counted in Redis, under this file's prefix; the lock-out is audited once, without the password
    expect((await scanKeys(api.prefix, 'rl:login:*')).length).toBeGreaterThan(0);
    expect((await login(email, PASSWORD, from)).status).toBe(429);
    const { rows } = await api.db.pool.query(
      `SELECT target, ip, details::text FROM audit_log WHERE action = 'auth.login_locked' AND target = $1`,
      [email],
    );
    expect(rows).toEqual([{ target: email, ip: from, details: '{"failures": 5}' }]);
  });

  it('counts per email + IP, not globally: other IPs and other emails are unaffected', async () => {
    const [victim, other] = [await account(), await account()];
    const attacker = ip();
    for (let i = 0; i < 6; i++) await login(victim, 'wrong-password-0', attacker);
    expect((await login(victim, PASSWORD, attacker)).status).toBe(429);
    // the owner, from home, still signs in
    expect((await login(victim, PASSWORD, ip())).status).toBe(200);
    // the attacker's IP is not blocked for other accounts
    expect((await login(other, 'wrong-password-0', attacker)).status).toBe(401);
    expect((await login(other, PASSWORD, attacker)).status).toBe(200);
  });

  it('a successful login clears the failures; malformed requests do not count', async () => {
    const email = await account();
    const from = ip();
    for (let i = 0; i < 4; i++) expect((await login(email, 'wrong-password-0', from)).status).toBe(401);
    expect((await login(email, PASSWORD, from)).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const bad = await call(`${api.url}/auth/login`, { body: { email, password: '' }, headers: { 'X-Forwarded-For': from } });
      expect(bad.status).toBe(400);
    }
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await login(email, 'wrong-password-0', from)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('parallel guesses cannot slip past the limit: 5 of 20 are checked, 15 refused', async () => {
    const email = await account();
    const from = ip();
    const answers = await Promise.all(Array.from({ length: 20 }, () => login(email, 'wrong-password-0', from)));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
  });

  it('is shared by every replica: a second API on the same Redis sees the first one’s failures', async () => {
    const email = await account();
    const from = ip();
    const replica = composeApi({
      pool: api.db.pool,
      config: api.config,
      logger: quietLogger,
      jwtSecret: TEST_JWT_SECRET,
      health: [],
      metrics: new Registry(),
      isShuttingDown: () => false,
    });
    const { server, url } = await listen(replica.app, '127.0.0.1', 0);
    try {
      for (let i = 0; i < 3; i++) expect((await login(email, 'wrong-password-0', from)).status).toBe(401);
      const onReplica = (password: string) =>
        call(`${url}/api/v1/auth/login`, { body: { email, password }, headers: { 'X-Forwarded-For': from } });
      expect((await onReplica('wrong-password-0')).status).toBe(401);
      expect((await onReplica('wrong-password-0')).status).toBe(401);
      expect((await onReplica(PASSWORD)).status).toBe(429);
    } finally {
      await closeServer(server);
      await replica.close();
    }
  });
});

it('limits registrations per IP', async () => {
  const from = ip();
  const register = (n: number, address: string) =>
    call(`${api.url}/auth/register`, {
      body: { email: `reg-${n}-${Date.now()}@example.test`, password: PASSWORD },
      headers: { 'X-Forwarded-For': address },
    });
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await register(i, from)).status);
  expect(statuses).toEqual([201, 201, 201, 429]);
  expect((await register(9, ip())).status).toBe(201);
});

it('an e-mail probe through registration (409 for a taken address) counts against the same limit: enumeration costs RATE_LIMIT_REGISTER probes per IP and window', async () => {
  // the decision of issue 17 point 8: 409 stays (a uniform 202 needs a mail round trip the service does not have), under the limit
  const taken = `taken-${Date.now()}@example.test`;
  expect(
    (await call(`${api.url}/auth/register`, { body: { email: taken, password: PASSWORD }, headers: { 'X-Forwarded-For': ip() } })).status,
  ).toBe(201);
  const prober = ip();
  const statuses = [];
  for (let i = 0; i < 4; i++)
    statuses.push(
      (await call(`${api.url}/auth/register`, { body: { email: taken, password: PASSWORD }, headers: { 'X-Forwarded-For': prober } }))
        .status,
    );
  expect(statuses).toEqual([409, 409, 409, 429]);
});

it('limits writes per user, refusing before the booking runs', async () => {
  const organizer = await api.user('organizer');
  const created = await call<{ id: string }>(`${api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 100 }) });
  expect(created.status).toBe(201);
  const [alice, bob] = [await api.user(), await api.user()];
  const book = (token: string) =>
    call(`${api.url}/events/${created.body.id}/bookings`, { token, body: { quantity: 1 }, headers: { 'X-Forwarded-For': ip() } });
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push((await book(alice.token)).status);
  expect(statuses).toEqual([201, 201, 201, 201, 429]);
  // per user, whatever the address; reads by a signed-in user are not writes
  expect((await book(bob.token)).status).toBe(201);
  expect((await call(`${api.url}/bookings`, { token: alice.token })).status).toBe(200);
  const { rows } = await api.db.pool.query(`SELECT count(*)::int AS n FROM bookings WHERE user_id = $1`, [alice.id]);
  expect(rows[0].n).toBe(4);
});

it('limits anonymous requests per IP; a signed-in user is not counted there', async () => {
  const from = ip();
  const read = (address: string, token?: string) => call(`${api.url}/events`, { headers: { 'X-Forwarded-For': address }, token });
  const statuses = [];
  for (let i = 0; i < 31; i++) statuses.push((await read(from)).status);
  expect(statuses.slice(0, 30).every((s) => s === 200)).toBe(true);
  expect(statuses[30]).toBe(429);
  expect((await read(ip())).status).toBe(200);
  const user = await api.user();
  expect((await read(from, user.token)).status).toBe(200);
});

it('a garbage or revoked token is anonymous for the limit: it does not exempt a client from it (issue 17, point 5)', async () => {
  const read = (address: string, token: string) => call(`${api.url}/events`, { headers: { 'X-Forwarded-For': address }, token });
  const revoked = await api.user();
  expect((await call(`${api.url}/auth/logout-all`, { method: 'POST', token: revoked.token })).status).toBe(204);
  for (const token of ['not.a.token', revoked.token]) {
    const from = ip();
    const statuses = [];
    for (let i = 0; i < 31; i++) statuses.push((await read(from, token)).status);
    // a public route ignores the bad token and answers, as anonymous, until the anonymous limit is used up
    expect(statuses.slice(0, 30).every((s) => s === 200)).toBe(true);
    expect(statuses[30]).toBe(429);
  }
});

it('limits reads per signed-in user, whatever the address (issue 17, point 5): 12 in the window, then 429; other users, the address’s anonymous budget and the user’s writes are apart', async () => {
  const organizer = await api.user('organizer');
  const event = await call<{ id: string }>(`${api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 10 }) });
  expect(event.status).toBe(201);
  const [reader, other] = [await api.user(), await api.user()];
  const from = ip();
  const paths = ['/events', `/events/${event.body.id}`, '/bookings', '/events?limit=5&q=x'];
  const answers = [];
  // every read, from one address or many, takes a point of the same per-user budget
  for (let i = 0; i < 12; i++)
    answers.push(
      await call(`${api.url}${paths[i % paths.length]}`, { token: reader.token, headers: { 'X-Forwarded-For': i % 2 ? from : ip() } }),
    );
  expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
  expect(answers.map((a) => a.headers.get('ratelimit-remaining'))).toEqual(['11', '10', '9', '8', '7', '6', '5', '4', '3', '2', '1', '0']);
  expect(answers[0]!.headers.get('ratelimit-limit')).toBe('12');
  expect(answers[0]!.headers.get('ratelimit-policy')).toBe('12;w=60');

  for (const path of [`/events/${event.body.id}`, '/bookings']) {
    const refused = await call(`${api.url}${path}`, { token: reader.token, headers: { 'X-Forwarded-For': ip() } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body.type).toMatch(/\/rate-limited$/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
  }
  expect(await scanKeys(api.prefix, `rl:reads:${reader.id}`)).toHaveLength(1);
  // another user, the same address without a token, and the reader's own writes still get through
  expect((await call(`${api.url}/events`, { token: other.token, headers: { 'X-Forwarded-For': from } })).status).toBe(200);
  const anonymous = await call(`${api.url}/events`, { headers: { 'X-Forwarded-For': from } });
  expect(anonymous.status).toBe(200);
  expect(anonymous.headers.get('ratelimit-limit')).toBe('30');
  const booked = await call(`${api.url}/events/${event.body.id}/bookings`, {
    token: reader.token,
    body: { quantity: 1 },
    headers: { 'X-Forwarded-For': from },
  });
  expect(booked.status).toBe(201);
  expect(booked.headers.get('ratelimit-limit')).toBe('4');
});
