/**
 * Child process of tls-verification.test.ts: connects the service's own Redis and RabbitMQ
 * adapters to each URL given (argv[2], a JSON array) and prints one JSON line of outcomes.
 * A child, so that the test CA can be made "public" the only way Node 20 allows: NODE_EXTRA_CA_CERTS
 * read at startup (ElastiCache and Amazon MQ are verified against Node's CA store, never a CA
 * given per connection).
 */
import { AmqpConnection } from '../../src/adapters/rabbitmq/connection';
import { topologyNames } from '../../src/adapters/rabbitmq/topology';
import { RedisConnection } from '../../src/adapters/redis/connection';
import { createLogger } from '../../src/observability/logger';

type Target = { kind: 'redis' | 'amqp'; url: string };
type Outcome = { url: string; ok: boolean; error?: string };

const errorOf = (error: unknown): string => {
  const e = error as { code?: string; message?: string };
  return `${e.code ?? ''} ${e.message ?? String(error)}`.trim();
};

async function redis(url: string): Promise<Outcome> {
  const connection = new RedisConnection({
    url,
    keyPrefix: 'tls-test:',
    commandTimeoutMs: 2_000,
    connectTimeoutMs: 2_000,
    breakerThreshold: 100,
    breakerHalfOpenMs: 1_000,
    logger: createLogger({ level: 'silent' }),
  });
  const outcome = await new Promise<Outcome>((resolve) => {
    connection.client.once('ready', () => {
      connection.client.ping().then(
        (pong) => resolve({ url, ok: pong === 'PONG' }),
        (error: unknown) => resolve({ url, ok: false, error: errorOf(error) }),
      );
    });
    connection.client.once('error', (error: Error) => resolve({ url, ok: false, error: errorOf(error) }));
  });
  await connection.close();
  return outcome;
}

async function amqp(url: string): Promise<Outcome> {
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (line: string) => lines.push(line) } });
  const connection = new AmqpConnection({
    url,
    names: topologyNames(`tls_test_${process.pid}`),
    logger,
    reconnect: { initialDelayMs: 5_000 },
    connectTimeoutMs: 2_000,
  });
  connection.start();
  try {
    await connection.waitUntilConnected(3_000);
    return { url, ok: true };
  } catch {
    const warned = lines.map((line) => JSON.parse(line) as { err?: string }).find((entry) => entry.err);
    return { url, ok: false, error: warned?.err ?? 'not connected' };
  } finally {
    await connection.close();
  }
}

async function main(): Promise<void> {
  const targets = JSON.parse(process.argv[2] ?? '[]') as Target[];
  const outcomes: Outcome[] = [];
  for (const target of targets) outcomes.push(await (target.kind === 'redis' ? redis(target.url) : amqp(target.url)));
  process.stdout.write(`${JSON.stringify(outcomes)}\n`);
}

void main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${errorOf(error)}\n`);
    process.exit(2);
  },
);
