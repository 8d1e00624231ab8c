/**
 * POST /api/v1/payments/webhook on the payments role's port: a signed event resolves a payment the
 * provider still had in processing (reconciliation is off here: only the webhook can); forged,
 * stale, replayed, unknown and malformed events are refused or ignored and change nothing.
 */
import { LocalStripe } from '../../../src/payments/local-stripe';
import { call, futureEvent } from '../../support/api';
import { waitFor } from '../messaging/helpers';
import { startSaga, WEBHOOK_SECRET, type Saga } from './harness';

let saga: Saga;
let buyer: { token: string };
let eventId: string;

beforeAll(async () => {
  // the provider keeps pm_card_processing intents processing for an hour; nothing reconciles them
  saga = await startSaga({ env: { PAYMENTS_RECONCILE_INTERVAL: '1h' }, stripe: { settleAfterMs: 3_600_000 } });
  const organizer = await saga.api.user('organizer');
  buyer = await saga.api.user();
  eventId = (
    await call<{ id: string }>(`${saga.api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 50, priceCents: 1000 }) })
  ).body.id;
});
afterAll(() => saga?.close());

const webhookUrl = () => `${saga.paymentsUrl}/api/v1/payments/webhook`;
const post = (body: string, signature?: string) =>
  fetch(webhookUrl(), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}) },
    body,
  });
const statusOf = async (id: string) =>
  (await saga.api.db.pool.query<{ status: string }>('SELECT status FROM bookings WHERE id = $1', [id])).rows[0]!.status;
const paymentOf = async (id: string) =>
  (await saga.api.db.pool.query<{ status: string }>('SELECT status FROM payments.payments WHERE booking_id = $1', [id])).rows[0]?.status;

/** A booking whose payment the provider holds in processing. */
async function processingPayment(): Promise<{ bookingId: string; intentId: string }> {
  const bookingId = (
    await call<{ id: string }>(`${saga.api.url}/events/${eventId}/bookings`, { token: buyer.token, body: { quantity: 1 } })
  ).body.id;
  expect(
    (await call(`${saga.api.url}/bookings/${bookingId}/pay`, { token: buyer.token, body: { paymentMethod: 'pm_card_processing' } })).status,
  ).toBe(202);
  const intentId = await waitFor('the intent recorded as processing', async () => {
    const { rows } = await saga.api.db.pool.query<{ intent_id: string | null }>(
      `SELECT intent_id FROM payments.payments WHERE booking_id = $1 AND status = 'processing'`,
      [bookingId],
    );
    return rows[0]?.intent_id ?? null;
  });
  return { bookingId, intentId };
}

/** What the provider would send: the intent as succeeded, in a Stripe event. */
function succeededEvent(intentId: string, bookingId: string, eventId?: string): string {
  const intent = {
    ...saga.stripe.allIntents().find((i) => i.id === intentId)!,
    status: 'succeeded',
    amount_received: 1000,
    metadata: { booking_id: bookingId },
  };
  return JSON.stringify(LocalStripe.event('payment_intent.succeeded', intent, eventId));
}

test('a signed payment_intent.succeeded resolves the processing payment: confirmed, through the same path as reconciliation', async () => {
  const { bookingId, intentId } = await processingPayment();
  expect(await statusOf(bookingId)).toBe('payment_pending');
  saga.stripe.settle(intentId, 'succeeded'); // the local server posts the signed webhook
  await waitFor('confirmed by the webhook', async () => (await statusOf(bookingId)) === 'confirmed');
  expect(await paymentOf(bookingId)).toBe('succeeded');
  expect(saga.stripe.webhooksDelivered).toBeGreaterThanOrEqual(1);
});

test('forged, stale, unsigned and malformed events are refused with 400 and change nothing', async () => {
  const { bookingId, intentId } = await processingPayment();
  const body = succeededEvent(intentId, bookingId);
  const answers = {
    unsigned: (await post(body)).status,
    wrongSecret: (await post(body, LocalStripe.sign(body, 'whsec_someone_else_0123456789'))).status,
    tampered: (await post(body.replace('"amount_received":1000', '"amount_received":1'), LocalStripe.sign(body, WEBHOOK_SECRET))).status,
    stale: (await post(body, LocalStripe.sign(body, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) - 301))).status,
    garbledHeader: (await post(body, 't=abc,v1=zz')).status,
    malformed: (await post('{"id": "evt_1", "type":', LocalStripe.sign('{"id": "evt_1", "type":', WEBHOOK_SECRET))).status,
    notAnEvent: (await post('[1,2,3]', LocalStripe.sign('[1,2,3]', WEBHOOK_SECRET))).status,
  };
  expect(answers).toEqual({
    unsigned: 400,
    wrongSecret: 400,
    tampered: 400,
    stale: 400,
    garbledHeader: 400,
    malformed: 400,
    notAnEvent: 400,
  });
  const refused = await post(body);
  expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
  // a moment for anything that might have leaked through
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(await statusOf(bookingId)).toBe('payment_pending');
  expect(await paymentOf(bookingId)).toBe('processing');
  const { rows } = await saga.api.db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM payments.inbox WHERE source = 'webhook' AND message_id LIKE 'webhook:%' AND type = 'payment_intent.succeeded'`,
  );
  const recordedBefore = rows[0]!.n;
  // within the tolerance, correctly signed: accepted
  const fresh = await post(body, LocalStripe.sign(body, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) - 200));
  expect(fresh.status).toBe(200);
  await waitFor('confirmed', async () => (await statusOf(bookingId)) === 'confirmed');
  const after = await saga.api.db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM payments.inbox WHERE source = 'webhook' AND type = 'payment_intent.succeeded'`,
  );
  expect(after.rows[0]!.n).toBe(recordedBefore + 1);
});

test('a replayed event is acknowledged and ignored; an unknown type or an unknown payment is acknowledged and changes nothing', async () => {
  const { bookingId, intentId } = await processingPayment();
  const body = succeededEvent(intentId, bookingId, 'evt_replayed_once');
  const first = await post(body, LocalStripe.sign(body, WEBHOOK_SECRET));
  expect(await first.json()).toEqual({ received: true, result: 'applied' });
  const again = await post(body, LocalStripe.sign(body, WEBHOOK_SECRET));
  expect([again.status, await again.json()]).toEqual([200, { received: true, result: 'replayed' }]);
  await waitFor('confirmed', async () => (await statusOf(bookingId)) === 'confirmed');
  const outbox = await saga.api.db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM payments.outbox WHERE aggregate_id = $1 AND type = 'payment.succeeded'`,
    [bookingId],
  );
  expect(outbox.rows[0]!.n).toBe(1);

  const unknown = JSON.stringify(LocalStripe.event('customer.created', { id: 'cus_1', object: 'customer' }));
  expect(await (await post(unknown, LocalStripe.sign(unknown, WEBHOOK_SECRET))).json()).toEqual({ received: true, result: 'ignored' });
  const stranger = JSON.stringify(
    LocalStripe.event('payment_intent.succeeded', {
      id: 'pi_0000',
      object: 'payment_intent',
      status: 'succeeded',
      amount: 5,
      metadata: { booking_id: '00000000-0000-4000-8000-000000000000' },
    }),
  );
  expect(await (await post(stranger, LocalStripe.sign(stranger, WEBHOOK_SECRET))).json()).toEqual({ received: true, result: 'ignored' });
  const { rows } = await saga.api.db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM payments.payments WHERE booking_id = '00000000-0000-4000-8000-000000000000'`,
  );
  expect(rows[0]!.n).toBe(0);
});
