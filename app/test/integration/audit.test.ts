/**
 * The audit trail over HTTP against the real PostgreSQL: every action the security issue lists
 * (logins that succeed and fail, refresh-token reuse, logouts, role changes, event deletes and the
 * other admin actions) writes one row with actor, action, target, client IP and request id, and
 * GET /audit pages through all of them.
 */
import { call, futureEvent, startTestApi, type TestApi } from '../support/api';

let api: TestApi;

beforeAll(async () => {
  // TRUST_PROXY unset (false): X-Forwarded-For from the client is not believed
  api = await startTestApi();
});
afterAll(() => api?.close());

interface AuditRow {
  action: string;
  actor_id: string | null;
  target: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

const rowsOf = async (requestId: string) =>
  (await api.db.pool.query<AuditRow>(`SELECT action, actor_id, target, ip, details FROM audit_log WHERE request_id = $1`, [requestId]))
    .rows;

type Tokens = { accessToken: string; refreshToken: string };

test('every listed action writes one row with actor, target, client IP and request id; GET /audit pages through them all', async () => {
  const email = 'audited@example.test';
  const password = 'audited-password-1';
  const user = await api.api.services.auth.register(email, password);
  const admin = await api.user('admin');
  const organizer = await api.user('organizer');
  const as = (requestId: string, extra: Record<string, string> = {}) => ({
    'X-Request-Id': requestId,
    'X-Forwarded-For': '203.0.113.66',
    ...extra,
  });
  const login = async (requestId: string) =>
    (await call<Tokens>(`${api.url}/auth/login`, { body: { email, password }, headers: as(requestId) })).body;

  expect(
    (await call(`${api.url}/auth/login`, { body: { email, password: 'wrong-password-99' }, headers: as('a-login-failed') })).status,
  ).toBe(401);
  const first = await login('a-login');
  expect((await call(`${api.url}/auth/refresh`, { body: { refreshToken: first.refreshToken }, headers: as('a-refresh') })).status).toBe(
    200,
  );
  expect((await call(`${api.url}/auth/refresh`, { body: { refreshToken: first.refreshToken }, headers: as('a-reuse') })).status).toBe(401);
  const second = await login('a-login-2');
  expect((await call(`${api.url}/auth/logout`, { body: { refreshToken: second.refreshToken }, headers: as('a-logout') })).status).toBe(204);
  const afterLogout = await call<{ type: string }>(`${api.url}/auth/refresh`, {
    body: { refreshToken: second.refreshToken },
    headers: as('a-after-logout'),
  });
  expect([afterLogout.status, afterLogout.body.type]).toEqual([401, expect.stringMatching(/unauthenticated$/)]);
  const third = await login('a-login-3');
  expect((await call(`${api.url}/auth/logout-all`, { method: 'POST', token: third.accessToken, headers: as('a-logout-all') })).status).toBe(
    204,
  );

  const event = (await call<{ id: string }>(`${api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 10 }) })).body.id;
  const buyer = await api.user();
  const booking = (await call<{ id: string }>(`${api.url}/events/${event}/bookings`, { token: buyer.token, body: { quantity: 2 } })).body
    .id;
  expect(
    (await call(`${api.url}/bookings/${booking}/cancel`, { method: 'POST', token: admin.token, headers: as('a-admin-cancel') })).status,
  ).toBe(200);
  expect(
    (
      await call(`${api.url}/events/${event}`, {
        method: 'PATCH',
        token: admin.token,
        body: { venue: 'Main hall' },
        headers: as('a-admin-edit'),
      })
    ).status,
  ).toBe(200);
  expect((await call(`${api.url}/events/${event}`, { method: 'DELETE', token: admin.token, headers: as('a-delete') })).status).toBe(204);
  expect(
    (
      await call(`${api.url}/users/${user.id}/role`, {
        method: 'PATCH',
        token: admin.token,
        body: { role: 'organizer' },
        headers: as('a-role'),
      })
    ).status,
  ).toBe(200);

  const expected: Array<[string, Partial<AuditRow>]> = [
    ['a-login-failed', { action: 'auth.login_failed', actor_id: user.id, target: email }],
    ['a-login', { action: 'auth.login', actor_id: user.id, target: user.id }],
    ['a-reuse', { action: 'auth.refresh_reused', actor_id: user.id }],
    ['a-logout', { action: 'auth.logout', actor_id: user.id, target: user.id }],
    ['a-logout-all', { action: 'auth.logout_all', actor_id: user.id, target: user.id }],
    ['a-admin-cancel', { action: 'booking.cancelled_by_admin', actor_id: admin.id, target: booking, details: { owner: buyer.id } }],
    ['a-admin-edit', { action: 'event.updated', actor_id: admin.id, target: event, details: { fields: ['venue'], byAdmin: true } }],
    ['a-delete', { action: 'event.deleted', actor_id: admin.id, target: event }],
    ['a-role', { action: 'user.role_changed', actor_id: admin.id, target: user.id, details: { from: 'user', to: 'organizer' } }],
  ];
  for (const [requestId, row] of expected) {
    const rows = await rowsOf(requestId);
    expect({ requestId, rows }).toEqual({ requestId, rows: [expect.objectContaining(row)] });
    // the socket's address: X-Forwarded-For is not believed without TRUST_PROXY
    expect(rows[0]!.ip).toMatch(/127\.0\.0\.1/);
  }
  // a plain rotation is not an audit event; the reuse names the family it revoked
  expect(await rowsOf('a-refresh')).toEqual([]);
  // a signed-out token presented again is refused, but it is no theft signal: nothing audited
  expect(await rowsOf('a-after-logout')).toEqual([]);
  expect((await rowsOf('a-reuse'))[0]!.target).toMatch(/^[0-9a-f-]{36}$/);

  // GET /audit: newest first, every row exactly once across pages
  const seen: Array<{ id: string; requestId: string | null }> = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: { items: Array<{ id: string; requestId: string | null }>; nextCursor: string | null } } =
      await call(`${api.url}/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token: admin.token });
    expect(page.status).toBe(200);
    seen.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  const { rows: all } = await api.db.pool.query<{ id: string }>(`SELECT id::text AS id FROM audit_log ORDER BY audit_log.id DESC`);
  expect(seen.map((r) => r.id)).toEqual(all.map((r) => r.id));
  for (const [requestId] of expected) expect(seen.filter((r) => r.requestId === requestId)).toHaveLength(1);
});

test('a forged cursor is a 400, whatever number it carries (bigint overflow included), never a 500', async () => {
  const admin = await api.user('admin');
  const cursorOf = (text: string) => Buffer.from(text).toString('base64url');
  for (const forged of ['a:9999999999999999999', 'a:9223372036854775808', 'a:00000000000000000000', 'a:', 'b:1', 'a:-1']) {
    const page = await call<{ type: string; errors?: Array<{ path: string }> }>(`${api.url}/audit?cursor=${cursorOf(forged)}`, {
      token: admin.token,
    });
    expect({ forged, status: page.status, type: page.body.type }).toEqual({
      forged,
      status: 400,
      type: expect.stringMatching(/validation$/),
    });
  }
  // the largest id bigint holds is still a cursor: it pages from the newest row down
  const largest = await call<{ items: unknown[] }>(`${api.url}/audit?limit=1&cursor=${cursorOf('a:9223372036854775807')}`, {
    token: admin.token,
  });
  expect(largest.status).toBe(200);
  expect(largest.body.items).toHaveLength(1);
});
