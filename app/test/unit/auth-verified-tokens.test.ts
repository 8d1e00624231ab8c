/**
 * AuthService remembers the tokens it verified until they expire: a signed-in client's next
 * requests skip the signature check, but only for that exact token, never past its `exp`, and
 * never past a revocation (the token version is checked on every request).
 */
import { JwtAccessTokenCodec } from '../../src/adapters/crypto/jwt';
import { UnauthenticatedError } from '../../src/domain/errors';
import type { AuthServiceDeps } from '../../src/services/auth';
import { AuthService } from '../../src/services/auth';

const USER = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';

function setup(ttlMs = 60_000) {
  const codec = new JwtAccessTokenCodec({
    secret: 'a-test-secret-of-at-least-thirty-two-bytes!',
    issuer: 'goticket',
    audience: 'goticket-api',
    ttlMs,
  });
  const verify = jest.spyOn(codec, 'verify');
  let version = 0;
  const users = { findById: async (id: string) => (id === USER ? { id, tokenVersion: version } : null) };
  const auth = new AuthService({ users, accessTokens: codec } as unknown as AuthServiceDeps);
  return { auth, codec, verify, bump: () => version++ };
}

afterEach(() => jest.useRealTimers());

it('verifies a token once; its next uses skip the signature check', async () => {
  const { auth, codec, verify } = setup();
  const { token } = codec.sign({ userId: USER, role: 'user', tokenVersion: 0 });
  expect(await auth.authenticate(token)).toEqual({ userId: USER, role: 'user' });
  expect(await auth.authenticate(token)).toEqual({ userId: USER, role: 'user' });
  expect(await auth.authenticate(token)).toEqual({ userId: USER, role: 'user' });
  expect(verify).toHaveBeenCalledTimes(1);
});

it('spares only that exact string: another token, or the same one tampered with, is verified (and refused)', async () => {
  const { auth, codec, verify } = setup();
  const { token } = codec.sign({ userId: USER, role: 'user', tokenVersion: 0 });
  await auth.authenticate(token);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const admin = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), role: 'admin' })).toString(
    'base64url',
  );
  await expect(auth.authenticate(`${header}.${admin}.${signature}`)).rejects.toThrow(UnauthenticatedError);
  await expect(auth.authenticate(`${token}x`)).rejects.toThrow(UnauthenticatedError);
  expect(verify).toHaveBeenCalledTimes(3);
});

it('never past the token’s expiry', async () => {
  jest.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z'), doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  const { auth, codec, verify } = setup(60_000);
  const { token } = codec.sign({ userId: USER, role: 'user', tokenVersion: 0 });
  await auth.authenticate(token);
  jest.setSystemTime(new Date('2030-01-01T00:00:59Z'));
  await auth.authenticate(token);
  expect(verify).toHaveBeenCalledTimes(1);
  jest.setSystemTime(new Date('2030-01-01T00:01:10Z')); // past exp and the codec's 5 s tolerance
  await expect(auth.authenticate(token)).rejects.toThrow('access token expired');
  await expect(auth.authenticate(token)).rejects.toThrow('access token expired');
  expect(verify).toHaveBeenCalledTimes(3);
});

it('a remembered token is still refused once its version is revoked', async () => {
  const { auth, codec, bump } = setup();
  const { token } = codec.sign({ userId: USER, role: 'user', tokenVersion: 0 });
  await auth.authenticate(token);
  bump();
  await expect(auth.authenticate(token)).rejects.toThrow('access token revoked');
});
