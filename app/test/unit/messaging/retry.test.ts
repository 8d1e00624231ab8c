/** The RabbitMQ adapter's retry policy (connection and consumer set-up). */
import { foreverRetry } from '../../../src/adapters/rabbitmq/connection';

const pendingTimers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;

test('retries until the work succeeds', async () => {
  let attempts = 0;
  const result = await foreverRetry({ initialDelayMs: 1, maxDelayMs: 2 }).execute(() => {
    if (++attempts < 3) throw new Error('not yet');
    return 'done';
  });
  expect([result, attempts]).toEqual(['done', 3]);
});

test('a backoff cut short by close (abort) leaves no timer that keeps the process alive', async () => {
  const before = pendingTimers();
  const abort = new AbortController();
  let attempts = 0;
  void foreverRetry({ initialDelayMs: 30_000, maxDelayMs: 30_000 })
    .execute(() => {
      attempts++;
      if (abort.signal.aborted) return; // what connectOnce and the consumer's open do once closed
      throw new Error('broker down');
    }, abort.signal)
    .catch(() => undefined);
  // the first attempt failed and the policy now waits out its backoff
  await new Promise((resolve) => setImmediate(resolve));
  expect(attempts).toBe(1);
  abort.abort();
  // a closed connection's reconnect delay (up to maxDelayMs) must not hold a worker or test process open
  expect(pendingTimers()).toBe(before);
});
