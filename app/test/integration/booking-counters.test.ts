/**
 * The booking counters (goticket_booking_attempts_total, goticket_booking_transitions_total,
 * goticket_tickets_sold_total, goticket_revenue_cents_total) count the same for a booking whichever
 * edge it came in by: the same checkout (hold, replay, pay, replay, the saga confirms; a free hold
 * confirmed) through REST, GraphQL and gRPC moves them by the same amounts, and a paid booking's
 * seats and money are counted exactly once (by the saga's confirmation, not by the edge).
 */
import { bookingOutcomes, bookingTransitions, revenueCents, ticketsSold } from '../../src/observability/metrics';
import { call, futureEvent } from '../support/api';
import { gql } from '../support/graphql';
import { grpcClients, unary, type GrpcClients } from '../support/grpc';
import { waitFor } from './messaging/helpers';
import { startSaga, type Saga } from './payments/harness';

let saga: Saga;
let clients: GrpcClients;

beforeAll(async () => {
  saga = await startSaga({ grpc: true });
  clients = grpcClients(saga.api.grpcAddress!);
});
afterAll(async () => {
  clients?.close();
  await saga?.close();
});

interface Edge {
  book(token: string, eventId: string, quantity: number, key: string): Promise<string>;
  pay(token: string, id: string, key: string): Promise<string>;
  confirm(token: string, id: string): Promise<void>;
}

const rest: Edge = {
  async book(token, eventId, quantity, key) {
    const response = await call<{ id: string }>(`${saga.api.url}/events/${eventId}/bookings`, {
      token,
      body: { quantity },
      headers: { 'Idempotency-Key': key },
    });
    expect(response.status).toBeLessThan(300);
    return response.body.id;
  },
  async pay(token, id, key) {
    const response = await call<{ status: string }>(`${saga.api.url}/bookings/${id}/pay`, {
      token,
      body: { paymentMethod: 'pm_card_visa' },
      headers: { 'Idempotency-Key': key },
    });
    expect(response.status).toBeLessThan(300);
    return response.body.status;
  },
  async confirm(token, id) {
    expect((await call(`${saga.api.url}/bookings/${id}/confirm`, { token, method: 'POST' })).status).toBe(200);
  },
};

const graphql: Edge = {
  async book(token, eventId, quantity, key) {
    const response = await gql<{ bookSeats: { booking: { id: string } } }>(
      saga.api,
      'mutation($e: ID!, $q: Int!, $k: String) { bookSeats(eventId: $e, quantity: $q, idempotencyKey: $k) { booking { id } } }',
      {
        token,
        variables: { e: eventId, q: quantity, k: key },
      },
    );
    expect(response.body.errors).toBeUndefined();
    return response.body.data!.bookSeats.booking.id;
  },
  async pay(token, id, key) {
    const response = await gql<{ payBooking: { booking: { status: string } } }>(
      saga.api,
      'mutation($id: ID!, $k: String) { payBooking(id: $id, paymentMethod: "pm_card_visa", idempotencyKey: $k) { booking { status } } }',
      {
        token,
        variables: { id, k: key },
      },
    );
    expect(response.body.errors).toBeUndefined();
    return response.body.data!.payBooking.booking.status.toLowerCase();
  },
  async confirm(token, id) {
    expect(
      (await gql(saga.api, 'mutation($id: ID!) { confirmBooking(id: $id) { id } }', { token, variables: { id } })).body.errors,
    ).toBeUndefined();
  },
};

const grpcEdge: Edge = {
  async book(token, eventId, quantity, key) {
    const result = await unary<{ booking: { id: string } }>(
      clients.bookings,
      'CreateBooking',
      { event_id: eventId, quantity, idempotency_key: key },
      { token },
    );
    if (!result.ok) throw new Error(`CreateBooking: ${result.code} ${result.details}`);
    return result.value.booking.id;
  },
  async pay(token, id, key) {
    const result = await unary<{ booking: { status: string } }>(
      clients.bookings,
      'PayBooking',
      { id, payment_method: 'pm_card_visa', idempotency_key: key },
      { token },
    );
    if (!result.ok) throw new Error(`PayBooking: ${result.code} ${result.details}`);
    return result.value.booking.status.replace(/^BOOKING_STATUS_/, '').toLowerCase();
  },
  async confirm(token, id) {
    expect((await unary(clients.bookings, 'ConfirmBooking', { id }, { token })).ok).toBe(true);
  },
};

type Figures = Record<string, number>;

async function counters(): Promise<Figures> {
  const figures: Figures = {};
  for (const v of (await bookingOutcomes.get()).values) figures[`attempt:${String(v.labels.outcome)}`] = v.value;
  for (const v of (await bookingTransitions.get()).values) figures[`transition:${String(v.labels.status)}`] = v.value;
  figures.ticketsSold = (await ticketsSold.get()).values[0]?.value ?? 0;
  figures.revenueCents = (await revenueCents.get()).values[0]?.value ?? 0;
  return figures;
}

const delta = (before: Figures, after: Figures) =>
  Object.fromEntries(
    Object.keys(after)
      .map((name) => [name, after[name]! - (before[name] ?? 0)])
      .filter(([, n]) => n !== 0),
  );

const statusOf = async (id: string) =>
  (await saga.api.db.pool.query<{ status: string }>('SELECT status FROM bookings WHERE id = $1', [id])).rows[0]!.status;

const EXPECTED = {
  'attempt:created': 2,
  'attempt:replayed': 1,
  'transition:pending': 2,
  'transition:payment_pending': 1,
  'transition:confirmed': 2,
  ticketsSold: 3,
  revenueCents: 2 * 2500,
};

it.each([
  ['REST', rest],
  ['GraphQL', graphql],
  ['gRPC', grpcEdge],
] as const)('a checkout through %s moves the booking counters by the same amounts, a paid booking counted once', async (name, edge) => {
  const organizer = await saga.api.user('organizer');
  const buyer = await saga.api.user();
  const create = async (priceCents: number) =>
    (await call<{ id: string }>(`${saga.api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 10, priceCents }) })).body
      .id;
  const [paidEvent, freeEvent] = [await create(2500), await create(0)];

  const before = await counters();
  const paid = await edge.book(buyer.token, paidEvent, 2, `${name}-hold`);
  expect(await edge.book(buyer.token, paidEvent, 2, `${name}-hold`)).toBe(paid);
  expect(await edge.pay(buyer.token, paid, `${name}-pay`)).toBe('payment_pending');
  const free = await edge.book(buyer.token, freeEvent, 1, `${name}-free`);
  await edge.confirm(buyer.token, free);
  await waitFor('the saga confirmed', async () => (await statusOf(paid)) === 'confirmed');
  // The counters follow the saga's commit: wait for them, then make sure nothing counts twice.
  await waitFor('the confirmation counted', async () => (delta(before, await counters()).ticketsSold ?? 0) >= 3);
  // A replay of the pay request after the confirmation answers the booking as it is and counts nothing.
  expect(await edge.pay(buyer.token, paid, `${name}-pay`)).toBe('confirmed');
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(delta(before, await counters())).toEqual(EXPECTED);
});
