/**
 * Read-through caching of events and list pages against real Redis, invalidated by every change
 * of the event (seats included); access-token revocation through the token-version cache; the
 * admin audit endpoint.
 */
import { cacheLookups } from '../../../src/observability/metrics';
import { call, futureEvent, type TestApi } from '../../support/api';
import { deleteKeys, scanKeys, sleep, startRedisApi } from './helpers';

let api: TestApi & { prefix: string };
let organizer: { id: string; token: string };
let admin: { id: string; token: string };

beforeAll(async () => {
  api = await startRedisApi({
    CACHE_TTL: '1s',
    CACHE_TOKEN_VERSION_TTL: '1s',
    RATE_LIMIT_ANON: '0',
    RATE_LIMIT_READS: '0',
    RATE_LIMIT_WRITES: '0',
  });
  [organizer, admin] = [await api.user('organizer'), await api.user('admin')];
});

afterAll(async () => {
  await api?.close();
  if (api) await deleteKeys(api.prefix);
});

async function lookups(cache: string, result: string): Promise<number> {
  const { values } = await cacheLookups.get();
  return values.find((v) => v.labels.cache === cache && v.labels.result === result)?.value ?? 0;
}

/** Runs `fn` and reports how many hits and misses of `cache` it caused. */
async function counting(cache: string, fn: () => Promise<unknown>): Promise<{ hit: number; miss: number }> {
  const [hit, miss] = [await lookups(cache, 'hit'), await lookups(cache, 'miss')];
  await fn();
  return { hit: (await lookups(cache, 'hit')) - hit, miss: (await lookups(cache, 'miss')) - miss };
}

const getEvent = (id: string) => call<{ available: number; name: string; startsAt: string }>(`${api.url}/events/${id}`);

async function newEvent(overrides: Record<string, unknown> = {}): Promise<string> {
  const created = await call<{ id: string }>(`${api.url}/events`, {
    token: organizer.token,
    body: futureEvent({ capacity: 10, ...overrides }),
  });
  expect(created.status).toBe(201);
  return created.body.id;
}

