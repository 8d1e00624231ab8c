/**
 * Parity: one scenario (an organizer creates an event, users book, one is refused, confirm,
 * cancel, book again, list) through REST, GraphQL and gRPC ends in the same database state and
 * the same outbox events. gRPC has no CreateEvent (the EventService reads only): its run
 * creates the event over REST.
 */
import { call, futureEvent, startTestApi, type TestApi } from '../support/api';
import { gql } from '../support/graphql';
import { grpcClients, unary, type GrpcClients } from '../support/grpc';

let api: TestApi;
let clients: GrpcClients;

beforeAll(async () => {
  api = await startTestApi({}, { grpc: true });
  clients = grpcClients(api.grpcAddress!);
});
afterAll(async () => {
  clients.close();
  await api.close();
});

interface Edge {
  createEvent(token: string, input: Record<string, unknown>): Promise<string>;
  book(token: string, eventId: string, quantity: number, key?: string): Promise<{ id: string } | { refused: string }>;
  confirm(token: string, id: string): Promise<void>;
  cancel(token: string, id: string): Promise<void>;
  list(token: string): Promise<Array<{ id: string; status: string }>>;
}

const rest: Edge = {
  async createEvent(token, input) {
    const response = await call<{ id: string }>(`${api.url}/events`, { token, body: input });
    expect(response.status).toBe(201);
    return response.body.id;
  },
  async book(token, eventId, quantity, key) {
    const response = await call<{ id: string; type?: string }>(`${api.url}/events/${eventId}/bookings`, { token, body: { quantity }, headers: key ? { 'Idempotency-Key': key } : {} });
    return response.status < 300 ? { id: response.body.id } : { refused: String(response.body.type).split('/').pop()! };
  },
  async confirm(token, id) {
    expect((await call(`${api.url}/bookings/${id}/confirm`, { token, method: 'POST' })).status).toBe(200);
  },
  async cancel(token, id) {
    expect((await call(`${api.url}/bookings/${id}/cancel`, { token, method: 'POST' })).status).toBe(200);
  },
  async list(token) {
    return (await call<{ items: Array<{ id: string; status: string }> }>(`${api.url}/bookings`, { token })).body.items.map(({ id, status }) => ({ id, status }));
  },
};

const graphql: Edge = {
  async createEvent(token, input) {
    const response = await gql<{ createEvent: { id: string } }>(api, 'mutation($i: CreateEventInput!) { createEvent(input: $i) { id } }', { token, variables: { i: input } });
    return response.body.data!.createEvent.id;
  },
  async book(token, eventId, quantity, key) {
    const response = await gql<{ bookSeats: { booking: { id: string } } | null }>(api, 'mutation($e: ID!, $q: Int!, $k: String) { bookSeats(eventId: $e, quantity: $q, idempotencyKey: $k) { booking { id } } }', {
      token,
      variables: { e: eventId, q: quantity, k: key },
    });
    return response.body.data?.bookSeats ? { id: response.body.data.bookSeats.booking.id } : { refused: String(response.body.errors![0]!.extensions!.kind) };
  },
  async confirm(token, id) {
    expect((await gql(api, 'mutation($id: ID!) { confirmBooking(id: $id) { id } }', { token, variables: { id } })).body.errors).toBeUndefined();
  },
  async cancel(token, id) {
    expect((await gql(api, 'mutation($id: ID!) { cancelBooking(id: $id) { id } }', { token, variables: { id } })).body.errors).toBeUndefined();
  },
  async list(token) {
    const response = await gql<{ myBookings: { edges: Array<{ node: { id: string; status: string } }> } }>(api, '{ myBookings { edges { node { id status } } } }', { token });
    return response.body.data!.myBookings.edges.map(({ node }) => ({ id: node.id, status: node.status.toLowerCase() }));
  },
};

