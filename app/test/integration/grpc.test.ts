/** The gRPC edge against the real PostgreSQL: the use cases, the statuses and details, deadlines, health, reflection, drain. */
import { status } from '@grpc/grpc-js';
import { call, futureEvent, startTestApi, type TestApi } from '../support/api';
import { grpcClients, unary, type GrpcClients } from '../support/grpc';

let api: TestApi;
let clients: GrpcClients;
let organizer: { id: string; token: string };

beforeAll(async () => {
  api = await startTestApi({}, { grpc: true });
  clients = grpcClients(api.grpcAddress!);
  organizer = await api.user('organizer');
});
afterAll(async () => {
  clients.close();
  await api.close();
});

async function createEvent(capacity: number, overrides: Record<string, unknown> = {}): Promise<string> {
  const response = await call<{ id: string }>(`${api.url}/events`, {
    token: organizer.token,
    body: futureEvent({ capacity, ...overrides }),
  });
  expect(response.status).toBe(201);
  return response.body.id;
}

async function buyers(count: number): Promise<string[]> {
  const { rows } = await api.db.pool.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) SELECT 'grpc-' || gen_random_uuid() || '@example.test', 'x' FROM generate_series(1, $1) RETURNING id`,
    [count],
  );
  return rows.map((row) => api.api.accessTokens.sign({ userId: row.id, role: 'user', tokenVersion: 0 }).token);
}

const seconds = (iso: string) => String(Math.floor(new Date(iso).getTime() / 1000));

it('GetEvent and ListEvents: the same event, filters and page tokens as REST', async () => {
  const a = await createEvent(10, { name: 'gRPC night A', priceCents: 1000 });
  const b = await createEvent(10, { name: 'gRPC night B', priceCents: 9000 });
  const got = await unary<{ event: Record<string, unknown> & { starts_at: { seconds: string } } }>(clients.events, 'GetEvent', { id: a });
  expect(got.ok).toBe(true);
  const rest = (await call<{ startsAt: string }>(`${api.url}/events/${a}`)).body;
  if (!got.ok) return;
  const event = got.value.event;
  expect(event).toMatchObject({
    id: a,
    name: 'gRPC night A',
    capacity: 10,
    available: 10,
    price_cents: 1000,
    currency: 'EUR',
    organizer_id: organizer.id,
  });
  expect(event.starts_at.seconds).toBe(seconds(rest.startsAt));

  const page = await unary<{ events: Array<{ id: string }>; next_page_token: string }>(clients.events, 'ListEvents', {
    page_size: 1,
    q: 'grpc night',
  });
  expect(page.ok && page.value.events.map((e) => e.id)).toEqual([a]);
  const restPage = await call<{ nextCursor: string }>(`${api.url}/events?limit=1&q=grpc%20night`);
  expect(page.ok && page.value.next_page_token).toBe(restPage.body.nextCursor);
  const next = await unary<{ events: Array<{ id: string }>; next_page_token: string }>(clients.events, 'ListEvents', {
    page_size: 1,
    q: 'grpc night',
    page_token: page.ok ? page.value.next_page_token : '',
  });
  expect(next.ok && next.value.events.map((e) => e.id)).toEqual([b]);
  expect(next.ok && next.value.next_page_token).toBe('');
  const cheap = await unary<{ events: Array<{ id: string }> }>(clients.events, 'ListEvents', { q: 'grpc night', max_price: 2000 });
  expect(cheap.ok && cheap.value.events.map((e) => e.id)).toEqual([a]);
  const later = await unary<{ events: Array<{ id: string }> }>(clients.events, 'ListEvents', {
    q: 'grpc night',
    from: { seconds: String(Math.floor(Date.now() / 1000) + 30 * 86_400) },
  });
  expect(later.ok && (later.value.events ?? [])).toEqual([]);
});

it('CreateBooking, GetBooking, ListBookings, ConfirmBooking, CancelBooking', async () => {
  // a free event: a bare confirm is for free holds (paid ones are paid: POST /bookings/{id}/pay)
  const eventId = await createEvent(5, { priceCents: 0 });
  const [token] = await buyers(1);
  const created = await unary<{ booking: Record<string, unknown> & { id: string }; replayed: boolean }>(
    clients.bookings,
    'CreateBooking',
    { event_id: eventId, quantity: 2 },
    { token },
  );
  expect(created.ok).toBe(true);
  if (!created.ok) return;
  expect(created.value).toMatchObject({ replayed: false, booking: { event_id: eventId, quantity: 2, status: 'BOOKING_STATUS_PENDING' } });
  const id = created.value.booking.id;
  expect(await unary(clients.bookings, 'GetBooking', { id }, { token })).toMatchObject({ ok: true, value: { booking: { id } } });
  expect(await unary(clients.bookings, 'ConfirmBooking', { id }, { token })).toMatchObject({
    ok: true,
    value: { booking: { status: 'BOOKING_STATUS_CONFIRMED' } },
  });
  const listed = await unary<{ bookings: Array<{ id: string }> }>(
    clients.bookings,
    'ListBookings',
    { status: 'BOOKING_STATUS_CONFIRMED' },
    { token },
  );
  expect(listed.ok && listed.value.bookings.map((b) => b.id)).toEqual([id]);
  expect(await unary(clients.bookings, 'CancelBooking', { id }, { token })).toMatchObject({
    ok: true,
    value: { booking: { status: 'BOOKING_STATUS_CANCELLED' } },
  });
  const { rows } = await api.db.pool.query('SELECT available FROM events WHERE id = $1', [eventId]);
  expect(rows[0].available).toBe(5);
});

it('statuses and details come from the error table', async () => {
  const eventId = await createEvent(1);
  const [token, other] = await buyers(2);
  const anonymous = await unary(clients.bookings, 'CreateBooking', { event_id: eventId, quantity: 1 });
  expect(anonymous).toMatchObject({ ok: false, code: status.UNAUTHENTICATED });

  const missing = await unary(clients.events, 'GetEvent', { id: '00000000-0000-4000-8000-000000000000' });
  expect(missing).toMatchObject({
    ok: false,
    code: status.NOT_FOUND,
    status: { errorInfo: { reason: 'NOT_FOUND', domain: 'goticket.dev' } },
  });

  const invalid = await unary(clients.bookings, 'CreateBooking', { event_id: 'nope', quantity: 11 }, { token });
  expect(invalid).toMatchObject({
    ok: false,
    code: status.INVALID_ARGUMENT,
    status: { fieldViolations: [{ field: 'event_id', description: 'must be a UUID' }] },
  });
  const tooMany = await unary(clients.bookings, 'CreateBooking', { event_id: eventId, quantity: 11 }, { token });
  expect(tooMany).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT, status: { fieldViolations: [{ field: 'quantity' }] } });

  expect(await unary(clients.bookings, 'CreateBooking', { event_id: eventId, quantity: 1 }, { token })).toMatchObject({ ok: true });
  const soldOut = await unary(clients.bookings, 'CreateBooking', { event_id: eventId, quantity: 1 }, { token: other });
  expect(soldOut).toMatchObject({
    ok: false,
    code: status.FAILED_PRECONDITION,
    status: { errorInfo: { reason: 'SOLD_OUT', metadata: { seats_left: '0' } } },
  });

  const roomy = await createEvent(10);
  expect(
    await unary(clients.bookings, 'CreateBooking', { event_id: roomy, quantity: 1, idempotency_key: 'grpc-k1' }, { token }),
  ).toMatchObject({ ok: true });
  const conflict = await unary(clients.bookings, 'CreateBooking', { event_id: roomy, quantity: 3, idempotency_key: 'grpc-k1' }, { token });
  expect(conflict).toMatchObject({ ok: false, code: status.ALREADY_EXISTS, status: { errorInfo: { reason: 'IDEMPOTENCY_KEY_REUSED' } } });
});

it('an unexpected failure is INTERNAL with no text of its own', async () => {
  const spy = jest.spyOn(api.api.services.events, 'listJson').mockRejectedValueOnce(new Error('relation "events" does not exist (pg)'));
  const result = await unary(clients.events, 'ListEvents', {});
  spy.mockRestore();
  expect(result).toMatchObject({ ok: false, code: status.INTERNAL });
  expect(JSON.stringify(result.ok ? {} : result.details)).not.toMatch(/relation|pg/);
});

it('500 concurrent CreateBooking from 500 users on 100 seats: 100 created, 400 FAILED_PRECONDITION sold out, available 0', async () => {
  const eventId = await createEvent(100);
  const tokens = await buyers(500);
  const results = await Promise.all(
    tokens.map((token) => unary(clients.bookings, 'CreateBooking', { event_id: eventId, quantity: 1 }, { token })),
  );
  expect(results.filter((result) => result.ok)).toHaveLength(100);
  const refused = results.filter((result) => !result.ok);
  expect(refused).toHaveLength(400);
  for (const result of refused)
    expect(result).toMatchObject({ code: status.FAILED_PRECONDITION, status: { errorInfo: { reason: 'SOLD_OUT' } } });
  const { rows } = await api.db.pool.query(
    `SELECT available, (SELECT count(*)::int FROM bookings WHERE event_id = $1) AS n FROM events WHERE id = $1`,
    [eventId],
  );
  expect(rows[0]).toEqual({ available: 0, n: 100 });
});

it('the same idempotency_key 20 times at once makes one booking', async () => {
  const eventId = await createEvent(50);
  const [token] = await buyers(1);
  const results = await Promise.all(
    Array.from({ length: 20 }, () =>
      unary<{ booking: { id: string }; replayed: boolean }>(
        clients.bookings,
        'CreateBooking',
        { event_id: eventId, quantity: 2, idempotency_key: 'grpc-checkout-9' },
        { token },
      ),
    ),
  );
  expect(results.every((result) => result.ok)).toBe(true);
  expect(new Set(results.map((result) => (result.ok ? result.value.booking.id : '')))).toHaveProperty('size', 1);
  expect(results.filter((result) => result.ok && !result.value.replayed)).toHaveLength(1);
  const { rows } = await api.db.pool.query('SELECT count(*)::int AS n FROM bookings WHERE event_id = $1', [eventId]);
  expect(rows[0].n).toBe(1);
});

/** The app's statements waiting on a lock (our test database only). */
async function waitingStatements(): Promise<number> {
  const { rows } = await api.db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH reserved AS%'`,
  );
  return rows[0]!.n;
}

