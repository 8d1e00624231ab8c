/**
 * Secrets never reach a log line, whatever shape carries them: each case logs one through the
 * real logger (createLogger, as the service builds it) and reads the line it wrote.
 */
import { createLogger, type Logger } from '../../src/observability/logger';

function capture(): { logger: Logger; output: () => string } {
  const lines: string[] = [];
  const logger = createLogger({ level: 'trace', destination: { write: (line: string) => void lines.push(line) } });
  return { logger, output: () => lines.join('') };
}

const SECRET = 'S3cr3t-value-42';
const DATABASE_URL = `postgres://goticket:${SECRET}@db.internal:5432/goticket`;

type Shape = [name: string, log: (logger: Logger) => void, kept: string[]];

const shapes: Shape[] = [
  // headers and bodies of a request, at the depth a request object puts them
  ['req.body.password', (l) => l.info({ req: { body: { email: 'a@example.test', password: SECRET } } }, 'x'), ['a@example.test']],
  ['req.body.refreshToken', (l) => l.info({ req: { body: { refreshToken: SECRET } } }, 'x'), ['"refreshToken":"[redacted]"']],
  [
    'headers.Authorization (capitalised)',
    (l) => l.info({ headers: { Authorization: `Bearer ${SECRET}`, Accept: 'text/plain' } }, 'x'),
    ['text/plain'],
  ],
  [
    'req.headers["proxy-authorization"]',
    (l) => l.info({ req: { headers: { 'proxy-authorization': `Basic ${SECRET}` } } }, 'x'),
    ['proxy-authorization'],
  ],
  ['req.headers.cookie', (l) => l.info({ req: { headers: { cookie: `sid=${SECRET}` } } }, 'x'), []],
  ['headers.Cookie', (l) => l.info({ headers: { Cookie: `sid=${SECRET}` } }, 'x'), []],
  ['res.headers["set-cookie"] (an array)', (l) => l.info({ res: { headers: { 'set-cookie': [`sid=${SECRET}; HttpOnly`] } } }, 'x'), []],
  ['x-api-key', (l) => l.info({ request: { headers: { 'X-Api-Key': SECRET } } }, 'x'), []],
  // anything nested, under any top-level key
  ['two levels under an unknown key', (l) => l.info({ payload: { user: { password: SECRET } } }, 'x'), []],
  ['three levels', (l) => l.info({ a: { b: { c: { accessToken: SECRET } } } }, 'x'), []],
  ['six levels', (l) => l.info({ a: { b: { c: { d: { e: { jwtSecret: SECRET } } } } } }, 'x'), []],
  ['inside an array', (l) => l.info({ users: [{ name: 'ann' }, { name: 'bob', passwordHash: SECRET }] }, 'x'), ['ann', 'bob']],
  ['top level', (l) => l.info({ password: SECRET, token: SECRET, secret: SECRET }, 'x'), []],
  ['UPPER_CASE keys (an env dump)', (l) => l.info({ env: { JWT_SECRET: SECRET, ADMIN_PASSWORD: SECRET, PORT: '8080' } }, 'x'), ['8080']],
  ['child bindings', (l) => l.child({ headers: { authorization: SECRET } }).info('x'), []],
  ["a grandchild's bindings", (l) => l.child({ component: 'relay' }).child({ auth: SECRET }).info('x'), ['relay']],
  // URLs with passwords, wherever the text is
  [
    'an error whose message holds DATABASE_URL',
    (l) => l.error({ err: new Error(`connect ECONNREFUSED ${DATABASE_URL}`) }, 'startup failed'),
    ['db.internal:5432', 'ECONNREFUSED', 'goticket'],
  ],
  ['an error logged alone (its message becomes msg)', (l) => l.error(new Error(`could not reach ${DATABASE_URL}`)), ['db.internal']],
  [
    'an error object without msg (msg taken from it)',
    (l) => l.error({ err: new Error(`could not reach ${DATABASE_URL}`) }),
    ['db.internal'],
  ],
  [
    'the cause of an error',
    (l) => l.error({ err: new Error('startup failed', { cause: new Error(`no ${DATABASE_URL}`) }) }, 'x'),
    ['startup failed'],
  ],
  ['an aggregate error', (l) => l.error({ err: new AggregateError([new Error(`no ${DATABASE_URL}`)], 'all failed') }, 'x'), ['all failed']],
  [
    'an error with a config object',
    (l) => l.error({ err: Object.assign(new Error('pool'), { config: { connectionString: DATABASE_URL, password: SECRET } }) }, 'x'),
    ['pool'],
  ],
  [
    'an HTTP client error with its request config',
    (l) =>
      l.error({ err: Object.assign(new Error('Request failed'), { config: { headers: { Authorization: `Bearer ${SECRET}` } } }) }, 'x'),
    ['Request failed'],
  ],
  ['an error under another key', (l) => l.warn({ reason: new Error(`lost ${DATABASE_URL}`) }, 'x'), ['lost']],
  ['the message text', (l) => l.warn(`amqp gone: amqp://guest:${SECRET}@mq:5672`), ['mq:5672']],
  ['a format argument', (l) => l.warn('amqp gone: %s', `amqp://guest:${SECRET}@mq:5672`), ['mq:5672']],
  ['a URL object', (l) => l.info({ target: new URL(`redis://:${SECRET}@cache:6379/0`) }, 'x'), ['cache:6379']],
  ['a URL string field', (l) => l.info({ databaseUrl: DATABASE_URL }, 'x'), ['db.internal']],
  ['a password with an @ in it', (l) => l.info({ url: `postgres://u:p@${SECRET}@db/x` }, 'x'), ['db/x']],
  [
    'a token in a query string',
    (l) => l.info({ location: `https://idp.example/cb?code=1&access_token=${SECRET}&state=2` }, 'x'),
    ['state=2'],
  ],
  ['a libpq keyword string', (l) => l.info({ conninfo: `host=db user=app password=${SECRET} dbname=app` }, 'x'), ['dbname=app']],
];

