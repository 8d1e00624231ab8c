/**
 * The guard of the one request pipeline: a property-based differential test. fast-check
 * generates request *sequences* — reads (GET/HEAD, list pages, If-None-Match), bookings (valid,
 * invalid and non-JSON bodies, Idempotency-Keys), other methods, no/valid/bad/malformed tokens,
 * origins, request ids — against a fresh set of events (one open, one sold out with its seat
 * marker learnt, one sold out without), users and a client address, with the writes, the
 * signed-in reads and the anonymous limits started near exhaustion or not. Each sequence goes to two APIs on real
 * PostgreSQL and Redis (a database and a key prefix each): one with every shortcut on
 * (the hot-request stage's cached reads and sold-out refusals), one with every shortcut off.
 *
 * Every answer must be the same bytes: status line, header lines in order, body. Normalized
 * explicitly, and only: Date (dropped), a generated X-Request-Id, ids and timestamps the database
 * generates (each world's UUIDs, ETags and ISO times named by order of first appearance),
 * RateLimit-Reset and Retry-After (seconds left, read a moment apart). After the sequence the limiter counts in
 * Redis (writes and reads per user, anonymous per client address) must be equal.
 */
import { request } from 'node:http';
import type { Server } from 'node:http';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { composeApi } from '../../../src/compose';
import { loadConfig, type Config } from '../../../src/config';
import { closeServer, listen } from '../../../src/http/server';
import { TEST_JWT_SECRET } from '../../support/api';
import { writeReport } from '../../support/report';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { TEST_REDIS_URL } from '../../support/env';
import { deleteKeys, quietLogger, redisApiEnv, testKeyPrefix, waitForRedis } from './helpers';

const ALLOWED = 'https://tickets.example.test';
const WRITES = 4;
const ANON = 100;
/** Leases of 2 points (as ANON's): a signed-in user's second read of a cached event is the hot-request stage's. */
const READS = 100;
const RUNS = 20;

interface World {
  name: 'shortcuts' | 'plain';
  db: TestDatabase;
  prefix: string;
  origin: string;
  server: Server;
  composed: ReturnType<typeof composeApi>;
  organizer: string;
  organizerId: string;
}

interface Fixture {
  /** open, sold out with marker, sold out without marker */
  events: [string, string, string];
  users: Array<{ id: string; token: string }>;
  /** The path's last ETag seen (for If-None-Match). */
  etags: Map<string, string>;
}

let redis: Redis;
const worlds: World[] = [];

async function startWorld(name: World['name']): Promise<World> {
  const db = await createTestDatabase({ poolMax: 10 });
  const prefix = testKeyPrefix();
  const on = name === 'shortcuts';
  const config = loadConfig({
    ...redisApiEnv(db.url, prefix),
    CORS_ORIGINS: ALLOWED,
    TRUST_PROXY: 'loopback',
    RATE_LIMIT_WRITES: String(WRITES),
    RATE_LIMIT_WRITES_WINDOW: '1h',
    RATE_LIMIT_ANON: String(ANON),
    RATE_LIMIT_ANON_WINDOW: '1h',
    RATE_LIMIT_READS: String(READS),
    RATE_LIMIT_READS_WINDOW: '1h',
    // nothing lapses while the file runs
    CACHE_TTL: '1h',
    CACHE_LOCAL_TTL: '60s',
    CACHE_SOLD_OUT_TTL: '1h',
    ACCESS_LOG_CACHED_READ_EVERY: '1',
    DB_POOL_MIN: '0',
  });
  const composed = composeApi({
    pool: db.pool,
    config: { ...config, http: { ...config.http, fastReads: on, fastSoldOut: on } } as Config,
    logger: quietLogger,
    jwtSecret: TEST_JWT_SECRET,
    health: [],
    metrics: new Registry(),
    isShuttingDown: () => false,
  });
  const { server, url } = await listen(composed.app, '127.0.0.1', 0);
  await waitForRedis(`${url}/api/v1`);
  const organizer = await composed.userStore.create({
    email: `organizer-${name}@diff.test`,
    passwordHash: 'not-a-login-account',
    role: 'organizer',
  });
  const token = composed.accessTokens.sign({ userId: organizer.id, role: 'organizer', tokenVersion: 0 }).token;
  const world = { name, db, prefix, origin: url, server, composed, organizer: token, organizerId: organizer.id };
  worlds.push(world);
  return world;
}

let shortcuts: World;
let plain: World;

beforeAll(async () => {
  redis = new Redis(TEST_REDIS_URL);
  shortcuts = await startWorld('shortcuts');
  plain = await startWorld('plain');
});