it('a deadline shorter than the work cancels the PostgreSQL statement (DEADLINE_EXCEEDED, nothing booked)', async () => {
  const eventId = await createEvent(10);
  const [token] = await buyers(1);
  const blocker = await api.db.pool.connect();
  try {
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM events WHERE id = $1 FOR UPDATE', [eventId]);
    // A keyed booking runs its own statement, which waits for the row lock held above.
    const result = await unary(
      clients.bookings,
      'CreateBooking',
      { event_id: eventId, quantity: 1, idempotency_key: 'slow-1' },
      { token, deadlineMs: 400 },
    );
    expect(result).toMatchObject({ ok: false, code: status.DEADLINE_EXCEEDED });
    let waiting = await waitingStatements();
    for (let i = 0; i < 20 && waiting > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      waiting = await waitingStatements();
    }
    expect(waiting).toBe(0);
  } finally {
    await blocker.query('ROLLBACK');
    blocker.release();
  }
  const { rows } = await api.db.pool.query('SELECT count(*)::int AS n FROM bookings WHERE event_id = $1', [eventId]);
  expect(rows[0].n).toBe(0);
});

it('grpc.health.v1: SERVING when ready; reflection lists the services', async () => {
  const check = await unary<{ status: string }>(clients.health, 'Check', { service: '' });
  expect(check).toEqual({ ok: true, value: { status: 'SERVING' } });
  expect(await unary(clients.health, 'Check', { service: 'goticket.v1.BookingService' })).toEqual({
    ok: true,
    value: { status: 'SERVING' },
  });
  const services = await new Promise<string[]>((resolve, reject) => {
    const stream = (
      clients.reflection as unknown as { ServerReflectionInfo: () => NodeJS.ReadWriteStream & { write(v: unknown): void; end(): void } }
    ).ServerReflectionInfo();
    stream.on('data', (response: { list_services_response?: { service: Array<{ name: string }> } }) => {
      resolve(response.list_services_response!.service.map((service) => service.name).sort());
      stream.end();
    });
    stream.on('error', reject);
    stream.write({ list_services: '' });
  });
  expect(services).toEqual(expect.arrayContaining(['goticket.v1.BookingService', 'goticket.v1.EventService', 'grpc.health.v1.Health']));
});

