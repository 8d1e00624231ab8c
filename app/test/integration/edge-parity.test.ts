/**
 * Parity: the same scenarios through REST, GraphQL and gRPC end in the same database state and
 * the same outbox events. A free event: an organizer creates it, users book, one is refused,
 * confirm, cancel, book again, list. A paid event, with the payments saga running in this process
 * (worker, payments role, the local Stripe-compatible server): hold → pay (and its replay) → the
 * saga confirms; a declined card → payment_failed; a bare confirm of a paid hold is refused
 * (payment-required); the paid booking cancelled → refunded. gRPC has no CreateEvent (the issue's
 * EventService reads only): its runs create the event over REST.
 */
import { call, futureEvent, type TestApi } from '../support/api';
import { gql } from '../support/graphql';
import { grpcClients, unary, type GrpcClients } from '../support/grpc';
import { waitFor } from './messaging/helpers';
import { startSaga, type Saga } from './payments/harness';

let saga: Saga;
let api: TestApi;
let clients: GrpcClients;

beforeAll(async () => {
  saga = await startSaga({ grpc: true });
  api = saga.api;
  clients = grpcClients(api.grpcAddress!);
});
afterAll(async () => {
  clients?.close();
  await saga?.close();
});

type Refused = { refused: string };
interface Edge {
  createEvent(token: string, input: Record<string, unknown>): Promise<string>;
  book(token: string, eventId: string, quantity: number, key?: string): Promise<{ id: string } | Refused>;
  /** 'ok', or the kind of the refusal. */
  confirm(token: string, id: string): Promise<string>;
  pay(token: string, id: string, paymentMethod: string, key?: string): Promise<{ status: string; replayed: boolean } | Refused>;
  cancel(token: string, id: string): Promise<void>;
  list(token: string): Promise<Array<{ id: string; status: string }>>;
}

const kindOfProblem = (body: unknown) =>
  String((body as { type?: string }).type)
    .split('/')
    .pop()!;

const rest: Edge = {
  async createEvent(token, input) {
    const response = await call<{ id: string }>(`${api.url}/events`, { token, body: input });
    expect(response.status).toBe(201);
    return response.body.id;
  },
  async book(token, eventId, quantity, key) {
    const response = await call<{ id: string; type?: string }>(`${api.url}/events/${eventId}/bookings`, {
      token,
      body: { quantity },
      headers: key ? { 'Idempotency-Key': key } : {},
    });
    return response.status < 300 ? { id: response.body.id } : { refused: kindOfProblem(response.body) };
  },
  async confirm(token, id) {
    const response = await call(`${api.url}/bookings/${id}/confirm`, { token, method: 'POST' });
    return response.status === 200 ? 'ok' : kindOfProblem(response.body);
  },
  async pay(token, id, paymentMethod, key) {
    const response = await call<{ status: string }>(`${api.url}/bookings/${id}/pay`, {
      token,
      body: { paymentMethod },
      headers: key ? { 'Idempotency-Key': key } : {},
    });
    if (response.status >= 300) return { refused: kindOfProblem(response.body) };
    return { status: response.body.status, replayed: response.headers.get('idempotent-replayed') === 'true' };
  },
  async cancel(token, id) {
    expect((await call(`${api.url}/bookings/${id}/cancel`, { token, method: 'POST' })).status).toBe(200);
  },
  async list(token) {
    return (await call<{ items: Array<{ id: string; status: string }> }>(`${api.url}/bookings`, { token })).body.items.map(
      ({ id, status }) => ({ id, status }),
    );
  },
};

