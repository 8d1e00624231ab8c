/**
 * goticket_booking_attempts_total over real HTTP and PostgreSQL: every booking attempt counts
 * once, under an outcome that says what happened to it. An Idempotency-Key replay is neither a
 * new booking nor a conflict; the same key with another body is the conflict (422). A booking
 * made through GraphQL or gRPC counts as one made through REST (the service counts, not the edge).
 */
import { bookingOutcomes, bookingTransitions, BOOKING_OUTCOMES } from '../../src/observability/metrics';
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
  clients?.close();
  await api.close();
});

async function outcomes(): Promise<Record<string, number>> {
  const { values } = await bookingOutcomes.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.outcome), v.value]));
}

const delta = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(
    Object.keys(after)
      .map((outcome) => [outcome, after[outcome]! - (before[outcome] ?? 0)])
      .filter(([, n]) => n !== 0),
  );

it('counts a new booking as created, its replay as replayed, and the key reused with another body as conflict', async () => {
  const organizer = await api.user('organizer');
  const buyer = await api.user();
  const event = await call<{ id: string }>(`${api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 10 }) });
  expect(event.status).toBe(201);
  const book = (quantity: number) =>
    call(`${api.url}/events/${event.body.id}/bookings`, {
      token: buyer.token,
      body: { quantity },
      headers: { 'Idempotency-Key': 'checkout-1' },
    });

  let before = await outcomes();
  expect((await book(2)).status).toBe(201);
  expect(delta(before, await outcomes())).toEqual({ created: 1 });

  before = await outcomes();
  const replay = await book(2);
  expect(replay.status).toBe(200);
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect(delta(before, await outcomes())).toEqual({ replayed: 1 });

  before = await outcomes();
  expect((await book(3)).status).toBe(422);
  expect(delta(before, await outcomes())).toEqual({ conflict: 1 });
});

it('exports every outcome from the start (a rate over a series that appears late misses its first increase)', async () => {
  expect(Object.keys(await outcomes()).sort()).toEqual([...BOOKING_OUTCOMES].sort());
  expect(BOOKING_OUTCOMES).toContain('replayed');
});

it('counts bookings, replays, conflicts and sold-out refusals made through GraphQL and gRPC as REST counts them', async () => {
  const organizer = await api.user('organizer');
  const buyer = await api.user();
  const event = await call<{ id: string }>(`${api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 3 }) });
  const viaGraphql = (quantity: number, key: string) =>
    gql(api, 'mutation($e: ID!, $q: Int!, $k: String) { bookSeats(eventId: $e, quantity: $q, idempotencyKey: $k) { booking { id } } }', {
      token: buyer.token,
      variables: { e: event.body.id, q: quantity, k: key },
    });
  const viaGrpc = (quantity: number, key: string) =>
    unary(clients.bookings, 'CreateBooking', { event_id: event.body.id, quantity, idempotency_key: key }, { token: buyer.token });
  const pending = async () => (await bookingTransitions.get()).values.find((v) => v.labels.status === 'pending')?.value ?? 0;

  const before = await outcomes();
  const pendingBefore = await pending();
  expect((await viaGraphql(1, 'gql-1')).body.errors).toBeUndefined();
  expect((await viaGraphql(1, 'gql-1')).body.errors).toBeUndefined();
  expect((await viaGraphql(2, 'gql-1')).body.errors![0]!.extensions!.kind).toBe('idempotency-key-reused');
  expect((await viaGrpc(1, 'grpc-1')).ok).toBe(true);
  expect((await viaGrpc(1, 'grpc-1')).ok).toBe(true);
  expect((await viaGrpc(2, 'grpc-1')).ok).toBe(false);
  expect((await viaGrpc(5, 'grpc-2')).ok).toBe(false);
  expect(delta(before, await outcomes())).toEqual({ created: 2, replayed: 2, conflict: 2, sold_out: 1 });
  expect((await pending()) - pendingBefore).toBe(2);
});
