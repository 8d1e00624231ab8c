/**
 * The published OpenAPI document as an API consumer uses it: TypeScript types generated from it by
 * openapi-typescript (committed in generated/, checked against a fresh generation here) and the
 * openapi-fetch client driving the whole journey against the real service and PostgreSQL. The file
 * is type-checked under `strict` by `tsc --noEmit`, so a parameter documented with the wrong type
 * (e.g. `limit` as a string) fails the build, and every answer is checked against its schema.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import createClient from 'openapi-fetch';
import type { z } from 'zod';
import { BookingJson, EventJson, TokenPairJson, UserJson, pageOf } from '../../src/http/schemas';
import { startTestApi, type TestApi } from '../support/api';
import type { paths } from './generated/goticket-api';

let api: TestApi;
let client: ReturnType<typeof createClient<paths>>;

beforeAll(async () => {
  api = await startTestApi();
  client = createClient<paths>({ baseUrl: api.url.replace(/\/api\/v1$/, '') });
});
afterAll(() => api?.close());

/** The body of a successful answer, which must also satisfy the documented schema. */
function conforming<S extends z.ZodType>(
  schema: S,
  result: { data?: unknown; error?: unknown; response: Response },
  status: number,
): z.output<S> {
  expect([result.response.status, result.error]).toEqual([status, undefined]);
  expect(result.response.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  return schema.parse(result.data);
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

test('the committed client types are what openapi-typescript generates from the document today (npm run openapi:client)', () => {
  const root = path.join(__dirname, '..', '..', '..');
  const fresh = spawnSync(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/openapi-client.ts', '--stdout'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(fresh.stderr).toBe('');
  expect(readFileSync(path.join(__dirname, 'generated', 'goticket-api.d.ts'), 'utf8')).toBe(fresh.stdout);
});

test('register, sign in, become organizer, create an event, book, confirm, cancel: all through the generated client', async () => {
  const email = `consumer-${Date.now()}@example.com`;
  const password = 'correct horse battery staple';
  const registered = conforming(UserJson, await client.POST('/api/v1/auth/register', { body: { email, password } }), 201);
  expect(registered).toMatchObject({ email, role: 'user' });

  const admin = await api.user('admin');
  const promoted = await client.PATCH('/api/v1/users/{id}/role', {
    params: { path: { id: registered.id } },
    body: { role: 'organizer' },
    ...bearer(admin.token),
  });
  expect(conforming(UserJson, promoted, 200).role).toBe('organizer');

  const tokens = conforming(TokenPairJson, await client.POST('/api/v1/auth/login', { body: { email, password } }), 200);
  const me = conforming(UserJson, await client.GET('/api/v1/users/me', bearer(tokens.accessToken)), 200);
  expect(me).toMatchObject({ id: registered.id, role: 'organizer' });

  const startsAt = new Date(Date.now() + 7 * 86_400_000);
  const created = await client.POST('/api/v1/events', {
    body: {
      name: 'Open-air',
      startsAt: startsAt.toISOString(),
      endsAt: new Date(startsAt.getTime() + 3_600_000).toISOString(),
      priceCents: 0,
      capacity: 3,
    },
    ...bearer(tokens.accessToken),
  });
  const event = conforming(EventJson, created, 201);
  expect(event).toMatchObject({ available: 3, priceCents: 0, currency: 'EUR', organizerId: me.id });

  // Query parameters carry their documented types: `limit` is a number, `minPrice` too.
  const listed = conforming(
    pageOf(EventJson),
    await client.GET('/api/v1/events', { params: { query: { limit: 5, minPrice: 0, q: 'Open-air' } } }),
    200,
  );
  expect(listed.items.map((item) => item.id)).toContain(event.id);

  const hold = await client.POST('/api/v1/events/{id}/bookings', {
    params: { path: { id: event.id }, header: { 'idempotency-key': `journey-${event.id}` } },
    body: { quantity: 2 },
    ...bearer(tokens.accessToken),
  });
  const booking = conforming(BookingJson, hold, 201);
  expect(booking).toMatchObject({ eventId: event.id, quantity: 2, status: 'pending', amountCents: 0 });

  const tooMany = await client.POST('/api/v1/events/{id}/bookings', {
    params: { path: { id: event.id } },
    body: { quantity: 2 },
    ...bearer(tokens.accessToken),
  });
  expect(tooMany.response.status).toBe(409);
  expect(tooMany.error).toMatchObject({ type: 'https://goticket.dev/problems/sold-out', status: 409 });

  const confirmed = await client.POST('/api/v1/bookings/{id}/confirm', {
    params: { path: { id: booking.id } },
    ...bearer(tokens.accessToken),
  });
  expect(conforming(BookingJson, confirmed, 200).status).toBe('confirmed');

  const mine = await client.GET('/api/v1/bookings', {
    params: { query: { limit: 10, status: 'confirmed' } },
    ...bearer(tokens.accessToken),
  });
  expect(conforming(pageOf(BookingJson), mine, 200).items.map((item) => item.id)).toEqual([booking.id]);

  const cancelled = await client.POST('/api/v1/bookings/{id}/cancel', {
    params: { path: { id: booking.id } },
    ...bearer(tokens.accessToken),
  });
  expect(conforming(BookingJson, cancelled, 200).status).toBe('cancelled');

  const after = conforming(EventJson, await client.GET('/api/v1/events/{id}', { params: { path: { id: event.id } } }), 200);
  expect(after.available).toBe(3);
});

test('a paid hold through the generated client: a bare confirm is 402, pay is 202 payment_pending (its replay 200), a free hold has nothing to pay', async () => {
  const organizer = await api.user('organizer');
  const buyer = await api.user();
  const startsAt = new Date(Date.now() + 7 * 86_400_000);
  const body = (priceCents: number) => ({
    name: 'Paid',
    startsAt: startsAt.toISOString(),
    endsAt: new Date(startsAt.getTime() + 3_600_000).toISOString(),
    priceCents,
    capacity: 5,
  });
  const paidEvent = conforming(EventJson, await client.POST('/api/v1/events', { body: body(1500), ...bearer(organizer.token) }), 201);
  const hold = conforming(
    BookingJson,
    await client.POST('/api/v1/events/{id}/bookings', {
      params: { path: { id: paidEvent.id } },
      body: { quantity: 1 },
      ...bearer(buyer.token),
    }),
    201,
  );

  const bare = await client.POST('/api/v1/bookings/{id}/confirm', { params: { path: { id: hold.id } }, ...bearer(buyer.token) });
  expect(bare.response.status).toBe(402);
  expect(bare.error).toMatchObject({ type: 'https://goticket.dev/problems/payment-required', status: 402 });

  const pay = () =>
    client.POST('/api/v1/bookings/{id}/pay', {
      params: { path: { id: hold.id }, header: { 'idempotency-key': `pay-${hold.id}` } },
      body: { paymentMethod: 'pm_card_visa' },
      ...bearer(buyer.token),
    });
  expect(conforming(BookingJson, await pay(), 202)).toMatchObject({ id: hold.id, status: 'payment_pending', amountCents: 1500 });
  expect(conforming(BookingJson, await pay(), 200).status).toBe('payment_pending');

  const freeEvent = conforming(EventJson, await client.POST('/api/v1/events', { body: body(0), ...bearer(organizer.token) }), 201);
  const freeHold = conforming(
    BookingJson,
    await client.POST('/api/v1/events/{id}/bookings', {
      params: { path: { id: freeEvent.id } },
      body: { quantity: 1 },
      ...bearer(buyer.token),
    }),
    201,
  );
  const nothing = await client.POST('/api/v1/bookings/{id}/pay', {
    params: { path: { id: freeHold.id } },
    body: { paymentMethod: 'pm_card_visa' },
    ...bearer(buyer.token),
  });
  expect(nothing.response.status).toBe(409);
  expect(nothing.error).toMatchObject({ type: 'https://goticket.dev/problems/payment-not-required' });
});