describe('events', () => {
  it('serves GET /events/:id from the cache after the first read, with the same JSON', async () => {
    const id = await newEvent({ name: 'Cached | 🎫' });
    let first!: Awaited<ReturnType<typeof getEvent>>;
    expect(await counting('event', async () => (first = await getEvent(id)))).toEqual({ hit: 0, miss: 1 });
    let second!: Awaited<ReturnType<typeof getEvent>>;
    expect(await counting('event', async () => (second = await getEvent(id)))).toEqual({ hit: 1, miss: 0 });
    expect(second.body).toEqual(first.body);
    expect(await scanKeys(api.prefix, `cache:val:event:${id}:json`)).toHaveLength(1);
  });

  it('every seat change invalidates: booking, cancel; the next read shows it', async () => {
    const id = await newEvent();
    await getEvent(id);
    const buyer = await api.user();
    const booking = await call<{ id: string }>(`${api.url}/events/${id}/bookings`, { token: buyer.token, body: { quantity: 3 } });
    expect(booking.status).toBe(201);
    expect((await getEvent(id)).body.available).toBe(7);
    expect((await getEvent(id)).body.available).toBe(7); // cached again
    expect((await call(`${api.url}/bookings/${booking.body.id}/cancel`, { token: buyer.token, method: 'POST' })).status).toBe(200);
    expect((await getEvent(id)).body.available).toBe(10);
  });

  it('edits and deletes invalidate the event and every list page', async () => {
    const id = await newEvent({ name: 'Before the edit' });
    // a canonical page (first, unfiltered, a cached limit): the only kind of list page cached
    const list = async () => {
      const page = await call<{ items: Array<{ id: string; name: string }> }>(`${api.url}/events?limit=100`);
      return page.body.items.filter((e) => e.id === id);
    };
    await getEvent(id);
    expect((await list()).map((e) => e.name)).toEqual(['Before the edit']);
    expect(await counting('event_list', () => list())).toEqual({ hit: 1, miss: 0 });

    const patched = await call(`${api.url}/events/${id}`, { method: 'PATCH', token: organizer.token, body: { name: 'After the edit' } });
    expect(patched.status).toBe(200);
    expect((await getEvent(id)).body.name).toBe('After the edit');
    expect((await list()).map((e) => e.name)).toEqual(['After the edit']);

    expect((await call(`${api.url}/events/${id}`, { method: 'DELETE', token: organizer.token })).status).toBe(204);
    expect((await getEvent(id)).status).toBe(404);
    expect(await list()).toEqual([]);
  });

  it('a new event appears in cached list pages at once', async () => {
    const tag = `fresh${Date.now()}`;
    const list = async () =>
      (await call<{ items: Array<{ name: string }> }>(`${api.url}/events?limit=100`)).body.items.filter((e) => e.name.includes(tag));
    expect(await list()).toHaveLength(0);
    expect(await counting('event_list', () => list())).toEqual({ hit: 1, miss: 0 });
    await newEvent({ name: `Event ${tag}` });
    expect(await list()).toHaveLength(1);
  });

  it('stores only canonical list pages: cursors, filters, searches and other limits read PostgreSQL and leave nothing in Redis (issue 17, point 5)', async () => {
    const listKeys = async () => (await scanKeys(api.prefix, 'cache:val:events:list:*')).length;
    await call(`${api.url}/events`);
    const canonical = await listKeys();
    expect(canonical).toBeGreaterThan(0);
    const queries = [
      ...Array.from({ length: 20 }, (_, i) => `q=probe${i}`),
      ...Array.from({ length: 10 }, (_, i) => `limit=${i + 31}`),
      'minPrice=1',
      'maxPrice=99999',
      `from=${encodeURIComponent(new Date(Date.now() + 86_400_000).toISOString())}`,
    ];
    for (const query of queries) expect((await call(`${api.url}/events?${query}`)).status).toBe(200);
    expect(await counting('event_list', async () => void (await call(`${api.url}/events?q=probe0`)))).toEqual({ hit: 0, miss: 0 });
    expect(await listKeys()).toBe(canonical);
  });

  it('unknown ids are not cached', async () => {
    const unknown = '00000000-0000-4000-8000-00000000abcd';
    expect((await getEvent(unknown)).status).toBe(404);
    expect(await scanKeys(api.prefix, `cache:val:event:${unknown}:*`)).toEqual([]);
  });

  it('a change the API does not see (the expiry sweeper) is visible within CACHE_TTL (1 s here)', async () => {
    const id = await newEvent();
    expect((await getEvent(id)).body.available).toBe(10);
    // what the sweeper in the worker process does when a hold lapses: nothing tells the API
    await api.db.pool.query(`UPDATE events SET available = 9, capacity = 10 WHERE id = $1`, [id]);
    expect((await getEvent(id)).body.available).toBe(10);
    await sleep(1_100);
    expect((await getEvent(id)).body.available).toBe(9);
  });
});

describe('access-token revocation', () => {
  const me = (token: string) => call(`${api.url}/users/me`, { token });

  it('a role change ends the tokens minted before it at once, even with the old version cached', async () => {
    const user = await api.user('organizer');
    expect((await me(user.token)).status).toBe(200);
    expect(await counting('token_version', () => me(user.token))).toEqual({ hit: 1, miss: 0 });
    const demoted = await call(`${api.url}/users/${user.id}/role`, { method: 'PATCH', token: admin.token, body: { role: 'user' } });
    expect(demoted.status).toBe(200);
    const refused = await me(user.token);
    expect(refused.status).toBe(401);
    expect(refused.body.detail).toMatch(/revoked/);
    // the demoted organizer can no longer create events with the old token
    expect((await call(`${api.url}/events`, { token: user.token, body: futureEvent() })).status).toBe(401);
    const fresh = api.api.accessTokens.sign({ userId: user.id, role: 'user', tokenVersion: 1 }).token;
    expect((await me(fresh)).status).toBe(200);
  });

  it('logout everywhere ends every access and refresh token of the user', async () => {
    const email = `everywhere-${Date.now()}@example.test`;
    await api.api.services.auth.register(email, 'a-long-password-1');
    const login = async () =>
      (
        await call<{ accessToken: string; refreshToken: string }>(`${api.url}/auth/login`, {
          body: { email, password: 'a-long-password-1' },
        })
      ).body;
    const [laptop, phone] = [await login(), await login()];
    expect((await me(phone.accessToken)).status).toBe(200);
    expect((await call(`${api.url}/auth/logout-all`, { method: 'POST', token: laptop.accessToken })).status).toBe(204);
    expect((await me(phone.accessToken)).status).toBe(401);
    expect((await me(laptop.accessToken)).status).toBe(401);
    for (const { refreshToken } of [laptop, phone])
      expect((await call(`${api.url}/auth/refresh`, { body: { refreshToken } })).status).toBe(401);
    // a new login works
    expect((await me((await login()).accessToken)).status).toBe(200);
  });

  it('a deleted user’s token is refused at once when its version was not cached, within CACHE_TOKEN_VERSION_TTL when it was', async () => {
    const cold = await api.user();
    const warm = await api.user();
    expect((await me(warm.token)).status).toBe(200);
    await api.db.pool.query(`DELETE FROM users WHERE id = ANY($1)`, [[cold.id, warm.id]]);
    expect((await me(cold.token)).status).toBe(401);
    await sleep(1_100);
    expect((await me(warm.token)).status).toBe(401);
  });
});

