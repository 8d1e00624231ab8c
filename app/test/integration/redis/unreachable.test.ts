/**
 * Issue 17, point 13: an unreachable Redis is not silent. A connection that never reached Redis
 * (a wrong REDIS_URL, Redis down at startup) logs one warning saying so, however many times it
 * retries, the `goticket_redis_circuit_open` gauge says calls fail fast, and readiness says
 * `degraded`; once Redis answers, one line says so and the gauge drops to 0. A lost connection
 * is one warning per outage too. Through a TCP proxy to the real Redis.
 */
import { Writable } from 'node:stream';
import { RedisConnection } from '../../../src/adapters/redis/connection';
import { createLogger } from '../../../src/observability/logger';
import { redisBreakerOpen } from '../../../src/observability/metrics';
import { TEST_REDIS_URL } from '../../support/env';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';
import { waitFor } from '../messaging/helpers';
import { sleep } from './helpers';

let proxy: TcpProxy;
const lines: Array<{ level: number | string; msg: string; err?: string }> = [];
const logger = createLogger({
  level: 'info',
  destination: new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as (typeof lines)[number]);
      done();
    },
  }),
});

beforeAll(async () => {
  const target = new URL(TEST_REDIS_URL);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
});

afterAll(async () => {
  await proxy?.close();
});

const gauge = async () => (await redisBreakerOpen.get()).values[0]?.value;
const said = (pattern: RegExp) => lines.filter((line) => pattern.test(line.msg));

test('never reached: one warning however many retries, the gauge says 1, readiness degraded; then connected, gauge 0; a lost connection: one warning', async () => {
  proxy.cut();
  const connection = new RedisConnection({
    url: proxy.rewrite(TEST_REDIS_URL),
    keyPrefix: 'unreachable-test:',
    commandTimeoutMs: 200,
    connectTimeoutMs: 500,
    breakerThreshold: 5,
    breakerHalfOpenMs: 500,
    logger,
  });
  try {
    await waitFor('the unreachable warning', async () => said(/^redis unreachable/).length > 0, 5_000, 20);
    // ioredis retries every 50 ms doubling to 2 s: several attempts in 1.5 s, still one line
    await sleep(1_500);
    expect(said(/^redis unreachable/)).toHaveLength(1);
    expect(said(/^redis unreachable/)[0]).toMatchObject({ level: 'warn', err: expect.any(String) });
    expect(await gauge()).toBe(1);
    expect(await connection.healthCheck().check()).toBe('degraded');

    proxy.restore();
    await connection.ready(10_000);
    await waitFor('the connected line', async () => said(/^redis connected/).length === 1, 5_000, 20);
    expect(await gauge()).toBe(0);
    expect(await connection.healthCheck().check()).toBe('up');

    proxy.cut();
    await waitFor('the lost warning', async () => said(/^redis connection lost/).length > 0, 5_000, 20);
    await sleep(1_000);
    expect(said(/^redis connection lost/)).toHaveLength(1);
    expect(said(/^redis unreachable/)).toHaveLength(1);
    expect(await gauge()).toBe(1);
  } finally {
    proxy.restore();
    await connection.close();
  }
}, 30_000);