const graphql: Edge = {
  async createEvent(token, input) {
    const response = await gql<{ createEvent: { id: string } }>(api, 'mutation($i: CreateEventInput!) { createEvent(input: $i) { id } }', {
      token,
      variables: { i: input },
    });
    return response.body.data!.createEvent.id;
  },
  async book(token, eventId, quantity, key) {
    const response = await gql<{ bookSeats: { booking: { id: string } } | null }>(
      api,
      'mutation($e: ID!, $q: Int!, $k: String) { bookSeats(eventId: $e, quantity: $q, idempotencyKey: $k) { booking { id } } }',
      {
        token,
        variables: { e: eventId, q: quantity, k: key },
      },
    );
    return response.body.data?.bookSeats
      ? { id: response.body.data.bookSeats.booking.id }
      : { refused: String(response.body.errors![0]!.extensions!.kind) };
  },
  async confirm(token, id) {
    const response = await gql(api, 'mutation($id: ID!) { confirmBooking(id: $id) { id } }', { token, variables: { id } });
    return response.body.errors ? String(response.body.errors[0]!.extensions!.kind) : 'ok';
  },
  async pay(token, id, paymentMethod, key) {
    const response = await gql<{ payBooking: { booking: { status: string }; replayed: boolean } | null }>(
      api,
      'mutation($id: ID!, $m: String!, $k: String) { payBooking(id: $id, paymentMethod: $m, idempotencyKey: $k) { booking { status } replayed } }',
      { token, variables: { id, m: paymentMethod, k: key } },
    );
    const paid = response.body.data?.payBooking;
    return paid
      ? { status: paid.booking.status.toLowerCase(), replayed: paid.replayed }
      : { refused: String(response.body.errors![0]!.extensions!.kind) };
  },
  async cancel(token, id) {
    expect(
      (await gql(api, 'mutation($id: ID!) { cancelBooking(id: $id) { id } }', { token, variables: { id } })).body.errors,
    ).toBeUndefined();
  },
  async list(token) {
    const response = await gql<{ myBookings: { edges: Array<{ node: { id: string; status: string } }> } }>(
      api,
      '{ myBookings { edges { node { id status } } } }',
      { token },
    );
    return response.body.data!.myBookings.edges.map(({ node }) => ({ id: node.id, status: node.status.toLowerCase() }));
  },
};

const statusName = (status: string) => status.replace(/^BOOKING_STATUS_/, '').toLowerCase();
/** The refusal's kind, from the google.rpc.ErrorInfo reason (SOLD_OUT → sold-out). */
const reasonOf = (result: { ok: false; status?: { errorInfo?: { reason: string } } }) =>
  result.status!.errorInfo!.reason.toLowerCase().replace(/_/g, '-');

const grpcEdge: Edge = {
  createEvent: (token, input) => rest.createEvent(token, input),
  async book(token, eventId, quantity, key) {
    const result = await unary<{ booking: { id: string } }>(
      clients.bookings,
      'CreateBooking',
      { event_id: eventId, quantity, idempotency_key: key ?? '' },
      { token },
    );
    return result.ok ? { id: result.value.booking.id } : { refused: reasonOf(result) };
  },
  async confirm(token, id) {
    const result = await unary(clients.bookings, 'ConfirmBooking', { id }, { token });
    return result.ok ? 'ok' : reasonOf(result);
  },
  async pay(token, id, paymentMethod, key) {
    const result = await unary<{ booking: { status: string }; replayed?: boolean }>(
      clients.bookings,
      'PayBooking',
      { id, payment_method: paymentMethod, idempotency_key: key ?? '' },
      { token },
    );
    return result.ok
      ? { status: statusName(result.value.booking.status), replayed: result.value.replayed === true }
      : { refused: reasonOf(result) };
  },
  async cancel(token, id) {
    expect((await unary(clients.bookings, 'CancelBooking', { id }, { token })).ok).toBe(true);
  },
  async list(token) {
    const result = await unary<{ bookings?: Array<{ id: string; status: string }> }>(clients.bookings, 'ListBookings', {}, { token });
    return result.ok ? (result.value.bookings ?? []).map(({ id, status }) => ({ id, status: statusName(status) })) : [];
  },
};

