/**
 * goticket_booking_attempts_total over real HTTP and PostgreSQL: every booking attempt counts
 * once, under an outcome that says what happened to it. An Idempotency-Key replay is neither a
 * new booking nor a conflict; the same key with another body is the conflict (422).
 */
import { bookingOutcomes, BOOKING_OUTCOMES } from '../../src/observability/metrics';
import { call, futureEvent, startTestApi, type TestApi } from '../support/api';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

async function outcomes(): Promise<Record<string, number>> {
  const { values } = await bookingOutcomes.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.outcome), v.value]));
}

const delta = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(Object.keys(after).map((outcome) => [outcome, after[outcome]! - (before[outcome] ?? 0)]).filter(([, n]) => n !== 0));

it('counts a new booking as created, its replay as replayed, and the key reused with another body as conflict', async () => {
  const organizer = await api.user('organizer');
  const buyer = await api.user();
  const event = await call<{ id: string }>(`${api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 10 }) });
  expect(event.status).toBe(201);
  const book = (quantity: number) =>
    call(`${api.url}/events/${event.body.id}/bookings`, { token: buyer.token, body: { quantity }, headers: { 'Idempotency-Key': 'checkout-1' } });

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
