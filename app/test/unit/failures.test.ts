/**
 * How a failure is classified and logged: database errors that mean "cannot serve now" become the
 * domain's ServiceUnavailableError (503), everything else stays what it is; an incident is one
 * line when it opens and one with its count when it ends, however many failures it had.
 */
import { Writable } from 'node:stream';
import { asUnavailable, unavailableReason } from '../../src/adapters/postgres/errors';
import { ServiceUnavailableError } from '../../src/domain/errors';
import { FailureReporter } from '../../src/observability/failures';
import { IncidentLog } from '../../src/observability/incidents';
import { createLogger } from '../../src/observability/logger';
import { failures } from '../../src/observability/metrics';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code, severity: 'FATAL' });

describe('unavailableReason: what a database error means', () => {
  it.each([
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: 'ECONNREFUSED' }), 'connection refused'],
    ['a reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'connection lost'],
    ['a reset from another realm (a plain object)', { code: 'ECONNRESET', errno: -104, syscall: 'read' }, 'connection lost'],
    ['an unresolvable host', Object.assign(new Error('getaddrinfo ENOTFOUND db'), { code: 'ENOTFOUND' }), 'connection lost'],
    ['admin shutdown (57P01)', pgError('57P01', 'terminating connection due to administrator command'), 'server shutting down or starting'],
    ['starting up (57P03)', pgError('57P03', 'the database system is starting up'), 'server shutting down or starting'],
    ['too many clients (53300)', pgError('53300', 'sorry, too many clients already'), 'too many connections'],
    [
      'read-only during failover (25006)',
      pgError('25006', 'cannot execute INSERT in a read-only transaction'),
      'server is read-only (failover)',
    ],
    ['a protocol-level connection failure (08006)', pgError('08006'), 'connection failure'],
    ['statement_timeout (57014)', pgError('57014', 'canceling statement due to statement timeout'), 'statement timeout'],
    ['the socket ending', new Error('Connection terminated unexpectedly'), 'connection lost'],
    ['the client-side query deadline', new Error('Query read timeout'), 'query timeout'],
    ['no free client in time', new Error('timeout exceeded when trying to connect'), 'connect timeout'],
    ['a pool that is shutting down', new Error('Cannot use a pool after calling end on the pool'), 'shutting down'],
    [
      'every address of the host refused',
      new AggregateError([Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })]),
      'connection refused',
    ],
  ])('%s', (_name, error, reason) => {
    expect(unavailableReason(error)).toBe(reason);
    const translated = asUnavailable(error) as ServiceUnavailableError;
    expect(translated).toBeInstanceOf(ServiceUnavailableError);
    expect({ code: translated.code, reason: translated.reason, cause: translated.cause }).toEqual({
      code: 'unavailable',
      reason,
      cause: error,
    });
  });

  it.each([
    ['a unique violation', pgError('23505', 'duplicate key value violates unique constraint')],
    ['a check violation', pgError('23514')],
    ['a syntax error (a bug)', pgError('42601', 'syntax error at or near "SELEC"')],
    ['a deadlock (a bug to look at)', pgError('40P01')],
    ['a plain error', new Error('undefined is not a function')],
    ['a string', 'ECONNRESET'],
  ])('%s is not an outage and passes through untouched', (_name, error) => {
    expect(unavailableReason(error)).toBeNull();
    expect(asUnavailable(error)).toBe(error);
  });
});

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

describe('IncidentLog', () => {
  it('writes one line when an incident opens and one with the count when it is over, not one per failure', async () => {
    const { lines, logger } = capture();
    const opened: string[] = [];
    const incidents = new IncidentLog(logger, { quietMs: 80, reportEveryMs: 10_000, onOpen: (key) => opened.push(key) });
    for (let i = 0; i < 2_839; i++) incidents.record('database unavailable', { reason: 'connection lost' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', incident: 'database unavailable', reason: 'connection lost' });
    expect(opened).toEqual(['database unavailable']);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: 'info', incident: 'database unavailable', failures: 2_839 });
    expect(incidents.active.size).toBe(0);
    // a later failure is a new incident
    incidents.record('database unavailable');
    expect(lines).toHaveLength(3);
    expect(opened).toHaveLength(2);
    incidents.flush();
  });

  it('says how many so far while a long incident lasts', async () => {
    const { lines, logger } = capture();
    const incidents = new IncidentLog(logger, { quietMs: 1_000, reportEveryMs: 60 });
    incidents.record('requests timing out');
    for (let i = 0; i < 6; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      incidents.record('requests timing out');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    incidents.flush();
    const counts = lines.filter((line) => line.msg === 'requests timing out: still failing').map((line) => line.failures as number);
    expect(counts.length).toBeGreaterThanOrEqual(1);
    expect(lines[lines.length - 1]).toMatchObject({ level: 'info', failures: 7 });
  });
});

describe('FailureReporter', () => {
  const count = async (kind: string) =>
    (await failures.get()).values.find((v) => v.labels.kind === kind && v.labels.source === 'worker')?.value ?? 0;

  it('files an unavailable backend as an incident and a bug as an error line with its stack, counted apart', async () => {
    const { lines, logger } = capture();
    const reporter = new FailureReporter(logger, { quietMs: 10_000 });
    const [unavailable, internal] = [await count('unavailable'), await count('internal')];
    for (let i = 0; i < 50; i++)
      reporter.report(new ServiceUnavailableError('database', 'connection lost'), { source: 'worker', component: 'outbox-relay' });
    reporter.report(new TypeError("Cannot read properties of undefined (reading 'id')"), { source: 'worker', component: 'notifier' });
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      ['warn', 'database unavailable: failing requests are counted, not logged one by one, until it is over'],
      ['error', 'notifier failed'],
    ]);
    expect((lines[1]!.err as { stack: string }).stack).toContain('TypeError');
    expect(await count('unavailable')).toBe(unavailable + 50);
    expect(await count('internal')).toBe(internal + 1);
    reporter.incidents.flush();
  });
});