it('a writing RPC costs one write of the REST budget; the limit answers RESOURCE_EXHAUSTED with a retry delay', async () => {
  const limited = await startTestApi({ RATE_LIMIT_WRITES: '2' }, { grpc: true });
  const own = grpcClients(limited.grpcAddress!);
  try {
    const user = await limited.user();
    const org = await limited.user('organizer');
    const eventId = (await call<{ id: string }>(`${limited.url}/events`, { token: org.token, body: futureEvent({ capacity: 10 }) })).body
      .id;
    expect((await call(`${limited.url}/events/${eventId}/bookings`, { token: user.token, body: { quantity: 1 } })).status).toBe(201);
    expect(await unary(own.bookings, 'CreateBooking', { event_id: eventId, quantity: 1 }, { token: user.token })).toMatchObject({
      ok: true,
    });
    const refused = await unary(own.bookings, 'CreateBooking', { event_id: eventId, quantity: 1 }, { token: user.token });
    expect(refused).toMatchObject({ ok: false, code: status.RESOURCE_EXHAUSTED, status: { retryDelaySeconds: expect.any(Number) } });
    // a read costs a read, not a write
    expect(await unary(own.bookings, 'ListBookings', {}, { token: user.token })).toMatchObject({ ok: true });
  } finally {
    own.close();
    await limited.close();
  }
});

