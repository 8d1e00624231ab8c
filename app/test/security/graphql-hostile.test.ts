/**
 * Hostile GraphQL against the real API in production mode (PostgreSQL + Redis): each row gets the
 * HTTP status and error code it states, never a 5xx, nothing in the database changes, and the
 * server spends less CPU on it than the request timeout allows.
 */
import jwt from 'jsonwebtoken';
import { call, futureEvent, TEST_JWT_SECRET, type JsonResponse, type TestApi } from '../support/api';
import { graphqlUrl, type GraphqlBody } from '../support/graphql';
import { deleteKeys, startRedisApi } from '../integration/redis/helpers';
import { writeReport } from '../support/report';

let api: TestApi & { prefix: string };
const TABLES = ['users', 'events', 'bookings', 'outbox'] as const;

interface Fixture {
  userA: string;
  userAId: string;
  userB: string;
  organizer2: string;
  eventId: string;
  /** A's pending hold on a paid event. */
  bookingOfA: string;
  /** A's hold already being paid (payment_pending: no payments service runs here). */
  paidOfA: string;
  /** A's hold whose expiry has passed (no sweeper runs here: still pending). */
  lapsedOfA: string;
  /** A's hold on a free event (nothing to pay). */
  freeOfA: string;
}
let f: Fixture;

async function fingerprint(): Promise<string[]> {
  return Promise.all(
    TABLES.map(async (table) => {
      const { rows } = await api.db.pool.query<{ h: string }>(
        `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h FROM ${table} t`,
      );
      return rows[0]!.h;
    }),
  );
}

beforeAll(async () => {
  api = await startRedisApi({
    NODE_ENV: 'production',
    AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
    BCRYPT_COST: '10',
    RATE_LIMIT_ANON: '0',
    RATE_LIMIT_READS: '0',
    RATE_LIMIT_WRITES: '0',
  });
  const [organizer, organizer2, userA, userB] = [
    await api.user('organizer'),
    await api.user('organizer'),
    await api.user(),
    await api.user(),
  ];
  const eventId = (await call<{ id: string }>(`${api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 10 }) })).body
    .id;
  const hold = async (event: string) =>
    (await call<{ id: string }>(`${api.url}/events/${event}/bookings`, { token: userA.token, body: { quantity: 1 } })).body.id;
  const [bookingOfA, paidOfA, lapsedOfA] = [await hold(eventId), await hold(eventId), await hold(eventId)];
  expect(
    (
      await call(`${api.url}/bookings/${paidOfA}/pay`, {
        token: userA.token,
        body: { paymentMethod: 'pm_card_visa' },
        headers: { 'Idempotency-Key': 'fixture-pay' },
      })
    ).status,
  ).toBe(202);
  await api.db.pool.query("UPDATE bookings SET expires_at = now() - interval '1 minute' WHERE id = $1", [lapsedOfA]);
  const freeEvent = (
    await call<{ id: string }>(`${api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 10, priceCents: 0 }) })
  ).body.id;
  f = {
    userA: userA.token,
    userAId: userA.id,
    userB: userB.token,
    organizer2: organizer2.token,
    eventId,
    bookingOfA,
    paidOfA,
    lapsedOfA,
    freeOfA: await hold(freeEvent),
  };
});
afterAll(async () => {
  await deleteKeys(api.prefix);
  await api.close();
});

const post = (body: unknown, headers: Record<string, string> = {}) => call<GraphqlBody>(graphqlUrl(api), { method: 'POST', body, headers });
const raw = async (init: RequestInit & { path?: string }): Promise<JsonResponse<GraphqlBody>> => {
  const response = await fetch(`${graphqlUrl(api)}${init.path ?? ''}`, init);
  const text = await response.text();
  let body: GraphqlBody;
  try {
    body = JSON.parse(text) as GraphqlBody;
  } catch {
    body = {};
  }
  return { status: response.status, headers: response.headers, body };
};
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const EVENT_FIELDS = 'id name description venue startsAt endsAt priceCents currency capacity available organizerId createdAt updatedAt';

