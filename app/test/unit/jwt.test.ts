import { createHmac, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { JwtAccessTokenCodec } from '../../src/adapters/crypto/jwt';
import { UnauthenticatedError } from '../../src/domain/errors';

const SECRET = 'a-test-secret-of-at-least-thirty-two-bytes!';
const codec = new JwtAccessTokenCodec({ secret: SECRET, issuer: 'goticket', audience: 'goticket-api', ttlMs: 60_000 });
const USER = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({
  sub: USER,
  role: 'admin',
  ver: 0,
  iss: 'goticket',
  aud: 'goticket-api',
  iat: now(),
  exp: now() + 60,
  ...extra,
});
const hs256 = (payload: object, secret = SECRET, header: object = { alg: 'HS256', typ: 'JWT' }) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
};

describe('JWT access tokens', () => {
  it('round-trips the claims it signs', () => {
    const { token, expiresIn } = codec.sign({ userId: USER, role: 'organizer', tokenVersion: 3 });
    expect(expiresIn).toBe(60);
    expect(codec.verify(token)).toEqual({ userId: USER, role: 'organizer', tokenVersion: 3 });
  });

  const rejected: Array<[string, string]> = [
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`],
    ['HS256 signed with a guessed key', hs256(claims(), 'secret')],
    ['HS512 with the right key', jwt.sign(claims(), SECRET, { algorithm: 'HS512' })],
    ['RS256 (key confusion)', jwt.sign(claims(), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, { algorithm: 'RS256' })],
    ['expired', hs256(claims({ exp: now() - 60 }))],
    ['not yet valid', hs256(claims({ nbf: now() + 3600 }))],
    ['wrong issuer', hs256(claims({ iss: 'evil' }))],
    ['wrong audience', hs256(claims({ aud: 'other-api' }))],
    ['no expiry', hs256({ ...claims(), exp: undefined })],
    ['unknown role', hs256(claims({ role: 'root' }))],
    ['subject not a uuid', hs256(claims({ sub: "1' OR '1'='1" }))],
    ['garbage', 'not.a.jwt'],
    // RFC 7515 4.1.11: a recipient that does not understand a listed extension must reject the token
    [
      'a crit header naming an unknown extension',
      hs256(claims(), SECRET, { alg: 'HS256', typ: 'JWT', crit: ['exp-policy'], 'exp-policy': 'lenient' }),
    ],
    ['an empty crit header (not allowed either)', hs256(claims(), SECRET, { alg: 'HS256', typ: 'JWT', crit: [] })],
    ['a crit header that is not a list', hs256(claims(), SECRET, { alg: 'HS256', typ: 'JWT', crit: 'b64' })],
  ];

  it.each(rejected)('rejects %s', (_name, token) => {
    expect(() => codec.verify(token)).toThrow(UnauthenticatedError);
  });

  it('rejects a tampered payload', () => {
    const { token } = codec.sign({ userId: USER, role: 'user', tokenVersion: 0 });
    const [header, , signature] = token.split('.');
    expect(() => codec.verify(`${header}.${b64(claims({ role: 'admin' }))}.${signature}`)).toThrow(UnauthenticatedError);
  });
});