const grpcEdge: Edge = {
  createEvent: (token, input) => rest.createEvent(token, input),
  async book(token, eventId, quantity, key) {
    const result = await unary<{ booking: { id: string } }>(clients.bookings, 'CreateBooking', { event_id: eventId, quantity, idempotency_key: key ?? '' }, { token });
    return result.ok ? { id: result.value.booking.id } : { refused: result.status!.errorInfo!.reason.toLowerCase().replace(/_/g, '-') };
  },
  async confirm(token, id) {
    expect((await unary(clients.bookings, 'ConfirmBooking', { id }, { token })).ok).toBe(true);
  },
  async cancel(token, id) {
    expect((await unary(clients.bookings, 'CancelBooking', { id }, { token })).ok).toBe(true);
  },
  async list(token) {
    const result = await unary<{ bookings?: Array<{ id: string; status: string }> }>(clients.bookings, 'ListBookings', {}, { token });
    return result.ok ? (result.value.bookings ?? []).map(({ id, status }) => ({ id, status: status.replace(/^BOOKING_STATUS_/, '').toLowerCase() })) : [];
  },
};

/** The scenario; returns what it saw and the state it left, with ids replaced by their roles. */
async function scenario(edge: Edge) {
  const organizer = await api.user('organizer');
  const [u1, u2, u3] = [await api.user(), await api.user(), await api.user()];
  const eventId = await edge.createEvent(organizer.token, futureEvent({ capacity: 5, priceCents: 0 }));
  const b1 = await edge.book(u1.token, eventId, 2, 'parity-1');
  const replay = await edge.book(u1.token, eventId, 2, 'parity-1');
  const b2 = await edge.book(u2.token, eventId, 3);
  const refused = await edge.book(u3.token, eventId, 1);
  await edge.confirm(u1.token, (b1 as { id: string }).id);
  await edge.cancel(u2.token, (b2 as { id: string }).id);
  const b3 = await edge.book(u3.token, eventId, 1);
  const listed = await edge.list(u1.token);

  const ids = [eventId, ...[b1, b2, b3].map((b) => (b as { id: string }).id)];
  const role = (id: string) => ['event', 'b1', 'b2', 'b3'][ids.indexOf(id)] ?? 'other';
  const { rows: event } = await api.db.pool.query('SELECT capacity, available, price_cents FROM events WHERE id = $1', [eventId]);
  const { rows: bookings } = await api.db.pool.query<{ id: string; status: string; quantity: number; amount_cents: number }>(
    'SELECT id, status, quantity, amount_cents FROM bookings WHERE event_id = $1 ORDER BY created_at',
    [eventId],
  );
  const { rows: outbox } = await api.db.pool.query<{ aggregate_id: string; type: string; payload: Record<string, unknown> }>(
    'SELECT aggregate_id, type, payload FROM outbox WHERE aggregate_id = ANY($1::uuid[]) ORDER BY seq',
    [ids],
  );
  return {
    answers: { replayedSame: (replay as { id: string }).id === (b1 as { id: string }).id, refused, listed: listed.map((b) => ({ booking: role(b.id), status: b.status })) },
    event: event[0],
    bookings: bookings.map((b) => ({ booking: role(b.id), status: b.status, quantity: b.quantity, amount: b.amount_cents })),
    outbox: outbox.map((row) => ({ aggregate: role(row.aggregate_id), type: row.type, fields: Object.keys(row.payload).sort() })),
  };
}

it('REST, GraphQL and gRPC leave the same database state and the same outbox events', async () => {
  const viaRest = await scenario(rest);
  expect(viaRest.answers).toEqual({ replayedSame: true, refused: { refused: 'sold-out' }, listed: [{ booking: 'b1', status: 'confirmed' }] });
  expect(viaRest.event).toEqual({ capacity: 5, available: 2, price_cents: 0 });
  expect(viaRest.outbox.map((row) => `${row.aggregate}:${row.type}`)).toEqual(['event:event.created', 'b1:booking.created', 'b2:booking.created', 'b1:booking.confirmed', 'b2:booking.cancelled', 'b3:booking.created']);
  expect(await scenario(graphql)).toEqual(viaRest);
  expect(await scenario(grpcEdge)).toEqual(viaRest);
});
