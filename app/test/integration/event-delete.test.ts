/**
 * DELETE /events/:id over HTTP against the real PostgreSQL: who may delete, the 409 while
 * bookings are active, and what a deleted event looks like afterwards.
 */
import { call, futureEvent, startTestApi, type TestApi } from '../support/api';

let api: TestApi;
let owner: { id: string; token: string };

beforeAll(async () => {
  api = await startTestApi();
  owner = await api.user('organizer');
});
afterAll(() => api?.close());

const newEvent = async (token = owner.token, priceCents = 2500) =>
  (await call<{ id: string }>(`${api.url}/events`, { token, body: futureEvent({ capacity: 10, priceCents }) })).body.id;
const remove = (id: string, token?: string) => call(`${api.url}/events/${id}`, { method: 'DELETE', token });
const book = async (eventId: string, token: string) =>
  call<{ id: string }>(`${api.url}/events/${eventId}/bookings`, { token, body: { quantity: 1 } });

test('who may delete: the owner and admins; other organizers and users 403, anonymous 401, malformed 400, unknown 404', async () => {
  const [other, user, admin] = [await api.user('organizer'), await api.user(), await api.user('admin')];
  const id = await newEvent();
  expect((await remove(id, other.token)).status).toBe(403);
  expect((await remove(id, user.token)).status).toBe(403);
  expect((await remove(id)).status).toBe(401);
  expect((await remove('not-a-uuid', admin.token)).status).toBe(400);
  expect((await remove('00000000-0000-4000-8000-000000000000', admin.token)).status).toBe(404);
  expect((await call(`${api.url}/events/${id}`)).status).toBe(200);
  expect((await remove(id, admin.token)).status).toBe(204);
  expect((await remove(await newEvent(), owner.token)).status).toBe(204);
});

test('refused with 409 while a hold or a confirmed booking is active (owner and admin alike); allowed once they are cancelled', async () => {
  const [buyer, admin] = [await api.user(), await api.user('admin')];
  // a free event: its hold is confirmed by a bare confirm (a paid one goes through the payments saga)
  const id = await newEvent(owner.token, 0);
  const hold = (await book(id, buyer.token)).body.id;
  const confirmed = (await book(id, buyer.token)).body.id;
  expect((await call(`${api.url}/bookings/${confirmed}/confirm`, { method: 'POST', token: buyer.token })).status).toBe(200);
  for (const token of [owner.token, admin.token]) {
    const refused = await remove(id, token);
    expect(refused.status).toBe(409);
    expect(refused.body.type).toMatch(/\/active-bookings$/);
  }
  expect((await call(`${api.url}/events/${id}`)).body).toMatchObject({ capacity: 10, available: 8 });
  await call(`${api.url}/bookings/${hold}/cancel`, { method: 'POST', token: buyer.token });
  expect((await remove(id, owner.token)).status).toBe(409);
  await call(`${api.url}/bookings/${confirmed}/cancel`, { method: 'POST', token: admin.token });
  expect((await remove(id, owner.token)).status).toBe(204);
});

test('a deleted event is gone: 404 to read, edit, book or delete again; not listed; its outbox has event.deleted', async () => {
  const buyer = await api.user();
  const id = await newEvent();
  expect((await remove(id, owner.token)).status).toBe(204);
  expect((await call(`${api.url}/events/${id}`)).status).toBe(404);
  expect((await call(`${api.url}/events/${id}`, { method: 'PATCH', token: owner.token, body: { name: 'back' } })).status).toBe(404);
  expect((await book(id, buyer.token)).status).toBe(404);
  expect((await remove(id, owner.token)).status).toBe(404);
  const listed = await call<{ items: Array<{ id: string }> }>(`${api.url}/events?limit=100`);
  expect(listed.body.items.map((e) => e.id)).not.toContain(id);
  const { rows } = await api.db.pool.query<{ type: string }>(`SELECT type FROM outbox WHERE aggregate_id = $1 ORDER BY seq`, [id]);
  expect(rows.map((r) => r.type)).toEqual(['event.created', 'event.deleted']);
});