it('a reading RPC of a signed-in caller costs one read of the user’s REST reads budget, a writing one does not; a garbage token is anonymous (issue 17, point 5)', async () => {
  const limited = await startTestApi({ RATE_LIMIT_READS: '3', RATE_LIMIT_ANON: '2' }, { grpc: true });
  const own = grpcClients(limited.grpcAddress!);
  try {
    const user = await limited.user();
    const org = await limited.user('organizer');
    const eventId = (await call<{ id: string }>(`${limited.url}/events`, { token: org.token, body: futureEvent({ capacity: 10 }) })).body
      .id;
    expect((await call(`${limited.url}/bookings`, { token: user.token })).status).toBe(200);
    expect(await unary(own.bookings, 'ListBookings', {}, { token: user.token })).toMatchObject({ ok: true });
    expect(await unary(own.events, 'GetEvent', { id: eventId }, { token: user.token })).toMatchObject({ ok: true });
    // the budget is used up: reads are refused on both edges, a write still goes through (its own budget)
    const refused = await unary(own.events, 'GetEvent', { id: eventId }, { token: user.token });
    expect(refused).toMatchObject({ ok: false, code: status.RESOURCE_EXHAUSTED, status: { retryDelaySeconds: expect.any(Number) } });
    expect((await call(`${limited.url}/events/${eventId}`, { token: user.token })).status).toBe(429);
    // every writing RPC takes its write point only (none is refused for the spent reads)
    const created = await unary<{ booking: { id: string } }>(
      own.bookings,
      'CreateBooking',
      { event_id: eventId, quantity: 1 },
      { token: user.token },
    );
    if (!created.ok) throw new Error(`CreateBooking refused: ${created.details}`);
    const id = created.value.booking.id;
    expect(await unary(own.bookings, 'PayBooking', { id, payment_method: 'pm_card_visa' }, { token: user.token })).toMatchObject({
      ok: true,
    });
    const other = await unary<{ booking: { id: string } }>(
      own.bookings,
      'CreateBooking',
      { event_id: eventId, quantity: 1 },
      { token: user.token },
    );
    if (!other.ok) throw new Error(`CreateBooking refused: ${other.details}`);
    expect(await unary(own.bookings, 'ConfirmBooking', { id: other.value.booking.id }, { token: user.token })).not.toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
    });
    expect(await unary(own.bookings, 'CancelBooking', { id: other.value.booking.id }, { token: user.token })).toMatchObject({ ok: true });
    expect(await unary(own.events, 'GetEvent', { id: eventId }, { token: (await limited.user()).token })).toMatchObject({ ok: true });
    const garbage = [];
    for (let i = 0; i < 3; i++) garbage.push(await unary(own.events, 'GetEvent', { id: eventId }, { token: 'not.a.token' }));
    expect(garbage.map((answer) => answer.ok)).toEqual([true, true, false]);
    expect(garbage[2]).toMatchObject({ code: status.RESOURCE_EXHAUSTED });
  } finally {
    own.close();
    await limited.close();
  }
});

