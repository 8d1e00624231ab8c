/**
 * The payments saga end to end on the real PostgreSQL and RabbitMQ, the Stripe SDK against the
 * local Stripe-compatible server: pay → confirmed, declined → payment_failed with the seats
 * released, Idempotency-Key replays, cancel of a paid booking → refunded, a payment that
 * succeeds after its hold lapsed → refunded with the seats staying released, and the expiry
 * races: successes arriving 0–500 ms after the lapse.
 */
import { call, futureEvent } from '../../support/api';
import { waitFor } from '../messaging/helpers';
import { startSaga, type Saga } from './harness';

let saga: Saga;
let organizer: { token: string };

beforeAll(async () => {
  saga = await startSaga();
  organizer = await saga.api.user('organizer');
});
afterAll(() => saga?.close());

const newEvent = async (overrides: Record<string, unknown> = {}) =>
  (
    await call<{ id: string }>(`${saga.api.url}/events`, {
      token: organizer.token,
      body: futureEvent({ capacity: 10, priceCents: 2500, ...overrides }),
    })
  ).body.id;
const hold = async (eventId: string, token: string, quantity = 2) =>
  (await call<{ id: string }>(`${saga.api.url}/events/${eventId}/bookings`, { token, body: { quantity } })).body.id;
const pay = (id: string, token: string, paymentMethod = 'pm_card_visa', key?: string) =>
  call<{ id: string; status: string; expiresAt: string }>(`${saga.api.url}/bookings/${id}/pay`, {
    token,
    body: { paymentMethod },
    headers: key ? { 'idempotency-key': key } : {},
  });
const statusOf = async (id: string) =>
  (await saga.api.db.pool.query<{ status: string }>('SELECT status FROM bookings WHERE id = $1', [id])).rows[0]!.status;
/** From PostgreSQL: the API's cached copy of an event follows the worker's seat releases within CACHE_TTL. */
const available = async (eventId: string) =>
  (await saga.api.db.pool.query<{ available: number }>('SELECT available FROM events WHERE id = $1', [eventId])).rows[0]!.available;
const notified = async (bookingId: string) =>
  (
    await saga.api.db.pool.query<{ type: string }>(
      'SELECT type FROM notifications WHERE booking_id = $1 AND sent_at IS NOT NULL ORDER BY type',
      [bookingId],
    )
  ).rows.map((r) => r.type);

test('pay: 202 payment_pending with the hold extended, then confirmed by the payments service; one intent at the provider; the owner is mailed once', async () => {
  const buyer = await saga.api.user();
  const eventId = await newEvent();
  const id = await hold(eventId, buyer.token);
  const before = (await call<{ expiresAt: string }>(`${saga.api.url}/bookings/${id}`, { token: buyer.token })).body.expiresAt;
  const paid = await pay(id, buyer.token);
  expect(paid.status).toBe(202);
  expect(paid.body.status).toBe('payment_pending');
  expect(Date.parse(paid.body.expiresAt)).toBeGreaterThanOrEqual(Date.parse(before));
  await waitFor('confirmed', async () => (await statusOf(id)) === 'confirmed');
  expect(saga.stripe.intentsPerBooking().get(id)).toBe(1);
  expect(saga.stripe.allIntents().find((i) => i.metadata.booking_id === id)).toMatchObject({
    amount: 5000,
    currency: 'eur',
    status: 'succeeded',
    payment_method: 'pm_card_visa',
  });
  expect(await available(eventId)).toBe(8);
  await waitFor('confirmation mailed', async () => (await notified(id)).includes('booking.confirmed'));
  expect(saga.mailer.countsByBooking().get(id)).toBe(1);
});

test('payments are charged concurrently: 20 paid at once overlap at the provider (up to PAYMENTS_PREFETCH in flight), not one after another', async () => {
  const buyers = await Promise.all(Array.from({ length: 20 }, () => saga.api.user()));
  const eventId = await newEvent({ capacity: 40 });
  const ids = await Promise.all(buyers.map((buyer) => hold(eventId, buyer.token, 1)));
  saga.stripe.configure({ minLatencyMs: 300, maxLatencyMs: 300 });
  saga.stripe.maxInFlight = saga.stripe.inFlight;
  try {
    const paid = await Promise.all(ids.map((id, i) => pay(id, buyers[i]!.token)));
    expect(paid.map((p) => p.status)).toEqual(ids.map(() => 202));
    await waitFor('all confirmed', async () => (await Promise.all(ids.map(statusOf))).every((status) => status === 'confirmed'), 20_000);
  } finally {
    saga.stripe.configure({ minLatencyMs: 0, maxLatencyMs: 0 });
  }
  for (const id of ids) expect(saga.stripe.intentsPerBooking().get(id)).toBe(1);
  // One at a time would never have had more than one in flight; the relay hands them over in one or two batches.
  expect(saga.stripe.maxInFlight).toBeGreaterThanOrEqual(10);
});

