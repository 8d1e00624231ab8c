import * as errors from '../../src/domain/errors';
import { HttpProblem, PROBLEM_TYPE_BASE, toProblem } from '../../src/http/problem';

describe('error → problem+json mapping', () => {
  it.each([
    [new errors.ValidationError('bad', [{ path: 'body.x', message: 'required' }]), 400, 'validation'],
    [new errors.UnauthenticatedError('no token'), 401, 'unauthenticated'],
    [new errors.InvalidCredentialsError(), 401, 'invalid-credentials'],
    [new errors.RefreshTokenReusedError(), 401, 'refresh-token-reused'],
    [new errors.ForbiddenError('no'), 403, 'forbidden'],
    [new errors.NotFoundError('event'), 404, 'not-found'],
    [new errors.EmailTakenError(), 409, 'email-taken'],
    [new errors.SoldOutError(0), 409, 'sold-out'],
    [new errors.EventEndedError(), 409, 'event-ended'],
    [new errors.CapacityBelowTakenError(3), 409, 'capacity-below-taken'],
    [new errors.ActiveBookingsError(), 409, 'active-bookings'],
    [new errors.InvalidTransitionError('cancelled', 'confirmed'), 409, 'invalid-transition'],
    [new errors.HoldExpiredError(), 409, 'hold-expired'],
    [new errors.IdempotencyKeyReusedError(), 422, 'idempotency-key-reused'],
    [new errors.RateLimitedError(30), 429, 'rate-limited'],
    [new errors.LastAdminError(), 403, 'last-admin'],
    [new errors.ServiceUnavailableError('database', 'connection refused'), 503, 'unavailable'],
  ])('%p → %i', (error, status, code) => {
    const problem = toProblem(error);
    expect(problem.status).toBe(status);
    expect(problem.body).toMatchObject({ status, type: `${PROBLEM_TYPE_BASE}${code}`, detail: error.message });
    expect(problem.body.title).toEqual(expect.any(String));
  });

  it('puts field errors on 400s and auth hints on 401s', () => {
    expect(toProblem(new errors.ValidationError('bad', [{ path: 'body.x', message: 'required' }])).body.errors).toEqual([
      { path: 'body.x', message: 'required' },
    ]);
    expect(toProblem(new errors.UnauthenticatedError('x')).headers['WWW-Authenticate']).toBe('Bearer');
    expect(toProblem(new errors.RateLimitedError(30)).headers['Retry-After']).toBe('30');
  });

  it('answers an unavailable backend 503 with Retry-After and nothing about the backend but its role', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 10.0.3.7:5432'), { code: 'ECONNREFUSED' });
    const problem = toProblem(new errors.ServiceUnavailableError('database', 'connection refused', 7, { cause }));
    expect(problem.status).toBe(503);
    expect(problem.headers).toEqual({ 'Retry-After': '7' });
    expect(problem.body).toEqual({
      type: `${PROBLEM_TYPE_BASE}unavailable`,
      title: 'Service unavailable',
      status: 503,
      detail: 'the service cannot reach its database right now; retry in a few seconds',
    });
  });

  it('never leaks the message, stack or SQL of an unexpected error', () => {
    const leak = Object.assign(new Error('duplicate key value violates unique constraint "users_pkey" SELECT * FROM users'), {
      code: '23505',
    });
    const problem = toProblem(leak);
    expect(problem.status).toBe(500);
    const text = JSON.stringify(problem.body);
    expect(text).not.toMatch(/users|SELECT|constraint|at .*\.ts/);
  });

  it.each([
    [
      'URIError from Express (status 400)',
      Object.assign(new URIError("Failed to decode param '%E0%A4%A'"), { status: 400, statusCode: 400 }),
      400,
      'bad-request',
    ],
    [
      'zlib error marked by body-parser (status 400)',
      Object.assign(new Error('incorrect header check'), { errno: -3, code: 'Z_DATA_ERROR', status: 400 }),
      400,
      'bad-request',
    ],
    ['statusCode only', Object.assign(new Error('secret internal text'), { statusCode: 413 }), 413, 'payload-too-large'],
    ['status 404 from a framework', Object.assign(new Error('ENOENT /srv/app/secret/path'), { status: 404 }), 404, 'not-found'],
  ])("%s → its 4xx status, without the framework's message", (_name, error, status, code) => {
    const problem = toProblem(error);
    expect(problem.status).toBe(status);
    expect(problem.body).toMatchObject({
      status,
      type: `${PROBLEM_TYPE_BASE}${code}`,
      title: expect.any(String),
      detail: expect.any(String),
    });
    expect(JSON.stringify(problem.body)).not.toContain(error.message);
  });

  it.each([
    ['a 5xx status', Object.assign(new Error('x'), { status: 503 })],
    ['a status that is not a number', Object.assign(new Error('x'), { status: '400' })],
    ['a status that is not an integer', Object.assign(new Error('x'), { status: 400.5 })],
    ['a status below 400', Object.assign(new Error('x'), { statusCode: 302 })],
    ['a thrown non-error with a status', { status: 400 }],
  ])('%s stays a bare 500', (_name, error) => {
    expect(toProblem(error)).toMatchObject({ status: 500, body: { type: `${PROBLEM_TYPE_BASE}internal` } });
  });

  it('passes HTTP-level problems through with their headers', () => {
    const problem = toProblem(new HttpProblem(405, 'method-not-allowed', 'Method not allowed', 'use GET', { Allow: 'GET' }));
    expect(problem).toMatchObject({ status: 405, headers: { Allow: 'GET' } });
  });
});
