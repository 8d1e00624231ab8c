/**
 * bcrypt reads only the first 72 bytes of a password. Registration refuses longer ones, so no
 * stored password is longer; login must apply the same rule, or a stored 72-byte password plus
 * any suffix signs in.
 */
import { call, startTestApi, type TestApi } from '../support/api';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ RATE_LIMIT_LOGIN_FAILURES: '0', RATE_LIMIT_REGISTER: '0' });
});
afterAll(() => api?.close());

const register = (email: string, password: string) => call(`${api.url}/auth/register`, { body: { email, password } });
const login = (email: string, password: string) =>
  call<{ type?: string; accessToken?: string }>(`${api.url}/auth/login`, { body: { email, password } });

test.each([
  ['ASCII', 'p'.repeat(72)],
  ['multi-byte (24 × "€", 3 bytes each)', '€'.repeat(24)],
])('a %s password of exactly 72 bytes signs in as stored and with nothing appended', async (_kind, password) => {
  const email = `long-${Math.random().toString(36).slice(2)}@example.test`;
  expect(Buffer.byteLength(password)).toBe(72);
  expect((await register(email, password)).status).toBe(201);
  expect((await login(email, password)).status).toBe(200);
  for (const suffix of ['x', 'anything at all', '€']) {
    const attempt = await login(email, password + suffix);
    expect({ suffix, status: attempt.status, type: attempt.body.type }).toEqual({
      suffix,
      status: 401,
      type: expect.stringMatching(/invalid-credentials$/),
    });
  }
  // and it counts as a failed login in the audit trail, like any wrong password
  const { rows } = await api.db.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'auth.login_failed' AND target = $1`, [
    email,
  ]);
  expect(rows[0].n).toBe(3);
});

test('registration refuses a password past 72 bytes with a message saying so', async () => {
  const refused = await call<{ errors: Array<{ path: string; message: string }> }>(`${api.url}/auth/register`, {
    body: { email: 'toolong@example.test', password: 'p'.repeat(73) },
  });
  expect(refused.status).toBe(400);
  expect(refused.body.errors).toEqual([{ path: 'password', message: 'must be at most 72 bytes' }]);
});