test('a declined card: payment_failed, the seats released (compensation), the owner told; nothing captured', async () => {
  const buyer = await saga.api.user();
  const eventId = await newEvent();
  const id = await hold(eventId, buyer.token, 3);
  expect(await available(eventId)).toBe(7);
  expect((await pay(id, buyer.token, 'pm_card_chargeDeclinedInsufficientFunds')).status).toBe(202);
  await waitFor('payment_failed', async () => (await statusOf(id)) === 'payment_failed');
  expect(await available(eventId)).toBe(10);
  const { rows } = await saga.api.db.pool.query<{ failure_reason: string }>('SELECT failure_reason FROM bookings WHERE id = $1', [id]);
  expect(rows[0]!.failure_reason).toBe('insufficient_funds');
  await waitFor('failure mailed', async () => (await notified(id)).includes('booking.payment_failed'));
  expect(
    saga.stripe
      .allIntents()
      .filter((i) => i.metadata.booking_id === id)
      .map((i) => i.amount_received),
  ).toEqual([0]);
});

test('the same Idempotency-Key again is a replay (200, Idempotent-Replayed); another key or a second pay is a 409; others get 404; a free hold has nothing to pay', async () => {
  const [buyer, other] = [await saga.api.user(), await saga.api.user()];
  const eventId = await newEvent();
  const id = await hold(eventId, buyer.token);
  expect((await pay(id, other.token)).status).toBe(404);
  expect((await pay(id, buyer.token, 'pm_card_visa', 'key-1')).status).toBe(202);
  const replay = await pay(id, buyer.token, 'pm_card_visa', 'key-1');
  expect(replay.status).toBe(200);
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect((await pay(id, buyer.token, 'pm_card_visa', 'key-2')).status).toBe(409);
  expect((await pay(id, buyer.token)).status).toBe(409);
  expect((await pay(id, buyer.token, 'card_4242')).status).toBe(400);
  await waitFor('confirmed', async () => (await statusOf(id)) === 'confirmed');
  expect(saga.stripe.intentsPerBooking().get(id)).toBe(1);
  const free = await hold(await newEvent({ priceCents: 0 }), buyer.token);
  const refused = await pay(free, buyer.token);
  expect(refused.status).toBe(409);
  expect((refused.body as unknown as { type: string }).type).toMatch(/\/payment-not-required$/);
});

test('cancelling a paid booking: cancelled, seats back, refund.requested → refunded at the provider → refunded, the owner told', async () => {
  const buyer = await saga.api.user();
  const eventId = await newEvent();
  const id = await hold(eventId, buyer.token);
  await pay(id, buyer.token);
  await waitFor('confirmed', async () => (await statusOf(id)) === 'confirmed');
  const cancelled = await call<{ status: string }>(`${saga.api.url}/bookings/${id}/cancel`, { method: 'POST', token: buyer.token });
  expect(cancelled.body.status).toBe('cancelled');
  expect(await available(eventId)).toBe(10);
  await waitFor('refunded', async () => (await statusOf(id)) === 'refunded');
  const intent = saga.stripe.allIntents().find((i) => i.metadata.booking_id === id)!;
  expect(saga.stripe.totals().refunds).toBeGreaterThanOrEqual(1);
  const { rows } = await saga.api.db.pool.query<{ status: string; refund_id: string }>(
    'SELECT status, refund_id FROM payments.payments WHERE booking_id = $1',
    [id],
  );
  expect(rows[0]).toMatchObject({ status: 'refunded' });
  expect(rows[0]!.refund_id).toMatch(/^re_|:refund$/);
  expect(intent.amount_received).toBe(5000);
  await waitFor('refund mailed', async () => (await notified(id)).includes('booking.refunded'));
});

test('a payment that succeeds after its hold lapsed: refunded automatically, the seats stay released, never confirmed; the owner told once', async () => {
  const buyer = await saga.api.user();
  const eventId = await newEvent();
  const id = await hold(eventId, buyer.token);
  // the provider takes 1.5 s to answer: the hold lapses while the payment is in flight
  saga.stripe.configure({ minLatencyMs: 1_500, maxLatencyMs: 1_500 });
  try {
    expect((await pay(id, buyer.token)).status).toBe(202);
    await saga.api.db.pool.query(`UPDATE bookings SET expires_at = now() WHERE id = $1 AND status = 'payment_pending'`, [id]);
    await waitFor('expired', async () => (await statusOf(id)) !== 'payment_pending');
    expect(await available(eventId)).toBe(10);
    await waitFor('refunded', async () => (await statusOf(id)) === 'refunded', 30_000);
  } finally {
    saga.stripe.configure({ minLatencyMs: 0, maxLatencyMs: 0 });
  }
  expect(await available(eventId)).toBe(10);
  const { rows } = await saga.api.db.pool.query<{ type: string }>(`SELECT type FROM outbox WHERE aggregate_id = $1 ORDER BY seq`, [id]);
  // booking.expired and refund.requested: by the sweeper then the late answer, or both by the late answer in one statement
  expect(rows.map((r) => r.type).sort()).toEqual([
    'booking.created',
    'booking.expired',
    'booking.refunded',
    'payment.requested',
    'refund.requested',
  ]);
  expect(rows.map((r) => r.type).slice(0, 2)).toEqual(['booking.created', 'payment.requested']);
  expect(saga.stripe.allIntents().find((i) => i.metadata.booking_id === id)!.amount_received).toBe(5000);
  await waitFor('refund mailed', async () => (await notified(id)).includes('booking.refunded'));
  expect(saga.mailer.sent.filter((m) => m.text.includes(id) && /refunded/.test(m.text))).toHaveLength(1);
});

