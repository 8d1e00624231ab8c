/** The GraphQL edge over real HTTP against the real PostgreSQL: the use cases, the error codes, the shared rules. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { call, futureEvent, startTestApi, type TestApi } from '../support/api';
import { gql, graphqlUrl } from '../support/graphql';

let api: TestApi;
let organizer: { id: string; token: string };

beforeAll(async () => {
  api = await startTestApi();
  organizer = await api.user('organizer');
});
afterAll(() => api.close());

const CREATE = `mutation Create($input: CreateEventInput!) { createEvent(input: $input) { id name capacity available startsAt organizerId } }`;
const BOOK = `mutation Book($eventId: ID!, $quantity: Int!, $key: String) {
  bookSeats(eventId: $eventId, quantity: $quantity, idempotencyKey: $key) { replayed booking { id status quantity amountCents eventId } }
}`;

async function createEvent(capacity = 100, overrides: Record<string, unknown> = {}): Promise<string> {
  const response = await gql<{ createEvent: { id: string } }>(api, CREATE, {
    token: organizer.token,
    variables: { input: { ...futureEvent({ capacity }), ...overrides } },
  });
  expect(response.body.errors).toBeUndefined();
  return response.body.data!.createEvent.id;
}

async function buyers(count: number): Promise<string[]> {
  const { rows } = await api.db.pool.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) SELECT 'gql-' || gen_random_uuid() || '@example.test', 'x' FROM generate_series(1, $1) RETURNING id`,
    [count],
  );
  return rows.map((row) => api.api.accessTokens.sign({ userId: row.id, role: 'user', tokenVersion: 0 }).token);
}

it('the committed schema.graphql is the schema the code serves (introspected over HTTP outside production)', async () => {
  const { printedSchema } = await import('../../src/graphql/schema');
  const committed = readFileSync(path.join(__dirname, '../../src/graphql/schema.graphql'), 'utf8');
  expect(committed).toBe(printedSchema());
  const response = await gql<{ __schema: { queryType: { name: string } } }>(api, '{ __schema { queryType { name } } }');
  expect(response.body.data?.__schema.queryType.name).toBe('Query');
});

it('an organizer creates an event; anyone reads it and lists it as a connection with the same filters and cursors as REST', async () => {
  const a = await createEvent(10, { name: 'GraphQL night A', priceCents: 1000 });
  const b = await createEvent(10, { name: 'GraphQL night B', priceCents: 5000 });
  const one = await gql<{ event: { id: string; name: string; available: number } }>(
    api,
    'query One($id: ID!) { event(id: $id) { id name available } }',
    { variables: { id: a } },
  );
  expect(one.status).toBe(200);
  expect(one.body.data!.event).toEqual({ id: a, name: 'GraphQL night A', available: 10 });

  const page = await gql<{
    events: { edges: Array<{ node: { id: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
  }>(
    api,
    'query List($f: EventFilter, $after: String) { events(filter: $f, first: 1, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }',
    { variables: { f: { q: 'graphql night' } } },
  );
  expect(page.body.data!.events.edges.map((edge) => edge.node.id)).toEqual([a]);
  expect(page.body.data!.events.pageInfo.hasNextPage).toBe(true);
  const rest = await call<{ nextCursor: string }>(`${api.url}/events?limit=1&q=graphql%20night`);
  expect(page.body.data!.events.pageInfo.endCursor).toBe(rest.body.nextCursor);
  const next = await gql<{ events: { edges: Array<{ node: { id: string } }>; pageInfo: { hasNextPage: boolean } } }>(
    api,
    'query List($f: EventFilter, $after: String) { events(filter: $f, first: 1, after: $after) { edges { node { id } } pageInfo { hasNextPage } } }',
    { variables: { f: { q: 'graphql night' }, after: page.body.data!.events.pageInfo.endCursor } },
  );
  expect(next.body.data!.events.edges.map((edge) => edge.node.id)).toEqual([b]);
  expect(next.body.data!.events.pageInfo.hasNextPage).toBe(false);

  const cheap = await gql<{ events: { edges: Array<{ node: { id: string } }> } }>(
    api,
    '{ events(filter: {q: "graphql night", maxPrice: 2000}) { edges { node { id } } } }',
  );
  expect(cheap.body.data!.events.edges.map((edge) => edge.node.id)).toEqual([a]);
});

it('book, confirm, cancel and list through GraphQL; Booking.event loads the events of a whole list in one query', async () => {
  const [token] = await buyers(1);
  // free events: a bare confirm is for free holds (paid ones are paid: POST /bookings/{id}/pay)
  const first = await createEvent(5, { priceCents: 0 });
  const second = await createEvent(5, { priceCents: 0 });
  const booked = await gql<{ bookSeats: { replayed: boolean; booking: { id: string; status: string; quantity: number } } }>(api, BOOK, {
    token,
    variables: { eventId: first, quantity: 2 },
  });
  expect(booked.body.errors).toBeUndefined();
  expect(booked.body.data!.bookSeats).toMatchObject({ replayed: false, booking: { status: 'PENDING', quantity: 2 } });
  const id = booked.body.data!.bookSeats.booking.id;
  await gql(api, BOOK, { token, variables: { eventId: second, quantity: 1 } });

  const confirmed = await gql<{ confirmBooking: { status: string } }>(api, 'mutation($id: ID!) { confirmBooking(id: $id) { status } }', {
    token,
    variables: { id },
  });
  expect(confirmed.body.data!.confirmBooking.status).toBe('CONFIRMED');

  const spy = jest.spyOn(api.db.pool, 'query');
  const mine = await gql<{ myBookings: { edges: Array<{ node: { event: { id: string; available: number } } }> } }>(
    api,
    '{ myBookings(first: 10) { edges { node { id status event { id available } } } } }',
    { token },
  );
  const eventQueries = spy.mock.calls.filter(([sql]) => typeof sql === 'string' && /FROM events WHERE id = ANY/.test(sql));
  spy.mockRestore();
  expect(mine.body.data!.myBookings.edges.map((edge) => edge.node.event.id).sort()).toEqual([first, second].sort());
  expect(eventQueries).toHaveLength(1);

  const cancelled = await gql<{ cancelBooking: { status: string } }>(api, 'mutation($id: ID!) { cancelBooking(id: $id) { status } }', {
    token,
    variables: { id },
  });
  expect(cancelled.body.data!.cancelBooking.status).toBe('CANCELLED');
  const { rows } = await api.db.pool.query('SELECT available FROM events WHERE id = $1', [first]);
  expect(rows[0].available).toBe(5);
  const filtered = await gql<{ myBookings: { edges: unknown[] } }>(api, '{ myBookings(status: CANCELLED) { edges { node { id } } } }', {
    token,
  });
  expect(filtered.body.data!.myBookings.edges).toHaveLength(1);
});

it('domain errors carry the stable code of the error table with their details', async () => {
  const [token] = await buyers(1);
  const eventId = await createEvent(1);
  const noToken = await gql(api, BOOK, { variables: { eventId, quantity: 1 } });
  expect(noToken.body.errors![0]!.extensions).toMatchObject({ code: 'UNAUTHENTICATED', kind: 'unauthenticated' });
  expect(noToken.body.data).toEqual({ bookSeats: null });

  const notFound = await gql(api, '{ event(id: "00000000-0000-4000-8000-000000000000") { id } }');
  expect(notFound.body.errors![0]!.extensions?.code).toBe('NOT_FOUND');
  expect(notFound.body.errors![0]!.path).toEqual(['event']);

  const badId = await gql(api, '{ event(id: "nope") { id } }');
  expect(badId.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ path: 'id', message: 'must be a UUID' }] });

  const badInput = await gql(api, CREATE, { token: organizer.token, variables: { input: { ...futureEvent(), name: '', capacity: 0 } } });
  expect(badInput.body.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
  expect(badInput.body.errors![0]!.extensions?.fields?.map((f) => f.path).sort()).toEqual(['input.capacity', 'input.name']);

  const forbidden = await gql(api, CREATE, { token, variables: { input: futureEvent() } });
  expect(forbidden.body.errors![0]!.extensions?.code).toBe('FORBIDDEN');

  const tooMany = await gql(api, BOOK, { token, variables: { eventId, quantity: 11 } });
  expect(tooMany.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ path: 'quantity' }] });

  await gql(api, BOOK, { token, variables: { eventId, quantity: 1 } });
  const soldOut = await gql(api, BOOK, { token, variables: { eventId, quantity: 1 } });
  expect(soldOut.body.errors![0]!.extensions).toMatchObject({ code: 'SOLD_OUT', kind: 'sold-out', seatsLeft: 0 });

  const reused = await createEvent(10);
  await gql(api, BOOK, { token, variables: { eventId: reused, quantity: 1, key: 'k-1' } });
  const conflict = await gql(api, BOOK, { token, variables: { eventId: reused, quantity: 2, key: 'k-1' } });
  expect(conflict.body.errors![0]!.extensions).toMatchObject({ code: 'CONFLICT', kind: 'idempotency-key-reused' });
});

it('an unexpected failure is masked: no stack, no SQL, no driver text', async () => {
  const spy = jest
    .spyOn(api.api.services.events, 'listJson')
    .mockRejectedValueOnce(new Error('relation "events" does not exist at character 15 (pg)'));
  const response = await gql(api, '{ events { edges { node { id } } } }');
  spy.mockRestore();
  expect(response.body.errors).toEqual([
    { message: 'Unexpected error.', path: ['events'], locations: expect.any(Array), extensions: { code: 'INTERNAL_SERVER_ERROR' } },
  ]);
  expect(JSON.stringify(response.body)).not.toMatch(/relation|pg|stack|at /i);
});

it('500 concurrent bookSeats from 500 users on 100 seats: exactly 100 bookings, 400 SOLD_OUT, available 0', async () => {
  const eventId = await createEvent(100);
  const tokens = await buyers(500);
  const responses = await Promise.all(tokens.map((token) => gql(api, BOOK, { token, variables: { eventId, quantity: 1 } })));
  expect(responses.every((response) => response.status === 200)).toBe(true);
  const booked = responses.filter((response) => response.body.data?.bookSeats);
  const refused = responses.filter((response) => response.body.errors?.[0]?.extensions?.code === 'SOLD_OUT');
  expect(booked).toHaveLength(100);
  expect(refused).toHaveLength(400);
  const { rows } = await api.db.pool.query(
    `SELECT e.available, (SELECT count(*)::int FROM bookings b WHERE b.event_id = e.id AND b.status = 'pending') AS held FROM events e WHERE e.id = $1`,
    [eventId],
  );
  expect(rows[0]).toEqual({ available: 0, held: 100 });
});

it('the same idempotency key 20 times at once makes one booking', async () => {
  const eventId = await createEvent(50);
  const [token] = await buyers(1);
  const responses = await Promise.all(
    Array.from({ length: 20 }, () =>
      gql<{ bookSeats: { replayed: boolean; booking: { id: string } } }>(api, BOOK, {
        token,
        variables: { eventId, quantity: 2, key: 'gql-checkout-7' },
      }),
    ),
  );
  const ids = new Set(responses.map((response) => response.body.data!.bookSeats.booking.id));
  expect(ids.size).toBe(1);
  expect(responses.filter((response) => !response.body.data!.bookSeats.replayed)).toHaveLength(1);
  const { rows } = await api.db.pool.query('SELECT count(*)::int AS n FROM bookings WHERE event_id = $1', [eventId]);
  expect(rows[0].n).toBe(1);
});

it('GET answers queries with the CSRF header and refuses them without it', async () => {
  const url = `${graphqlUrl(api)}?query=${encodeURIComponent('{ events(first: 1) { pageInfo { hasNextPage } } }')}`;
  const withHeader = await call(url, { headers: { 'x-graphql-csrf': '1' } });
  expect(withHeader.status).toBe(200);
  const without = await fetch(url);
  expect(without.status).toBe(403);
});

it('payBooking costs one write, as POST /bookings/{id}/pay does, from the same per-user budget', async () => {
  const limited = await startTestApi({ RATE_LIMIT_WRITES: '3' });
  try {
    const user = await limited.user();
    const other = await limited.user('organizer');
    const eventId = (await call<{ id: string }>(`${limited.url}/events`, { token: other.token, body: futureEvent({ capacity: 10 }) })).body
      .id;
    const hold = async () =>
      (await call<{ id: string }>(`${limited.url}/events/${eventId}/bookings`, { token: user.token, body: { quantity: 1 } })).body.id;
    const [first, second] = [await hold(), await hold()];
    const PAY = 'mutation($id: ID!) { payBooking(id: $id, paymentMethod: "pm_card_visa") { booking { status } } }';
    expect((await gql(limited, PAY, { token: user.token, variables: { id: first } })).body).toEqual({
      data: { payBooking: { booking: { status: 'PAYMENT_PENDING' } } },
    });
    const rest = await call(`${limited.url}/bookings/${second}/pay`, { token: user.token, body: { paymentMethod: 'pm_card_visa' } });
    expect(rest.status).toBe(429);
    expect((await gql(limited, PAY, { token: user.token, variables: { id: second } })).body.errors![0]!.extensions).toMatchObject({
      code: 'RATE_LIMITED',
    });
    const { rows } = await limited.db.pool.query<{ status: string }>('SELECT status FROM bookings WHERE id = $1', [second]);
    expect(rows[0]!.status).toBe('pending');
  } finally {
    await limited.close();
  }
});

it('a mutation costs what its REST twin costs, from the same per-user budget; anonymous calls share REST’s per-IP budget', async () => {
  const limited = await startTestApi({ RATE_LIMIT_WRITES: '3', RATE_LIMIT_ANON: '2' });
  try {
    const user = await limited.user();
    const other = await limited.user('organizer');
    const eventId = (await call<{ id: string }>(`${limited.url}/events`, { token: other.token, body: futureEvent({ capacity: 10 }) })).body
      .id;
    expect((await call(`${limited.url}/events/${eventId}/bookings`, { token: user.token, body: { quantity: 1 } })).status).toBe(201);
    const second = await gql(limited, BOOK, { token: user.token, variables: { eventId, quantity: 1 } });
    expect(second.body.errors).toBeUndefined();
    const third = await gql(limited, BOOK, { token: user.token, variables: { eventId, quantity: 1 } });
    expect(third.body.errors).toBeUndefined();
    const fourth = await gql(limited, BOOK, { token: user.token, variables: { eventId, quantity: 1 } });
    expect(fourth.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
    // a query by a signed-in user costs a read, not a write, as a REST GET does
    expect((await gql(limited, '{ me { id } }', { token: user.token })).body.data).toEqual({ me: { id: user.id } });
    const { rows } = await limited.db.pool.query('SELECT count(*)::int AS n FROM bookings WHERE user_id = $1', [user.id]);
    expect(rows[0].n).toBe(3);

    expect((await call(`${limited.url}/events/${eventId}`)).status).toBe(200);
    expect((await gql(limited, '{ events { pageInfo { hasNextPage } } }')).status).toBe(200);
    const anonymous = await gql(limited, '{ events { pageInfo { hasNextPage } } }');
    expect(anonymous.status).toBe(429);
    expect(anonymous.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(anonymous.body.errors![0]!.extensions?.code).toBe('RATE_LIMITED');
  } finally {
    await limited.close();
  }
});

it('a signed-in mutation costs only its write point, as its REST twin (no read point); each query operation of a batch costs one read', async () => {
  const limited = await startTestApi({ RATE_LIMIT_READS: '2' });
  try {
    const user = await limited.user();
    const missing = '00000000-0000-4000-8000-000000000000';
    for (let i = 0; i < 3; i++) {
      const mutation = await gql(limited, `mutation { cancelBooking(id: "${missing}") { id } }`, { token: user.token });
      expect(mutation.status).toBe(200);
      expect(mutation.body.errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND' });
    }
    // the reads budget is untouched by the three mutations: two queries pass, the third is refused
    for (let i = 0; i < 2; i++) expect((await gql(limited, '{ me { id } }', { token: user.token })).status).toBe(200);
    const refused = await gql(limited, '{ me { id } }', { token: user.token });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
    expect(refused.body.errors![0]!.extensions).not.toHaveProperty('http');
    // a batch of two queries from a fresh user takes two reads: the budget is spent after it
    const other = await limited.user();
    const batch = await call(graphqlUrl(limited), {
      method: 'POST',
      token: other.token,
      body: [{ query: '{ me { id } }' }, { query: '{ me { email } }' }],
    });
    expect(batch.status).toBe(200);
    expect((await gql(limited, '{ me { id } }', { token: other.token })).status).toBe(429);
  } finally {
    await limited.close();
  }
});

it('a signed-in query costs one read of the user’s REST reads budget; a garbage token is anonymous (issue 17, point 5)', async () => {
  const limited = await startTestApi({ RATE_LIMIT_READS: '3', RATE_LIMIT_ANON: '2' });
  try {
    const user = await limited.user();
    const rest = await call(`${limited.url}/bookings`, { token: user.token });
    expect(rest.status).toBe(200);
    expect(rest.headers.get('ratelimit-remaining')).toBe('2');
    for (let i = 0; i < 2; i++)
      expect((await gql(limited, '{ me { id } }', { token: user.token })).body.data).toEqual({ me: { id: user.id } });
    const refused = await gql(limited, '{ me { id } }', { token: user.token });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
    // the same budget as REST's GETs
    expect((await call(`${limited.url}/bookings`, { token: user.token })).status).toBe(429);
    // another user is apart; a garbage token takes the client IP's anonymous points (2), not a user's
    expect((await gql(limited, '{ me { id } }', { token: (await limited.user()).token })).status).toBe(200);
    const garbage = [];
    for (let i = 0; i < 3; i++)
      garbage.push((await gql(limited, '{ events { pageInfo { hasNextPage } } }', { token: 'not.a.token' })).status);
    expect(garbage).toEqual([200, 200, 429]);
  } finally {
    await limited.close();
  }
});