it('PayBooking costs one write, as POST /bookings/{id}/pay does, from the same per-user budget', async () => {
  const limited = await startTestApi({ RATE_LIMIT_WRITES: '3' }, { grpc: true });
  const own = grpcClients(limited.grpcAddress!);
  try {
    const user = await limited.user();
    const org = await limited.user('organizer');
    const eventId = (await call<{ id: string }>(`${limited.url}/events`, { token: org.token, body: futureEvent({ capacity: 10 }) })).body
      .id;
    const hold = async () =>
      (await call<{ id: string }>(`${limited.url}/events/${eventId}/bookings`, { token: user.token, body: { quantity: 1 } })).body.id;
    const [first, second] = [await hold(), await hold()];
    expect(await unary(own.bookings, 'PayBooking', { id: first, payment_method: 'pm_card_visa' }, { token: user.token })).toMatchObject({
      ok: true,
      value: { booking: { status: 'BOOKING_STATUS_PAYMENT_PENDING' } },
    });
    expect(
      (await call(`${limited.url}/bookings/${second}/pay`, { token: user.token, body: { paymentMethod: 'pm_card_visa' } })).status,
    ).toBe(429);
    expect(await unary(own.bookings, 'PayBooking', { id: second, payment_method: 'pm_card_visa' }, { token: user.token })).toMatchObject({
      ok: false,
      code: status.RESOURCE_EXHAUSTED,
    });
  } finally {
    own.close();
    await limited.close();
  }
});

it('shutdown: NOT_SERVING at once, the in-flight RPC finishes, new calls are refused', async () => {
  let shuttingDown = false;
  const draining = await startTestApi({}, { grpc: true, isShuttingDown: () => shuttingDown });
  const own = grpcClients(draining.grpcAddress!);
  let watch: (NodeJS.ReadableStream & { cancel(): void }) | undefined;
  try {
    const org = await draining.user('organizer');
    const user = await draining.user();
    const eventId = (await call<{ id: string }>(`${draining.url}/events`, { token: org.token, body: futureEvent({ capacity: 10 }) })).body
      .id;
    watch = (own.health as unknown as { Watch: (req: unknown) => NodeJS.ReadableStream & { cancel(): void } }).Watch({ service: '' });
    const seen: string[] = [];
    watch.on('data', (response: { status: string }) => seen.push(response.status));
    watch.on('error', () => undefined);

    const blocker = await draining.db.pool.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM events WHERE id = $1 FOR UPDATE', [eventId]);
    const inFlight = unary(
      own.bookings,
      'CreateBooking',
      { event_id: eventId, quantity: 1, idempotency_key: 'drain-1' },
      { token: user.token },
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    shuttingDown = true;
    const closing = draining.api.grpc.close(10_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
    await blocker.query('COMMIT');
    blocker.release();
    const finished = await inFlight;
    expect(finished.ok ? 'ok' : `${finished.code} ${finished.details}`).toBe('ok');
    await closing;
    const after = await unary(own.events, 'ListEvents', {}, { deadlineMs: 1_000 });
    expect(after.ok).toBe(false);
  } finally {
    // The client's own stream: left open, it holds its connection (and Jest's worker) after the server is gone.
    watch?.cancel();
    own.close();
    draining.grpcAddress = undefined;
    await draining.close();
  }
});
