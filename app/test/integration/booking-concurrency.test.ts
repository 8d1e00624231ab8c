import { call, futureEvent, startTestApi, type TestApi } from '../support/api';

/** Hundreds of buyers at once, over real HTTP, against the real PostgreSQL. */
let api: TestApi;
let organizerToken: string;

beforeAll(async () => {
  api = await startTestApi();
  organizerToken = (await api.user('organizer')).token;
});
afterAll(() => api.close());

async function buyers(count: number): Promise<string[]> {
  // one INSERT for all of them; tokens signed with the service's own codec
  const { rows } = await api.db.pool.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) SELECT 'buyer-' || gen_random_uuid() || '@example.test', 'x' FROM generate_series(1, $1) RETURNING id`,
    [count],
  );
  return rows.map((row) => api.api.accessTokens.sign({ userId: row.id, role: 'user', tokenVersion: 0 }).token);
}

async function createEvent(capacity: number): Promise<string> {
  const response = await call<{ id: string }>(`${api.url}/events`, { token: organizerToken, body: futureEvent({ capacity }) });
  expect(response.status).toBe(201);
  return response.body.id;
}

async function seatState(eventId: string) {
  const { rows } = await api.db.pool.query<{ capacity: number; available: number; held: number }>(
    `SELECT e.capacity, e.available,
            coalesce((SELECT sum(quantity) FROM bookings b WHERE b.event_id = e.id AND b.status IN ('pending', 'confirmed')), 0)::int AS held
       FROM events e WHERE e.id = $1`,
    [eventId],
  );
  return rows[0]!;
}

it('500 buyers for 100 seats: exactly 100 bookings, 400 sold-out answers, nothing oversold', async () => {
  const eventId = await createEvent(100);
  const tokens = await buyers(500);
  const responses = await Promise.all(
    tokens.map((token) => call(`${api.url}/events/${eventId}/bookings`, { token, body: { quantity: 1 } })),
  );

  const statuses = responses.map((r) => r.status);
  expect(statuses.filter((s) => s === 201)).toHaveLength(100);
  expect(statuses.filter((s) => s === 409)).toHaveLength(400);
  for (const refused of responses.filter((r) => r.status === 409)) {
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(String(refused.body.type)).toMatch(/\/sold-out$/);
  }
  const state = await seatState(eventId);
  expect(state).toEqual({ capacity: 100, available: 0, held: 100 });
});

it('random quantities 1..4: the seats sold never exceed capacity and always match the bookings', async () => {
  const eventId = await createEvent(150);
  const tokens = await buyers(400);
  const quantities = tokens.map(() => 1 + Math.floor(Math.random() * 4));
  const responses = await Promise.all(
    tokens.map((token, i) => call(`${api.url}/events/${eventId}/bookings`, { token, body: { quantity: quantities[i] } })),
  );

  expect(responses.every((r) => r.status === 201 || r.status === 409)).toBe(true);
  const sold = responses.reduce((sum, r, i) => sum + (r.status === 201 ? quantities[i]! : 0), 0);
  const state = await seatState(eventId);
  expect(sold).toBeLessThanOrEqual(150);
  expect(state.held).toBe(sold);
  expect(state.available).toBe(150 - sold);
  // with 1..4 seat requests and ~2.5× demand, refusals only happen once fewer than 4 seats remain
  expect(state.available).toBeLessThan(4);
});

it('the same Idempotency-Key sent 20 times at once makes exactly one booking', async () => {
  const eventId = await createEvent(50);
  const [token] = await buyers(1);
  const responses = await Promise.all(
    Array.from({ length: 20 }, () =>
      call<{ id: string }>(`${api.url}/events/${eventId}/bookings`, {
        token,
        body: { quantity: 2 },
        headers: { 'Idempotency-Key': 'checkout-42' },
      }),
    ),
  );
  expect(responses.map((r) => r.status).sort((a, b) => a - b)).toEqual([...Array(19).fill(200), 201]);
  expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
  const { rows } = await api.db.pool.query('SELECT count(*)::int AS n FROM bookings WHERE event_id = $1', [eventId]);
  expect(rows[0].n).toBe(1);
  expect(await seatState(eventId)).toEqual({ capacity: 50, available: 48, held: 2 });

  const different = await call(`${api.url}/events/${eventId}/bookings`, {
    token,
    body: { quantity: 3 },
    headers: { 'Idempotency-Key': 'checkout-42' },
  });
  expect(different.status).toBe(422);
});