test('expiry races: a success arriving 0–500 ms after the hold lapsed is refunded every time, never confirmed; the seats stay released; one notice per outcome', async () => {
  const buyer = await saga.api.user();
  const eventId = await newEvent({ capacity: 20 });
  const LATENCY_MS = 600;
  // booking i lapses LATENCY_MS − lateBy[i] after its payment was asked for: the provider's success comes lateBy[i] ms (plus the relay hops) after it
  const lateBy = Array.from({ length: 11 }, (_, i) => i * 50);
  saga.stripe.configure({ minLatencyMs: LATENCY_MS, maxLatencyMs: LATENCY_MS });
  let ids: string[];
  try {
    ids = await Promise.all(
      lateBy.map(async (late) => {
        const id = await hold(eventId, buyer.token, 1);
        expect((await pay(id, buyer.token)).status).toBe(202);
        const { rowCount } = await saga.api.db.pool.query(
          `UPDATE bookings SET expires_at = payment_requested_at + make_interval(secs => $2::float8 / 1000) WHERE id = $1 AND status = 'payment_pending'`,
          [id, LATENCY_MS - late],
        );
        expect(rowCount).toBe(1);
        return id;
      }),
    );
    await waitFor('all refunded', async () => (await Promise.all(ids.map(statusOf))).every((status) => status === 'refunded'), 30_000);
  } finally {
    saga.stripe.configure({ minLatencyMs: 0, maxLatencyMs: 0 });
  }
  expect(await available(eventId)).toBe(20);
  const { rows } = await saga.api.db.pool.query<{ id: string; late_ms: number }>(
    'SELECT id, extract(epoch FROM paid_at - expires_at) * 1000 AS late_ms FROM bookings WHERE id = ANY($1)',
    [ids],
  );
  // the success was applied after the lapse, for every one of them
  expect(rows.filter((row) => !(Number(row.late_ms) >= 0))).toEqual([]);
  const { rows: confirmedEvents } = await saga.api.db.pool.query(
    `SELECT aggregate_id FROM outbox WHERE aggregate_id = ANY($1) AND type = 'booking.confirmed'`,
    [ids],
  );
  expect(confirmedEvents).toEqual([]);
  const byIntent = new Map(saga.stripe.allIntents().map((intent) => [intent.metadata.booking_id, intent]));
  expect(ids.filter((id) => byIntent.get(id)?.amount_received !== 2500)).toEqual([]);
  await waitFor('refunds mailed', async () => (await Promise.all(ids.map(notified))).every((types) => types.includes('booking.refunded')));
  const { rows: notices } = await saga.api.db.pool.query<{ booking_id: string; type: string; n: number }>(
    'SELECT booking_id, type, count(*)::int AS n FROM notifications WHERE booking_id = ANY($1) GROUP BY booking_id, type',
    [ids],
  );
  expect(notices.filter((notice) => notice.n !== 1 || notice.type === 'booking.confirmed')).toEqual([]);
});

test('an event deleted with paid bookings (admin, cancelBookings=true): every active booking cancelled, the paid ones refunded; without the flag still 409', async () => {
  const [buyer, admin] = [await saga.api.user(), await saga.api.user('admin')];
  const eventId = await newEvent();
  const paid = await hold(eventId, buyer.token);
  await pay(paid, buyer.token);
  await waitFor('confirmed', async () => (await statusOf(paid)) === 'confirmed');
  const pending = await hold(eventId, buyer.token, 1);
  const remove = (token: string, flag = '') => call(`${saga.api.url}/events/${eventId}${flag}`, { method: 'DELETE', token });
  expect((await remove(organizer.token)).status).toBe(409);
  expect((await remove(admin.token)).status).toBe(409);
  expect((await remove(organizer.token, '?cancelBookings=true')).status).toBe(403);
  expect((await remove(admin.token, '?cancelBookings=maybe')).status).toBe(400);
  expect((await remove(admin.token, '?cancelBookings=true')).status).toBe(204);
  expect(await statusOf(pending)).toBe('cancelled');
  expect(await available(eventId)).toBe(10);
  await waitFor('refunded', async () => (await statusOf(paid)) === 'refunded');
  const { rows } = await saga.api.db.pool.query<{ refund_reason: string }>(
    'SELECT refund_reason FROM payments.payments WHERE booking_id = $1',
    [paid],
  );
  expect(rows[0]!.refund_reason).toBe('event_deleted');
  expect((await call(`${saga.api.url}/events/${eventId}`)).status).toBe(404);
});