interface Row {
  name: string;
  send: () => Promise<JsonResponse<GraphqlBody>>;
  status: number;
  /** extensions.code of the first error (omit when the answer is not a GraphQL one). */
  code?: string;
  check?: (response: JsonResponse<GraphqlBody>) => void;
}

const BOOK = 'mutation($e: ID!, $q: Int!) { bookSeats(eventId: $e, quantity: $q) { booking { id } } }';

const PAY =
  'mutation($id: ID!, $m: String!, $k: String) { payBooking(id: $id, paymentMethod: $m, idempotencyKey: $k) { booking { id status } replayed } }';
const pay = (variables: Record<string, unknown>, token?: string, headers: Record<string, string> = {}) =>
  post(
    { query: PAY, variables: { id: f.bookingOfA, m: 'pm_card_visa', ...variables } },
    { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  );
/** The refusal's kind (the error table's row) and that nothing was answered. */
const refusedAs = (kind: string) => (response: JsonResponse<GraphqlBody>) => {
  expect(response.body.errors![0]!.extensions!.kind).toBe(kind);
  expect(response.body.data).toEqual({ payBooking: null });
};

const rows: Row[] = [];

rows.push(
  // The schema has no cycle (Booking → Event ends there): depth 100 can only be asked, never served.
  {
    name: 'depth 100',
    send: () => post({ query: `{ myBookings { edges { node { event ${'{ id '.repeat(96)}${'}'.repeat(96)} } } } }` }),
    status: 200,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  // 10,000 aliases do not fit in BODY_LIMIT (100kb): refused before parsing; 1,000 do, and stop at the token limit.
  {
    name: '10,000 aliases',
    send: () => post({ query: `{ ${Array.from({ length: 10_000 }, (_, i) => `a${i}: __typename`).join(' ')} }` }),
    status: 413,
  },
  {
    name: '1,000 aliases (within the body limit)',
    send: () => post({ query: `{ ${Array.from({ length: 1_000 }, (_, i) => `a${i}: __typename`).join(' ')} }` }),
    status: 200,
    code: 'GRAPHQL_VALIDATION_FAILED',
    check: (response) => expect(response.body.errors![0]!.message).toMatch(/Token limit of 2000 exceeded/),
  },
  {
    name: '16 aliases (one over the cap)',
    send: () => post({ query: `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: me { id }`).join(' ')} }` }),
    status: 200,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: 'cost bomb: 15 aliased 100-event connections with every field',
    send: () =>
      post({
        query: `{ ${Array.from({ length: 15 }, (_, i) => `c${i}: events(first: 100) { edges { cursor node { ${EVENT_FIELDS} } } pageInfo { hasNextPage endCursor } }`).join(' ')} }`,
      }),
    status: 200,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: 'cost bomb through nested connections: bookings → event, fragments spread many times',
    send: () =>
      post({
        query: `fragment E on Event { ${EVENT_FIELDS} } fragment B on Booking { id event { ...E ...E ...E ...E ...E } } { ${Array.from({ length: 12 }, (_, i) => `m${i}: myBookings(first: 100) { edges { node { ...B ...B ...B ...B } } }`).join(' ')} }`,
      }),
    status: 200,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  { name: '100 batched operations', send: () => post(Array.from({ length: 100 }, () => ({ query: '{ __typename }' }))), status: 413 },
  {
    name: 'introspection in production (__schema)',
    send: () => post({ query: '{ __schema { types { name } } }' }),
    status: 200,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: 'introspection in production (__type)',
    send: () => post({ query: '{ __type(name: "Booking") { fields { name } } }' }),
    status: 200,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: '1 MB of variables',
    send: () =>
      post({ query: 'query($q: String) { events(filter: {q: $q}) { edges { node { id } } } }', variables: { q: 'x'.repeat(1024 * 1024) } }),
    status: 413,
  },
  {
    name: 'wrong variable type (quantity as text)',
    send: () => post({ query: BOOK, variables: { e: f.eventId, q: 'two' } }, { authorization: `Bearer ${f.userA}` }),
    status: 400,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'missing required variable',
    send: () => post({ query: BOOK, variables: { e: f.eventId } }, { authorization: `Bearer ${f.userA}` }),
    status: 400,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'mutation over GET (with the CSRF header)',
    send: () =>
      raw({
        path: `?query=${encodeURIComponent(`mutation { cancelBooking(id: "${f.bookingOfA}") { id } }`)}`,
        headers: { 'x-graphql-csrf': '1', authorization: `Bearer ${f.userA}` },
      }),
    status: 405,
  },
  {
    name: 'GET query without the CSRF header',
    send: () => raw({ path: `?query=${encodeURIComponent('{ me { id } }')}`, headers: { authorization: `Bearer ${f.userA}` } }),
    status: 403,
  },
  {
    name: 'simple cross-site POST (text/plain) of a mutation',
    send: () =>
      raw({
        method: 'POST',
        headers: { 'content-type': 'text/plain', authorization: `Bearer ${f.userA}` },
        body: JSON.stringify({ query: `mutation { cancelBooking(id: "${f.bookingOfA}") { id } }` }),
      }),
    status: 415,
  },
  {
    name: 'form-encoded POST of a mutation',
    send: () =>
      raw({
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${f.userA}` },
        body: `query=${encodeURIComponent(`mutation { cancelBooking(id: "${f.bookingOfA}") { id } }`)}`,
      }),
    status: 415,
  },
  {
    name: 'unknown field (no suggestion in production)',
    send: () => post({ query: '{ events { edges { node { passwordHash } } } }' }),
    status: 200,
    code: 'GRAPHQL_VALIDATION_FAILED',
    check: (response) => expect(JSON.stringify(response.body)).not.toMatch(/Did you mean/i),
  },
  {
    name: "another user's booking",
    send: () =>
      post(
        { query: 'query($id: ID!) { booking(id: $id) { id userId } }', variables: { id: f.bookingOfA } },
        { authorization: `Bearer ${f.userB}` },
      ),
    status: 200,
    code: 'NOT_FOUND',
    check: (response) => expect(response.body.data).toEqual({ booking: null }),
  },
  {
    name: "cancelling another user's booking",
    send: () => post({ query: `mutation { cancelBooking(id: "${f.bookingOfA}") { id } }` }, { authorization: `Bearer ${f.userB}` }),
    status: 200,
    code: 'NOT_FOUND',
  },
  {
    name: "confirming another user's booking",
    send: () => post({ query: `mutation { confirmBooking(id: "${f.bookingOfA}") { id } }` }, { authorization: `Bearer ${f.userB}` }),
    status: 200,
    code: 'NOT_FOUND',
  },
  { name: "paying another user's booking", send: () => pay({}, f.userB), status: 200, code: 'NOT_FOUND', check: refusedAs('not-found') },
  {
    name: 'paying an unknown booking',
    send: () => pay({ id: '00000000-0000-4000-8000-000000000000' }, f.userA),
    status: 200,
    code: 'NOT_FOUND',
    check: refusedAs('not-found'),
  },
  {
    name: 'paying with a bad payment method',
    send: () => pay({ m: 'card_4242424242424242' }, f.userA),
    status: 200,
    code: 'BAD_USER_INPUT',
    check: (response) => expect(response.body.errors![0]!.extensions!.fields!.map((field) => field.path)).toEqual(['paymentMethod']),
  },
  {
    name: 'paying with the payment method missing',
    send: () => post({ query: PAY, variables: { id: f.bookingOfA } }, { authorization: `Bearer ${f.userA}` }),
    status: 400,
    code: 'BAD_USER_INPUT',
  },
  { name: 'paying with no token', send: () => pay({}), status: 200, code: 'UNAUTHENTICATED', check: refusedAs('unauthenticated') },
  {
    name: 'paying with an expired token',
    send: () =>
      pay(
        {},
        jwt.sign({ sub: f.userAId, role: 'user', ver: 0, iss: 'goticket', aud: 'goticket-api', exp: now() - 60 }, TEST_JWT_SECRET, {
          algorithm: 'HS256',
        }),
      ),
    status: 200,
    code: 'UNAUTHENTICATED',
    check: refusedAs('unauthenticated'),
  },
  {
    name: 'paying a booking already being paid',
    send: () => pay({ id: f.paidOfA }, f.userA),
    status: 200,
    code: 'CONFLICT',
    check: refusedAs('invalid-transition'),
  },
  {
    name: 'paying again with the same key and another payment method',
    send: () => pay({ id: f.paidOfA, m: 'pm_card_mastercard', k: 'fixture-pay' }, f.userA),
    status: 200,
    code: 'CONFLICT',
    check: refusedAs('invalid-transition'),
  },
  {
    name: 'paying a lapsed hold',
    send: () => pay({ id: f.lapsedOfA }, f.userA),
    status: 200,
    code: 'CONFLICT',
    check: refusedAs('hold-expired'),
  },
  {
    name: 'paying a hold on a free event',
    send: () => pay({ id: f.freeOfA }, f.userA),
    status: 200,
    code: 'CONFLICT',
    check: refusedAs('payment-not-required'),
  },
  {
    name: 'confirming a paid hold without paying',
    send: () => post({ query: `mutation { confirmBooking(id: "${f.bookingOfA}") { id } }` }, { authorization: `Bearer ${f.userA}` }),
    status: 200,
    code: 'PAYMENT_REQUIRED',
    check: (response) => expect(response.body.errors![0]!.extensions!.kind).toBe('payment-required'),
  },
  {
    name: 'payBooking over GET (with the CSRF header)',
    send: () =>
      raw({
        path: `?query=${encodeURIComponent(`mutation { payBooking(id: "${f.bookingOfA}", paymentMethod: "pm_card_visa") { replayed } }`)}`,
        headers: { 'x-graphql-csrf': '1', authorization: `Bearer ${f.userA}` },
      }),
    status: 405,
  },
  {
    name: "changing another organizer's event",
    send: () =>
      post(
        { query: `mutation { updateEvent(id: "${f.eventId}", input: {capacity: 1000}) { id } }` },
        { authorization: `Bearer ${f.organizer2}` },
      ),
    status: 200,
    code: 'FORBIDDEN',
  },
  {
    name: "deleting another organizer's event",
    send: () => post({ query: `mutation { deleteEvent(id: "${f.eventId}") }` }, { authorization: `Bearer ${f.organizer2}` }),
    status: 200,
    code: 'FORBIDDEN',
  },
  {
    name: 'malformed JSON body',
    send: () => raw({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": "{ me { id }' }),
    status: 400,
  },
  { name: 'syntax error', send: () => post({ query: '{ me { id }' }), status: 200, code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'empty query', send: () => post({ query: '' }), status: 200, code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'no query at all', send: () => post({ variables: {} }), status: 200, code: 'BAD_REQUEST' },
  { name: 'query not a string', send: () => post({ query: { $ne: null } }), status: 400 },
  {
    name: 'alg none token',
    send: () =>
      post(
        { query: '{ me { id } }' },
        {
          authorization: `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: f.userAId, role: 'admin', ver: 0, iss: 'goticket', aud: 'goticket-api', exp: now() + 600 })}.`,
        },
      ),
    status: 200,
    code: 'UNAUTHENTICATED',
  },
  {
    name: 'expired token',
    send: () =>
      post(
        { query: '{ me { id } }' },
        {
          authorization: `Bearer ${jwt.sign({ sub: f.userAId, role: 'user', ver: 0, iss: 'goticket', aud: 'goticket-api', exp: now() - 60 }, TEST_JWT_SECRET, { algorithm: 'HS256' })}`,
        },
      ),
    status: 200,
    code: 'UNAUTHENTICATED',
  },
  {
    name: 'garbage Authorization header',
    send: () => post({ query: '{ me { id } }' }, { authorization: 'Basic YWRtaW46YWRtaW4=' }),
    status: 200,
    code: 'UNAUTHENTICATED',
  },
  {
    name: '50 directives',
    send: () => post({ query: `{ me ${'@include(if: true) '.repeat(50)}{ id } }` }),
    status: 200,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: 'fragment cycle',
    send: () => post({ query: 'fragment A on Query { ...B } fragment B on Query { ...A } { ...A }' }),
    status: 200,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  { name: 'operationName not in the document', send: () => post({ query: 'query A { me { id } }', operationName: 'B' }), status: 400 },
  { name: 'two operations and no operationName', send: () => post({ query: 'query A { me { id } } query B { me { id } }' }), status: 400 },
  {
    name: 'subscription (none exists)',
    send: () => post({ query: 'subscription { bookings { id } }' }),
    status: 200,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: 'search text over its limit',
    send: () =>
      post({ query: 'query($q: String) { events(filter: {q: $q}) { edges { node { id } } } }', variables: { q: 'x'.repeat(90_000) } }),
    status: 200,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'negative quantity',
    send: () => post({ query: BOOK, variables: { e: f.eventId, q: -5 } }, { authorization: `Bearer ${f.userA}` }),
    status: 200,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'quantity past Int (2^31)',
    send: () => post({ query: BOOK, variables: { e: f.eventId, q: 2 ** 31 } }, { authorization: `Bearer ${f.userA}` }),
    status: 400,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'page of 1,000 (costed before it runs)',
    send: () => post({ query: '{ events(first: 1000) { edges { node { id } } } }' }),
    status: 200,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: 'page of 500 on a cheap selection (the REST cap)',
    send: () => post({ query: '{ events(first: 500) { pageInfo { hasNextPage } } }' }),
    status: 200,
    code: 'BAD_USER_INPUT',
    check: (response) =>
      expect(response.body.errors![0]!.extensions!.fields).toEqual([{ path: 'first', message: expect.stringMatching(/100/) }]),
  },
  {
    name: 'forged cursor',
    send: () => post({ query: '{ events(after: "eyJ0IjoiMSIsImlkIjoieCJ9") { edges { node { id } } } }' }),
    status: 200,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'NUL character in an event name',
    send: () =>
      post(
        {
          query: 'mutation($i: UpdateEventInput!) { updateEvent(id: "' + f.eventId + '", input: $i) { id } }',
          variables: { i: { name: 'a\u0000b' } },
        },
        { authorization: `Bearer ${f.organizer2}` },
      ),
    status: 200,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'SQL in an id',
    send: () => post({ query: `{ booking(id: "1' OR '1'='1") { id } }` }, { authorization: `Bearer ${f.userA}` }),
    status: 200,
    code: 'BAD_USER_INPUT',
  },
);

describe('hostile GraphQL', () => {
  const cpu: Record<string, number> = {};
  afterAll(() => writeReport('graphql-hostile', { rows: rows.length, cpuMsByRow: cpu }));

  it('has at least 30 rows', () => expect(rows.length).toBeGreaterThanOrEqual(30));

  it.each(rows.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const before = await fingerprint();
    const started = process.cpuUsage();
    const response = await row.send();
    const used = process.cpuUsage(started);
    cpu[row.name] = Math.round((used.user + used.system) / 1000);
    expect({ status: response.status, code: response.body.errors?.[0]?.extensions?.code }).toEqual({
      status: row.status,
      code: row.code ?? response.body.errors?.[0]?.extensions?.code,
    });
    expect(response.status).toBeLessThan(500);
    expect(JSON.stringify(response.body)).not.toMatch(/\bat [\w.<>]+ \(|node_modules|SELECT |pg_/);
    row.check?.(response);
    expect(await fingerprint()).toEqual(before);
    // The test process is the server too: its CPU for the row bounds what the server spent on it.
    expect(cpu[row.name]).toBeLessThan(api.config.http.requestTimeoutMs);
  });
});
