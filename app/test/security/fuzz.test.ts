/**
 * Randomized bodies (fast-check) at every write endpoint of the real API: thousands of them,
 * none may produce a 5xx or take the process down, and the seat invariants hold throughout.
 */
import fc from 'fast-check';
import { call, futureEvent, type TestApi } from '../support/api';
import { writeReport } from '../support/report';
import { deleteKeys, startRedisApi } from '../integration/redis/helpers';

let api: TestApi & { prefix: string };
let tokens: { admin: string; organizer: string; user: string; leaver: string };
let eventIds: string[];
let bookingIds: string[];
let userId: string;
const RUNS = 250;
let sent = 0;
/** Operation (as in /openapi.json) → the statuses it documents, and those the fuzzing saw. */
let documented: Map<string, Set<number>>;
const observed = new Map<string, Set<number>>();

beforeAll(async () => {
  api = await startRedisApi({
    RATE_LIMIT_ANON: '0',
    RATE_LIMIT_READS: '0',
    RATE_LIMIT_WRITES: '0',
    RATE_LIMIT_REGISTER: '0',
    RATE_LIMIT_LOGIN_FAILURES: '0',
  });
  const [admin, organizer, user, leaver] = [await api.user('admin'), await api.user('organizer'), await api.user(), await api.user()];
  tokens = { admin: admin.token, organizer: organizer.token, user: user.token, leaver: leaver.token };
  userId = user.id;
  eventIds = [];
  for (let i = 0; i < 3; i++)
    eventIds.push(
      (await call<{ id: string }>(`${api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 50 }) })).body.id,
    );
  const doc = (await (await fetch(api.url.replace(/\/api\/v1$/, '/openapi.json'))).json()) as {
    paths: Record<string, Record<string, { responses: object }>>;
  };
  documented = new Map(
    Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops).map(([method, op]) => [`${method.toUpperCase()} ${p}`, new Set(Object.keys(op.responses).map(Number))] as const),
    ),
  );
  bookingIds = [];
  for (let i = 0; i < 3; i++)
    bookingIds.push(
      (await call<{ id: string }>(`${api.url}/events/${eventIds[0]}/bookings`, { token: user.token, body: { quantity: 1 } })).body.id,
    );
});

afterAll(async () => {
  await api?.close();
  if (api) await deleteKeys(api.prefix);
});

/** Values of every JSON type, biased towards the edges validators get wrong. */
const edgy = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    0,
    -1,
    1,
    10,
    11,
    2 ** 31,
    -(2 ** 53),
    1e21,
    0.5,
    '',
    ' ',
    '1',
    'NaN',
    '__proto__',
    "' OR 1=1--",
    '\u0000',
    '😀'.repeat(50),
  ),
  fc.date({ min: new Date(-1e14), max: new Date(1e14), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.string({ maxLength: 300 }),
);

/** An object with some of the endpoint's own fields (valid or not) plus, sometimes, foreign ones. */
const bodyFor = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc.oneof(
    fc.record(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, fc.oneof(v, edgy)])), { requiredKeys: [] }),
    fc
      .tuple(
        fc.record(fields, { requiredKeys: [] }),
        fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'role', 'available', 'organizerId', 'status', 'x'), edgy),
      )
      .map(([a, b]) => ({ ...a, ...b })),
    edgy,
  );

/** Ids of rows that exist (read when the property runs, after the fixtures), random UUIDs, junk. */
const knownId = fc.nat().map((n) => {
  const ids = [...eventIds, ...bookingIds, userId];
  return ids[n % ids.length]!;
});
const id = () => fc.oneof(knownId, fc.uuid(), fc.string({ maxLength: 40 }).map(encodeURIComponent));
const iso = fc.date({ min: new Date('1999-01-01'), max: new Date('2201-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
const eventFields = {
  name: fc.string({ maxLength: 210 }),
  description: fc.string({ maxLength: 50 }),
  venue: fc.string({ maxLength: 50 }),
  startsAt: iso,
  endsAt: iso,
  priceCents: fc.integer({ min: -10, max: 200_000_000 }),
  currency: fc.constantFrom('EUR', 'USD', 'eur', 'EURO', ''),
  capacity: fc.integer({ min: -5, max: 1_100_000 }),
};

interface Endpoint {
  name: string;
  method: string;
  path: fc.Arbitrary<string>;
  token?: keyof typeof tokens;
  body: fc.Arbitrary<unknown>;
}

const endpoints = (): Endpoint[] => [
  {
    name: 'POST /auth/register',
    method: 'POST',
    path: fc.constant('/auth/register'),
    body: bodyFor({ email: fc.emailAddress(), password: fc.string({ minLength: 10, maxLength: 80 }) }),
  },
  {
    name: 'POST /auth/login',
    method: 'POST',
    path: fc.constant('/auth/login'),
    body: bodyFor({ email: fc.emailAddress(), password: fc.string({ maxLength: 80 }) }),
  },
  {
    name: 'POST /auth/refresh',
    method: 'POST',
    path: fc.constant('/auth/refresh'),
    body: bodyFor({ refreshToken: fc.string({ maxLength: 600 }) }),
  },
  {
    name: 'POST /auth/logout',
    method: 'POST',
    path: fc.constant('/auth/logout'),
    body: bodyFor({ refreshToken: fc.string({ maxLength: 600 }) }),
  },
  { name: 'POST /auth/logout-all', method: 'POST', path: fc.constant('/auth/logout-all'), token: 'leaver', body: bodyFor({}) },
  {
    name: 'PATCH /users/:id/role',
    method: 'PATCH',
    path: id().map((i) => `/users/${i}/role`),
    token: 'user',
    body: bodyFor({ role: fc.constantFrom('user', 'organizer', 'admin', 'root') }),
  },
  { name: 'POST /events', method: 'POST', path: fc.constant('/events'), token: 'organizer', body: bodyFor(eventFields) },
  { name: 'PATCH /events/:id', method: 'PATCH', path: id().map((i) => `/events/${i}`), token: 'organizer', body: bodyFor(eventFields) },
  { name: 'DELETE /events/:id', method: 'DELETE', path: id().map((i) => `/events/${i}`), token: 'organizer', body: bodyFor({}) },
  {
    name: 'POST /events/:id/bookings',
    method: 'POST',
    path: id().map((i) => `/events/${i}/bookings`),
    token: 'user',
    body: bodyFor({ quantity: fc.integer({ min: -2, max: 12 }) }),
  },
  { name: 'POST /bookings/:id/confirm', method: 'POST', path: id().map((i) => `/bookings/${i}/confirm`), token: 'user', body: bodyFor({}) },
  {
    name: 'POST /bookings/:id/pay',
    method: 'POST',
    path: id().map((i) => `/bookings/${i}/pay`),
    token: 'user',
    body: bodyFor({
      paymentMethod: fc.oneof(fc.constant('pm_card_visa'), fc.string({ maxLength: 200 }), fc.stringMatching(/^pm_[A-Za-z0-9_]{0,130}$/)),
    }),
  },
  { name: 'POST /bookings/:id/cancel', method: 'POST', path: id().map((i) => `/bookings/${i}/cancel`), token: 'admin', body: bodyFor({}) },
];

async function invariantsHold(): Promise<void> {
  const { rows } = await api.db.pool.query<{ broken: number; admins: number }>(
    `SELECT (SELECT count(*)::int FROM events e
              WHERE e.available < 0 OR e.available > e.capacity
                 OR e.capacity - e.available <> (SELECT coalesce(sum(quantity), 0) FROM bookings b WHERE b.event_id = e.id AND b.status IN ('pending', 'payment_pending', 'confirmed'))) AS broken,
            (SELECT count(*)::int FROM users WHERE role = 'admin') AS admins`,
  );
  expect(rows[0]).toEqual({ broken: 0, admins: 1 });
}

describe.each(endpoints().map((e) => [e.name, e] as const))('%s', (_name, endpoint) => {
  it(`answers ${RUNS} random bodies without a 5xx, keeping the invariants`, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(endpoint.path, endpoint.body, async (path, body) => {
        const response = await fetch(`${api.url}${path}`, {
          method: endpoint.method,
          headers: { 'content-type': 'application/json', ...(endpoint.token ? { authorization: `Bearer ${tokens[endpoint.token]}` } : {}) },
          body: JSON.stringify(body) ?? 'null',
        });
        await response.arrayBuffer();
        sent++;
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        // An id of '', '.' or '..' makes another path once the URL is normalized (`/events/.` is
        // `/events`): only answers of this operation count.
        const template = endpoint.name.split(' ')[1]!;
        const operation = `${endpoint.method} /api/v1${template.replace(/:(\w+)/g, '{$1}')}`;
        const segments = new URL(`${api.url}${path}`).pathname.replace(/^\/api\/v1/, '').split('/');
        if (segments.length === template.split('/').length && !segments.slice(1).includes(''))
          observed.set(operation, (observed.get(operation) ?? new Set()).add(response.status));
        return response.status < 500;
      }),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    await invariantsHold();
    // a plain user never changes a role, whatever the body
    if (endpoint.name === 'PATCH /users/:id/role') expect(statuses.get(200)).toBeUndefined();
    expect((await call(`${api.url}/events`)).status).toBe(200);
  });
});

test('every status the fuzzing saw is one /openapi.json documents for that operation', () => {
  const undocumented = [...observed].flatMap(([operation, statuses]) =>
    [...statuses].filter((status) => !documented.get(operation)?.has(status)).map((status) => `${operation} ${status}`),
  );
  expect(observed.size).toBe(endpoints().length);
  expect(undocumented).toEqual([]);
});

test('sent thousands of bodies in all', () => {
  expect(sent).toBeGreaterThanOrEqual(endpoints().length * RUNS);
  writeReport('fuzz', { requests: sent, writeEndpoints: endpoints().length, serverErrors: 0 });
});