/** The database state a scenario left, with ids replaced by their roles (outbox events per aggregate, in order). */
async function stateOf(eventId: string, named: Record<string, string>) {
  const ids = [eventId, ...Object.values(named)];
  const roleOf = new Map([[eventId, 'event'], ...Object.entries(named).map(([name, id]) => [id, name] as [string, string])]);
  const role = (id: string) => roleOf.get(id) ?? 'other';
  const { rows: event } = await api.db.pool.query('SELECT capacity, available, price_cents FROM events WHERE id = $1', [eventId]);
  const { rows: bookings } = await api.db.pool.query<{ id: string; status: string; quantity: number; amount_cents: number }>(
    'SELECT id, status, quantity, amount_cents FROM bookings WHERE event_id = $1 ORDER BY created_at',
    [eventId],
  );
  const { rows: outbox } = await api.db.pool.query<{ aggregate_id: string; type: string; payload: Record<string, unknown> }>(
    'SELECT aggregate_id, type, payload FROM outbox WHERE aggregate_id = ANY($1::uuid[]) ORDER BY seq',
    [ids],
  );
  // Per aggregate in seq order: the saga answers for different bookings may interleave differently per run.
  const events = outbox.map((row) => ({ aggregate: role(row.aggregate_id), type: row.type, fields: Object.keys(row.payload).sort() }));
  return {
    role,
    event: event[0],
    bookings: bookings.map((b) => ({ booking: role(b.id), status: b.status, quantity: b.quantity, amount: b.amount_cents })),
    outbox: [...ids.map(role)].flatMap((name) => events.filter((e) => e.aggregate === name)),
  };
}

const idOf = (booking: { id: string } | Refused) => {
  if (!('id' in booking)) throw new Error(`refused: ${booking.refused}`);
  return booking.id;
};

/** The free-event scenario; returns what it saw and the state it left. */
async function scenario(edge: Edge) {
  const organizer = await api.user('organizer');
  const [u1, u2, u3] = [await api.user(), await api.user(), await api.user()];
  const eventId = await edge.createEvent(organizer.token, futureEvent({ capacity: 5, priceCents: 0 }));
  const b1 = await edge.book(u1.token, eventId, 2, 'parity-1');
  const replay = await edge.book(u1.token, eventId, 2, 'parity-1');
  const b2 = await edge.book(u2.token, eventId, 3);
  const refused = await edge.book(u3.token, eventId, 1);
  const confirmed = await edge.confirm(u1.token, idOf(b1));
  await edge.cancel(u2.token, idOf(b2));
  const b3 = await edge.book(u3.token, eventId, 1);
  const listed = await edge.list(u1.token);

  const { role, ...state } = await stateOf(eventId, { b1: idOf(b1), b2: idOf(b2), b3: idOf(b3) });
  return {
    answers: {
      replayedSame: idOf(replay) === idOf(b1),
      refused,
      confirmed,
      listed: listed.map((b) => ({ booking: role(b.id), status: b.status })),
    },
    ...state,
  };
}

const statusOf = async (id: string) =>
  (await api.db.pool.query<{ status: string }>('SELECT status FROM bookings WHERE id = $1', [id])).rows[0]!.status;

