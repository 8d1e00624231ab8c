/**
 * Roles over HTTP against the real PostgreSQL: the system never loses its last admin (a clumsy
 * self-demotion, or admins demoting each other at once), a no-op role change ends no session,
 * and the ADMIN_EMAIL bootstrap never touches an account it did not create.
 */
import { call, startTestApi, type TestApi } from '../support/api';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api?.close());
// every test counts admins from zero
beforeEach(() => api.db.pool.query(`UPDATE users SET role = 'user' WHERE role = 'admin'`));

const admins = async () => (await api.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE role = 'admin'`)).rows[0]!.n;
const setRole = (token: string, userId: string, role: string) =>
  call(`${api.url}/users/${userId}/role`, { method: 'PATCH', token, body: { role } });

test('the only admin cannot demote themself: 403 last-admin, nothing changes, their token keeps working', async () => {
  const admin = await api.user('admin');
  const refused = await setRole(admin.token, admin.id, 'user');
  expect(refused.status).toBe(403);
  expect(refused.headers.get('content-type')).toContain('application/problem+json');
  expect(refused.body.type).toMatch(/\/last-admin$/);
  expect(await admins()).toBe(1);
  const { rows } = await api.db.pool.query(`SELECT role, token_version FROM users WHERE id = $1`, [admin.id]);
  expect(rows).toEqual([{ role: 'admin', token_version: 0 }]);
  expect((await call(`${api.url}/users/me`, { token: admin.token })).status).toBe(200);
});

test('admins demoting themselves all at once: all but one succeed, one admin is always left', async () => {
  const group = await Promise.all(Array.from({ length: 8 }, () => api.user('admin')));
  const answers = await Promise.all(group.map((admin) => setRole(admin.token, admin.id, 'organizer')));
  expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 403]);
  expect(await admins()).toBe(1);
});

test('with another admin left, an admin may step down; the demoted tokens stop working at once', async () => {
  const [first, second] = [await api.user('admin'), await api.user('admin')];
  expect((await setRole(first.token, first.id, 'user')).status).toBe(200);
  expect((await call(`${api.url}/audit`, { token: first.token })).status).toBe(401);
  expect((await setRole(second.token, second.id, 'user')).status).toBe(403);
  expect(await admins()).toBe(1);
});

test('setting the role a user already has changes nothing and ends none of their sessions', async () => {
  const admin = await api.user('admin');
  const organizer = await api.user('organizer');
  const same = await setRole(admin.token, organizer.id, 'organizer');
  expect(same.status).toBe(200);
  expect((await call(`${api.url}/users/me`, { token: organizer.token })).status).toBe(200);
  expect((await setRole(admin.token, admin.id, 'admin')).status).toBe(200);
  expect((await call(`${api.url}/users/me`, { token: admin.token })).status).toBe(200);
  // a real change still ends the old token at once
  expect((await setRole(admin.token, organizer.id, 'user')).status).toBe(200);
  expect((await call(`${api.url}/users/me`, { token: organizer.token })).status).toBe(401);
});

describe('ADMIN_EMAIL bootstrap', () => {
  const auth = () => api.api.services.auth;

  it('creates the admin once, with an audit row; replicas starting together create it once', async () => {
    const outcomes = await Promise.all([0, 1, 2].map(() => auth().bootstrapAdmin('Root@Example.test', 'root-password-1234')));
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'exists')).toHaveLength(2);
    expect(await auth().bootstrapAdmin('root@example.test', 'another-password-99')).toBe('exists');
    const { rows } = await api.db.pool.query(`SELECT u.role, a.actor_id, a.target = u.id::text AS targets_it FROM users u
      JOIN audit_log a ON a.action = 'user.admin_bootstrapped' WHERE u.email = 'root@example.test'`);
    expect(rows).toEqual([{ role: 'admin', actor_id: null, targets_it: true }]);
    // the first password stays: a later ADMIN_PASSWORD does not overwrite it
    const login = await call(`${api.url}/auth/login`, { body: { email: 'root@example.test', password: 'root-password-1234' } });
    expect(login.status).toBe(200);
  });

  it('never promotes an account that someone registered with the address first', async () => {
    await auth().register('boss@example.test', 'squatter-password-1');
    expect(await auth().bootstrapAdmin('boss@example.test', 'real-admin-password-1')).toBe('not_admin');
    const { rows } = await api.db.pool.query(`SELECT role FROM users WHERE email = 'boss@example.test'`);
    expect(rows).toEqual([{ role: 'user' }]);
  });
});