afterAll(async () => {
  for (const world of worlds) {
    await closeServer(world.server);
    await world.composed.close();
    await world.db.drop();
    await deleteKeys(world.prefix);
  }
  redis?.disconnect();
});

interface Raw {
  status: number;
  headers: string[];
  body: string;
}

function send(world: World, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(`${world.origin}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const lines: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        resolve({ status: res.statusCode!, headers: lines, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

let runs = 0;
/** Far-future, distinct start times, identical in both worlds (list pages sort by them). */
const startOf = (run: number, k: number) => Date.UTC(2090, 0, 1) + (run * 10 + k) * 3_600_000;

async function post(world: World, path: string, token: string, body: unknown): Promise<Raw> {
  return send(
    world,
    'POST',
    `/api/v1${path}`,
    { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    JSON.stringify(body),
  );
}

/** The same fixture in a world: three events, three users, limits pre-used as the scenario says. */
async function fixture(world: World, run: number, ip: string, scenario: Scenario): Promise<Fixture> {
  const events: string[] = [];
  for (const [k, capacity] of [3, 1, 1].entries()) {
    const startsAt = startOf(run, k);
    const created = await post(world, '/events', world.organizer, {
      name: `Diff ${run}.${k}`,
      startsAt: new Date(startsAt).toISOString(),
      endsAt: new Date(startsAt + 3_600_000).toISOString(),
      priceCents: 1000,
      currency: 'EUR',
      capacity,
    });
    expect(created.status).toBe(201);
    events.push((JSON.parse(created.body) as { id: string }).id);
  }
  const users = [];
  for (let i = 0; i < 4; i++) {
    const user = await world.composed.userStore.create({
      email: `u${i}-${run}-${world.name}@diff.test`,
      passwordHash: 'not-a-login-account',
      role: 'user',
    });
    users.push({ id: user.id, token: world.composed.accessTokens.sign({ userId: user.id, role: 'user', tokenVersion: 0 }).token });
  }
  // users[3] is the fixture's own: it sells out events 1 and 2, and learns event 1's marker
  const setup = users[3]!;
  for (const k of [1, 2]) expect((await post(world, `/events/${events[k]}/bookings`, setup.token, { quantity: 1 })).status).toBe(201);
  expect((await post(world, `/events/${events[1]}/bookings`, setup.token, { quantity: 1 })).status).toBe(409);
  // limits near exhaustion: points already used in the store's window (the organizer's own writes forgotten)
  const rl = `${world.prefix}rl:`;
  await redis.del(`${rl}writes:${world.organizerId}`);
  for (const [i, used] of scenario.writesUsed.entries())
    if (used > 0) await redis.set(`${rl}writes:${users[i]!.id}`, String(used), 'PX', 3_600_000);
  for (const [i, used] of scenario.readsUsed.entries())
    if (used > 0) await redis.set(`${rl}reads:${users[i]!.id}`, String(used), 'PX', 3_600_000);
  if (scenario.anonUsed > 0) await redis.set(`${rl}anonymous:${ip}`, String(scenario.anonUsed), 'PX', 3_600_000);
  // A process past its first requests: the events' copies loaded (shared cache, then this process,
  // from another client address), and a write of each user seen by the limiter (404: no event).
  const warm = `10.78.${run >> 8}.${run & 255}`;
  for (let i = 0; i < 2; i++) for (const id of events) await send(world, 'GET', `/api/v1/events/${id}`, { 'x-forwarded-for': warm });
  for (const user of users.slice(0, 3))
    await post(world, '/events/6f1c2b8e-3d4a-4b5c-9d6e-7f8a9b0c1d2e/bookings', user.token, { quantity: 1 });
  return { events: events as Fixture['events'], users: users.slice(0, 3), etags: new Map() };
}

type Auth = 'none' | 'u0' | 'u1' | 'u2' | 'bad' | 'malformed';
type EventRef = 0 | 1 | 2 | 'missing' | 'malformed' | 'upper';
type Step =
  | {
      kind: 'read';
      method: 'GET' | 'HEAD';
      event: EventRef;
      auth: Auth;
      ifNoneMatch: 'none' | 'last' | 'other' | 'star';
      origin: 'none' | 'allowed' | 'other';
      requestId: 'given' | 'none' | 'bad';
      query: boolean;
    }
  | { kind: 'list'; limit: number; auth: Auth; ifNoneMatch: 'none' | 'last' }
  | {
      kind: 'book';
      event: EventRef;
      auth: Auth;
      body: 'q1' | 'q2' | 'q3' | 'zero' | 'eleven' | 'text' | 'malformed' | 'unknown' | 'empty' | 'not-json';
      key: 'none' | 'k1' | 'k2';
      origin: 'none' | 'allowed';
    }
  | { kind: 'other'; method: 'DELETE' | 'PATCH' | 'PUT'; event: EventRef; auth: Auth }
  | { kind: 'mine'; auth: Auth };

interface Scenario {
  writesUsed: number[];
  readsUsed: number[];
  anonUsed: number;
  steps: Step[];
}

const auth = fc.constantFrom<Auth>('none', 'u0', 'u0', 'u0', 'u1', 'u2', 'bad', 'malformed');
const eventRef = fc.constantFrom<EventRef>(0, 1, 1, 1, 2, 'missing', 'malformed', 'upper');
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      method: fc.constantFrom('GET' as const, 'GET' as const, 'HEAD' as const),
      event: eventRef,
      auth: fc.constantFrom<Auth>('none', 'none', 'none', 'u0', 'u0', 'u0', 'u1', 'bad'),
      ifNoneMatch: fc.constantFrom('none' as const, 'none' as const, 'last' as const, 'other' as const, 'star' as const),
      origin: fc.constantFrom('none' as const, 'none' as const, 'allowed' as const, 'other' as const),
      requestId: fc.constantFrom('given' as const, 'none' as const, 'bad' as const),
      query: fc.boolean(),
    }),
  },
  {
    // signed-in readers polling a cached event (leased reads limit, near exhaustion or not)
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      method: fc.constantFrom('GET' as const, 'GET' as const, 'HEAD' as const),
      event: fc.constantFrom<EventRef>(0, 1, 1, 'upper'),
      auth: fc.constantFrom<Auth>('u0', 'u0', 'u1'),
      ifNoneMatch: fc.constantFrom('none' as const, 'last' as const),
      origin: fc.constantFrom('none' as const, 'allowed' as const),
      requestId: fc.constantFrom('given' as const, 'none' as const),
      query: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('list' as const),
      limit: fc.integer({ min: 1, max: 3 }),
      auth,
      ifNoneMatch: fc.constantFrom('none' as const, 'last' as const),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('book' as const),
      event: eventRef,
      auth,
      body: fc.constantFrom(
        'q1' as const,
        'q1' as const,
        'q2' as const,
        'q3' as const,
        'zero' as const,
        'eleven' as const,
        'text' as const,
        'malformed' as const,
        'unknown' as const,
        'empty' as const,
        'not-json' as const,
      ),
      key: fc.constantFrom('none' as const, 'none' as const, 'k1' as const, 'k2' as const),
      origin: fc.constantFrom('none' as const, 'allowed' as const),
    }),
  },
  {
    // the stampede after a sell-out: a signed-in retry of the sold-out event
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('book' as const),
      event: fc.constantFrom<EventRef>(1, 1, 1, 2, 'upper'),
      auth: fc.constantFrom<Auth>('u0', 'u0', 'u1', 'u2'),
      body: fc.constantFrom('q1' as const, 'q1' as const, 'q2' as const, 'malformed' as const),
      key: fc.constantFrom('none' as const, 'none' as const, 'none' as const, 'k1' as const),
      origin: fc.constantFrom('none' as const, 'allowed' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('other' as const),
      method: fc.constantFrom('DELETE' as const, 'PATCH' as const, 'PUT' as const),
      event: eventRef,
      auth,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('mine' as const), auth }) },
);
const scenario: fc.Arbitrary<Scenario> = fc.record({
  writesUsed: fc.tuple(fc.constantFrom(0, 0, WRITES - 1, WRITES), fc.constantFrom(0, WRITES - 2), fc.constant(0)).map((used) => [...used]),
  // near exhaustion: one point left (a lease of 2 is refused as a whole), two, three, none
  readsUsed: fc
    .tuple(fc.constantFrom(0, READS - 3, READS - 2, READS - 1, READS), fc.constantFrom(0, READS - 1, READS), fc.constant(0))
    .map((used) => [...used]),
  anonUsed: fc.constantFrom(0, 0, ANON - 3, ANON),
  steps: fc.array(step, { minLength: 1, maxLength: 16 }),
});

const BODIES: Record<Extract<Step, { kind: 'book' }>['body'], { text: string; type: string }> = {
  q1: { text: '{"quantity":1}', type: 'application/json' },
  q2: { text: '{"quantity":2}', type: 'application/json; charset=utf-8' },
  q3: { text: ' { "quantity" : 3 } ', type: 'application/json' },
  zero: { text: '{"quantity":0}', type: 'application/json' },
  eleven: { text: '{"quantity":11}', type: 'application/json' },
  text: { text: '{"quantity":"1"}', type: 'application/json' },
  malformed: { text: '{"quantity":', type: 'application/json' },
  unknown: { text: '{"quantity":1,"available":99}', type: 'application/json' },
  empty: { text: '', type: 'application/json' },
  'not-json': { text: 'quantity=1', type: 'text/plain' },
};

/** The request a step makes in one world (its own ids, tokens and last ETags). */
function requestOf(world: World, f: Fixture, s: Step, ip: string, index: number) {
  const eventPath = (ref: EventRef) => {
    if (ref === 'missing') return '/events/6f1c2b8e-3d4a-4b5c-9d6e-7f8a9b0c1d2e';
    if (ref === 'malformed') return '/events/not-a-uuid';
    if (ref === 'upper') return `/events/${f.events[1].toUpperCase()}`;
    return `/events/${f.events[ref]}`;
  };
  const headers: Record<string, string> = { 'x-forwarded-for': ip };
  const a = s.auth;
  if (a === 'bad') headers.authorization = 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
  else if (a === 'malformed') headers.authorization = 'Basic dXNlcjpwdw==';
  else if (a !== 'none') headers.authorization = `Bearer ${f.users[Number(a[1])]!.token}`;
  const withRequestId = (mode: 'given' | 'none' | 'bad') => {
    if (mode === 'given') headers['x-request-id'] = `diff-${index}`;
    else if (mode === 'bad') headers['x-request-id'] = 'not a sane id';
  };
  switch (s.kind) {
    case 'read': {
      const path = eventPath(s.event);
      withRequestId(s.requestId);
      const last = f.etags.get(path);
      if (s.ifNoneMatch === 'last' && last) headers['if-none-match'] = last;
      else if (s.ifNoneMatch === 'other') headers['if-none-match'] = '"not-the-tag"';
      else if (s.ifNoneMatch === 'star') headers['if-none-match'] = '*';
      if (s.origin === 'allowed') headers.origin = ALLOWED;
      else if (s.origin === 'other') headers.origin = 'https://elsewhere.example.test';
      return { method: s.method, path: `/api/v1${path}${s.query ? '?utm=1' : ''}`, headers, key: path };
    }
    case 'list': {
      withRequestId('given');
      const path = `/events?limit=${s.limit}`;
      const last = f.etags.get(path);
      if (s.ifNoneMatch === 'last' && last) headers['if-none-match'] = last;
      return { method: 'GET', path: `/api/v1${path}`, headers, key: path };
    }
    case 'book': {
      withRequestId('given');
      const body = BODIES[s.body];
      headers['content-type'] = body.type;
      if (s.key !== 'none') headers['idempotency-key'] = `${s.key}-${ip}`;
      if (s.origin === 'allowed') headers.origin = ALLOWED;
      return { method: 'POST', path: `/api/v1${eventPath(s.event)}/bookings`, headers, body: body.text, key: '' };
    }
    case 'other': {
      withRequestId('given');
      headers['content-type'] = 'application/json';
      return {
        method: s.method,
        path: `/api/v1${eventPath(s.event)}${s.method === 'DELETE' ? '/bookings' : ''}`,
        headers,
        body: '{"name":"x"}',
        key: '',
      };
    }
    case 'mine':
      withRequestId('given');
      return { method: 'GET', path: '/api/v1/bookings?limit=5', headers, key: '' };
  }
}

const UUID = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g;
const ISO = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g;
const ETAG = /"[A-Za-z0-9_-]{22}"/g;
const CURSOR = /"nextCursor":"([^"]+)"/g;

/** Names a world's generated values by order of first appearance (fixture ids first). */
class Normalizer {
  private readonly names = new Map<string, string>();
  constructor(f: Fixture, ip: string) {
    f.events.forEach((id, i) => this.names.set(id.toLowerCase(), `event-${i}`));
    f.users.forEach((user, i) => this.names.set(user.id.toLowerCase(), `user-${i}`));
    this.names.set(ip, 'client-ip');
  }
  private name(kind: string, value: string): string {
    const key = value.toLowerCase();
    let name = this.names.get(key);
    if (!name) this.names.set(key, (name = `${kind}-${this.names.size}`));
    return value === value.toUpperCase() && /[A-F]/.test(value) ? name.toUpperCase() : name;
  }
  text(value: string): string {
    return value
      .replace(CURSOR, (_all, cursor: string) => `"nextCursor":"${this.name('cursor', cursor)}"`)
      .replace(UUID, (id) => this.name('uuid', id))
      .replace(ISO, (time) => this.name('time', time))
      .replace(ETAG, (tag) => this.name('etag', tag));
  }
  answer(raw: Raw, requestId: string | undefined) {
    const headers = raw.headers
      .filter((line) => !line.startsWith('Date: '))
      .map((line) => {
        if (line.startsWith('RateLimit-Reset: ')) return 'RateLimit-Reset: <seconds>';
        if (line.startsWith('Retry-After: ')) return 'Retry-After: <seconds>';
        if (line.startsWith('X-Request-Id: ') && line !== `X-Request-Id: ${requestId}`)
          return /^X-Request-Id: [0-9a-f-]{36}$/.test(line) ? 'X-Request-Id: <generated>' : line;
        return this.text(line);
      });
    return { status: raw.status, headers, body: this.text(raw.body) };
  }
}

/** The limiter counts a world's store holds for the fixture's users and client address. */
async function limiterState(world: World, f: Fixture, ip: string): Promise<Array<string | null>> {
  const rl = `${world.prefix}rl:`;
  return Promise.all([
    ...f.users.map((user) => redis.get(`${rl}writes:${user.id}`)),
    ...f.users.map((user) => redis.get(`${rl}reads:${user.id}`)),
    redis.get(`${rl}anonymous:${ip}`),
  ]);
}

/** Until no anonymous or reads lease is in flight: a background prefetch lands when it lands, in either world. */
async function settle(world: World): Promise<void> {
  await world.composed.rateLimits.anonymous?.settled();
  await world.composed.rateLimits.reads?.settled();
}

/** DIFF_SEED=<n> replays a run (the seed is in the failure message and in build/test-reports/shortcuts-differential.json). */
const seed = Number(process.env.DIFF_SEED ?? Date.now() % 2 ** 31);

it('every shortcut on answers every request sequence byte for byte as every shortcut off, and leaves the same limiter counts', async () => {
  const hot = { reads: 0, signedInReads: 0, signedInRefusedReads: 0, refusals: 0, requests: 0 };
  await fc.assert(
    fc.asyncProperty(scenario, async (sc) => {
      const run = ++runs;
      const ip = `10.77.${run >> 8}.${run & 255}`;
      const fixtures = { shortcuts: await fixture(shortcuts, run, ip, sc), plain: await fixture(plain, run, ip, sc) };
      const normalizers = { shortcuts: new Normalizer(fixtures.shortcuts, ip), plain: new Normalizer(fixtures.plain, ip) };
      for (const [index, s] of sc.steps.entries()) {
        const answers = [];
        for (const world of [shortcuts, plain]) {
          const f = fixtures[world.name];
          const req = requestOf(world, f, s, ip, index);
          const routeCalls = [jest.spyOn(world.composed.services.events, 'getJson'), jest.spyOn(world.composed.services.bookings, 'book')];
          const raw = await send(world, req.method, req.path, req.headers, req.body);
          const routeRan = routeCalls.some((spy) => spy.mock.calls.length > 0);
          if (world.name === 'shortcuts') {
            hot.requests++;
            if (!routeRan && s.kind === 'read' && (raw.status === 200 || raw.status === 304)) {
              hot.reads++;
              if (s.auth.startsWith('u')) hot.signedInReads++;
            }
            if (s.kind === 'read' && s.auth.startsWith('u') && raw.status === 429) hot.signedInRefusedReads++;
            if (!routeRan && s.kind === 'book' && raw.status === 409) hot.refusals++;
          }
          for (const spy of routeCalls) spy.mockRestore();
          const etag = raw.headers.find((line) => line.startsWith('ETag: '));
          if (etag && req.key) f.etags.set(req.key, etag.slice('ETag: '.length));
          await settle(world);
          answers.push(normalizers[world.name].answer(raw, req.headers['x-request-id']));
        }
        expect({ step: index, ...s, answer: answers[0] }).toEqual({ step: index, ...s, answer: answers[1] });
      }
      expect(await limiterState(shortcuts, fixtures.shortcuts, ip)).toEqual(await limiterState(plain, fixtures.plain, ip));
    }),
    { numRuns: RUNS, seed, endOnFailure: false },
  );
  writeReport('shortcuts-differential', { seed, runs: RUNS, ...hot });
  // The property is only worth something if the shortcuts answered some of the requests.
  expect(hot.reads).toBeGreaterThan(0);
  // signed-in readers are the hot-request stage's too, and reach their limit
  expect(hot.signedInReads).toBeGreaterThan(0);
  expect(hot.signedInRefusedReads).toBeGreaterThan(0);
  expect(hot.refusals).toBeGreaterThan(0);
}, 120_000);
