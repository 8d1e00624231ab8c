/** Which domain errors record where they were raised (errors.ts capturesStack). */
import { NotFoundError, RateLimitedError, ServiceUnavailableError, SoldOutError } from '../../src/domain/errors';

const framesOf = (error: Error) => (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at '));

describe('domain error stacks', () => {
  it.each([
    ['sold out', () => new SoldOutError(0)],
    ['rate limited', () => new RateLimitedError(3)],
  ])('a flooding refusal (%s) captures no stack, and keeps its name and message', (_name, make) => {
    const error = make();
    expect(framesOf(error)).toEqual([]);
    expect(error.stack).toBe(`${error.name}: ${error.message}`);
    expect(error.name).toBe(error.constructor.name);
  });

  it.each([
    ['not found', () => new NotFoundError('event')],
    ['a backend outage', () => new ServiceUnavailableError('database', 'connection refused')],
  ])('any other (%s) records where it was raised', (_name, make) => {
    expect(framesOf(make())[0]).toContain('domain-error-stacks.test.ts');
  });

  it('leaves the process-wide stack limit as it found it', () => {
    const limit = Error.stackTraceLimit;
    new SoldOutError(1);
    new NotFoundError('booking');
    expect(Error.stackTraceLimit).toBe(limit);
    expect(framesOf(new Error('plain')).length).toBeGreaterThan(0);
  });
});