describe('log redaction', () => {
  it.each(shapes)('%s', (_name, log, kept) => {
    const { logger, output } = capture();
    log(logger);
    const text = output();
    expect(text).not.toBe('');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('S3cr3t');
    for (const fragment of kept) expect(text).toContain(fragment);
    for (const line of text.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('leaves the objects it was given as they were', () => {
    const { logger } = capture();
    const headers = { authorization: `Bearer ${SECRET}` };
    const error = Object.assign(new Error(`no ${DATABASE_URL}`), { password: SECRET });
    logger.info({ req: { headers } }, 'x');
    logger.error({ err: error }, 'x');
    expect(headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(error.message).toBe(`no ${DATABASE_URL}`);
    expect(error.password).toBe(SECRET);
  });

  it('keeps what is not secret: the error type and stack, numbers, a URL without a password, the access-log fields', () => {
    const { logger, output } = capture();
    class PoolError extends Error {}
    logger.error({ err: new PoolError('boom'), status: 503, target: 'http://example.test:8080/x', email: 'a@example.test' }, 'failed');
    logger.info({ method: 'GET', route: '/api/v1/events/:id', status: 200, duration_ms: 3, ip: '10.0.0.1' }, 'request');
    const [failed, request] = output()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(failed).toMatchObject({
      msg: 'failed',
      status: 503,
      target: 'http://example.test:8080/x',
      email: 'a@example.test',
      err: { type: 'PoolError', message: 'boom' },
    });
    expect((failed!.err as { stack: string }).stack).toContain('log-redaction.test.ts');
    expect(request).toMatchObject({
      method: 'GET',
      route: '/api/v1/events/:id',
      status: 200,
      duration_ms: 3,
      ip: '10.0.0.1',
      msg: 'request',
    });
  });

  it('writes a line for a circular object, with the secret in it redacted', () => {
    const { logger, output } = capture();
    const node: Record<string, unknown> = { name: 'loop', password: SECRET };
    node.self = node;
    logger.info({ node }, 'x');
    expect(output()).toContain('loop');
    expect(output()).not.toContain(SECRET);
  });
});