describe('GET /audit', () => {
  it('lists audit rows newest first for admins, paginated and filtered; others get 403', async () => {
    const user = await api.user();
    const id = await newEvent();
    await call(`${api.url}/events/${id}`, { method: 'PATCH', token: organizer.token, body: { venue: 'Hall' } });
    await call(`${api.url}/events/${id}`, { method: 'DELETE', token: admin.token, headers: { 'X-Request-Id': 'audit-me-1' } });
    await call(`${api.url}/users/${user.id}/role`, { method: 'PATCH', token: admin.token, body: { role: 'organizer' } });

    expect((await call(`${api.url}/audit`, { token: organizer.token })).status).toBe(403);
    expect((await call(`${api.url}/audit`)).status).toBe(401);

    type AuditPage = {
      items: Array<{ id: string; action: string; actorId: string; target: string; requestId: string; ip: string; details: unknown }>;
      nextCursor: string | null;
    };
    const first = await call<AuditPage>(`${api.url}/audit?limit=2`, { token: admin.token });
    expect(first.status).toBe(200);
    expect(first.body.items.map((i) => i.action)).toEqual(['user.role_changed', 'event.deleted']);
    expect(first.body.items[1]).toMatchObject({
      actorId: admin.id,
      target: id,
      requestId: 'audit-me-1',
      ip: expect.stringMatching(/127\.0\.0\.1/),
    });
    const second = await call<AuditPage>(`${api.url}/audit?limit=2&cursor=${first.body.nextCursor}`, { token: admin.token });
    expect(second.body.items[0]).toMatchObject({
      action: 'event.updated',
      actorId: organizer.id,
      details: { fields: ['venue'], byAdmin: false },
    });
    expect(Number(second.body.items[0]!.id)).toBeLessThan(Number(first.body.items[1]!.id));

    const deletes = await call<AuditPage>(`${api.url}/audit?action=event.deleted&actorId=${admin.id}`, { token: admin.token });
    expect(deletes.body.items.map((i) => i.target)).toContain(id);
    expect(deletes.body.items.every((i) => i.action === 'event.deleted')).toBe(true);
    for (const bad of ['cursor=abc', 'limit=0', 'action=DROP%20TABLE', 'actorId=1']) {
      expect((await call(`${api.url}/audit?${bad}`, { token: admin.token })).status).toBe(400);
    }
  });

  it('never stores passwords or tokens', async () => {
    const email = `audited-${Date.now()}@example.test`;
    await api.api.services.auth.register(email, 'secret-password-42');
    await call(`${api.url}/auth/login`, { body: { email, password: 'wrong-password-42' } });
    const tokens = (
      await call<{ refreshToken: string; accessToken: string }>(`${api.url}/auth/login`, {
        body: { email, password: 'secret-password-42' },
      })
    ).body;
    await call(`${api.url}/auth/logout`, { body: { refreshToken: tokens.refreshToken } });
    const { rows } = await api.db.pool.query<{ dump: string }>(`SELECT string_agg(a::text, '\n') AS dump FROM audit_log a`);
    expect(rows[0]!.dump).toContain('auth.login_failed');
    expect(rows[0]!.dump).toContain('auth.logout');
    for (const secret of ['secret-password-42', 'wrong-password-42', tokens.refreshToken, tokens.accessToken])
      expect(rows[0]!.dump).not.toContain(secret);
  });
});