/** The paid-event scenario through the saga; returns what it saw and the state it left. */
async function paidScenario(edge: Edge) {
  const organizer = await api.user('organizer');
  const [u1, u2, u3] = [await api.user(), await api.user(), await api.user()];
  const eventId = await edge.createEvent(organizer.token, futureEvent({ capacity: 5, priceCents: 2500 }));
  const p1 = idOf(await edge.book(u1.token, eventId, 2, 'paid-1'));
  const paid = await edge.pay(u1.token, p1, 'pm_card_visa', 'pay-1');
  const replayed = await edge.pay(u1.token, p1, 'pm_card_visa', 'pay-1');
  const p2 = idOf(await edge.book(u2.token, eventId, 2));
  const declined = await edge.pay(u2.token, p2, 'pm_card_chargeDeclined');
  const p3 = idOf(await edge.book(u3.token, eventId, 1));
  const bareConfirm = await edge.confirm(u3.token, p3);
  await waitFor(
    'the saga settled both payments',
    async () => (await statusOf(p1)) === 'confirmed' && (await statusOf(p2)) === 'payment_failed',
  );
  const payAgain = await edge.pay(u1.token, p1, 'pm_card_visa');
  const afterConfirm = await edge.pay(u1.token, p1, 'pm_card_visa', 'pay-1');
  await edge.cancel(u1.token, p1);
  await waitFor('the paid booking refunded', async () => (await statusOf(p1)) === 'refunded');
  const listed = await edge.list(u1.token);

  const { role, ...state } = await stateOf(eventId, { p1, p2, p3 });
  return {
    answers: {
      paid,
      replayed: (replayed as { status: string; replayed: boolean }).replayed,
      declined,
      bareConfirm,
      payAgain,
      afterConfirm,
      listed: listed.map((b) => ({ booking: role(b.id), status: b.status })),
    },
    intents: saga.stripe
      .allIntents()
      .filter((intent) => [p1, p2].includes(String(intent.metadata.booking_id)))
      .map((intent) => `${role(String(intent.metadata.booking_id))}:${intent.status}`)
      .sort(),
    ...state,
  };
}

it('REST, GraphQL and gRPC leave the same database state and the same outbox events (a free event)', async () => {
  const viaRest = await scenario(rest);
  expect(viaRest.answers).toEqual({
    replayedSame: true,
    refused: { refused: 'sold-out' },
    confirmed: 'ok',
    listed: [{ booking: 'b1', status: 'confirmed' }],
  });
  expect(viaRest.event).toEqual({ capacity: 5, available: 2, price_cents: 0 });
  expect(viaRest.outbox.map((row) => `${row.aggregate}:${row.type}`)).toEqual([
    'event:event.created',
    'b1:booking.created',
    'b1:booking.confirmed',
    'b2:booking.created',
    'b2:booking.cancelled',
    'b3:booking.created',
  ]);
  expect(await scenario(graphql)).toEqual(viaRest);
  expect(await scenario(grpcEdge)).toEqual(viaRest);
});

it('REST, GraphQL and gRPC pay a hold the same way: the saga confirms, a decline fails, a refund follows a cancel; the same state and outbox events', async () => {
  const viaRest = await paidScenario(rest);
  expect(viaRest.answers).toEqual({
    paid: { status: 'payment_pending', replayed: false },
    replayed: true,
    declined: { status: 'payment_pending', replayed: false },
    bareConfirm: 'payment-required',
    payAgain: { refused: 'invalid-transition' },
    afterConfirm: { status: 'confirmed', replayed: true },
    listed: [{ booking: 'p1', status: 'refunded' }],
  });
  expect(viaRest.event).toEqual({ capacity: 5, available: 4, price_cents: 2500 });
  expect(viaRest.bookings).toEqual([
    { booking: 'p1', status: 'refunded', quantity: 2, amount: 5000 },
    { booking: 'p2', status: 'payment_failed', quantity: 2, amount: 5000 },
    { booking: 'p3', status: 'pending', quantity: 1, amount: 2500 },
  ]);
  expect(viaRest.intents).toEqual(['p1:succeeded', 'p2:requires_payment_method']);
  expect(viaRest.outbox.map((row) => `${row.aggregate}:${row.type}`)).toEqual([
    'event:event.created',
    'p1:booking.created',
    'p1:payment.requested',
    'p1:booking.confirmed',
    'p1:refund.requested',
    'p1:booking.cancelled',
    'p1:booking.refunded',
    'p2:booking.created',
    'p2:payment.requested',
    'p2:booking.payment_failed',
    'p3:booking.created',
  ]);
  expect(await paidScenario(graphql)).toEqual(viaRest);
  expect(await paidScenario(grpcEdge)).toEqual(viaRest);
});
