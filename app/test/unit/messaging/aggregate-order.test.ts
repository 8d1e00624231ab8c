import type { DomainMessage, PublishResult } from '../../../src/ports';
import { publishInAggregateOrder } from '../../../src/workers/outbox-relay';

const message = (id: string, aggregateId: string): DomainMessage => ({
  id,
  type: 'booking.created',
  occurredAt: new Date(0).toISOString(),
  aggregateId,
  data: {},
});

/** A broker that refuses the ids in `nack` and records every wave it was handed. */
function broker(nack: ReadonlySet<string> = new Set(), drop: ReadonlySet<string> = new Set()) {
  const waves: string[][] = [];
  const publish = async (wave: readonly DomainMessage[]): Promise<PublishResult[]> => {
    waves.push(wave.map((m) => m.id));
    return wave
      .filter((m) => !drop.has(m.id))
      .map((m) => (nack.has(m.id) ? { id: m.id, ok: false as const, error: new Error('nack') } : { id: m.id, ok: true as const }));
  };
  return { waves, publish };
}

test('a batch of distinct aggregates goes out as one wave, in order', async () => {
  const batch = [message('1', 'a'), message('2', 'b'), message('3', 'c')];
  const { waves, publish } = broker();
  const results = await publishInAggregateOrder(batch, publish);
  expect(waves).toEqual([['1', '2', '3']]);
  expect(results.map((r) => [r.id, r.ok])).toEqual([
    ['1', true],
    ['2', true],
    ['3', true],
  ]);
});

test('the n-th event of each aggregate waits for the broker to answer the (n-1)-th', async () => {
  const batch = [message('a1', 'a'), message('b1', 'b'), message('a2', 'a'), message('a3', 'a'), message('b2', 'b'), message('c1', 'c')];
  const { waves, publish } = broker();
  await publishInAggregateOrder(batch, publish);
  expect(waves).toEqual([['a1', 'b1', 'c1'], ['a2', 'b2'], ['a3']]);
});

test('an unconfirmed event holds back the rest of its aggregate, and only its aggregate', async () => {
  const batch = [message('a1', 'a'), message('b1', 'b'), message('a2', 'a'), message('b2', 'b'), message('a3', 'a')];
  const { waves, publish } = broker(new Set(['a1']));
  const results = await publishInAggregateOrder(batch, publish);
  expect(waves).toEqual([['a1', 'b1'], ['b2']]);
  // a2 and a3 were never sent and get no result: they stay unpublished, behind a1
  expect(results.map((r) => [r.id, r.ok])).toEqual([
    ['a1', false],
    ['b1', true],
    ['b2', true],
  ]);
});

test('a message the publisher does not answer for counts as unconfirmed', async () => {
  const batch = [message('a1', 'a'), message('a2', 'a')];
  const { waves, publish } = broker(new Set(), new Set(['a1']));
  const results = await publishInAggregateOrder(batch, publish);
  expect(waves).toEqual([['a1']]);
  expect(results).toEqual([{ id: 'a1', ok: false, error: expect.any(Error) }]);
});
