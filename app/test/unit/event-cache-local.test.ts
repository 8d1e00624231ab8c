import { MemoryCache } from '../../src/adapters/memory/cache';
import type { Event } from '../../src/domain/event';
import { EventCache } from '../../src/services/event-cache';

const event = (available: number): Event => ({
  id: '1b4e28ba-2fa1-41d2-883f-0016d3cca427',
  name: 'Gig',
  description: '',
  venue: '',
  startsAt: new Date('2030-01-01T20:00:00Z'),
  endsAt: new Date('2030-01-01T22:00:00Z'),
  priceCents: 100,
  currency: 'EUR',
  capacity: 10,
  available,
  organizerId: '1b4e28ba-2fa1-41d2-883f-0016d3cca428',
  createdAt: new Date('2029-01-01T00:00:00Z'),
  updatedAt: new Date('2029-01-01T00:00:00Z'),
});

describe('the in-process copy in front of the shared cache', () => {
  let now = 0;
  const shared = new MemoryCache();
  const cache = new EventCache({ cache: shared, ttlMs: 60_000, soldOutTtlMs: 60_000, localTtlMs: 1_000, clock: () => now });
  const id = event(0).id;

  it('serves a hot event without asking the shared cache, until it is older than its TTL', async () => {
    let loads = 0;
    const load = async () => (loads++, event(10));
    await cache.event(id, load); // miss: loaded and stored in the shared cache
    await cache.event(id, load); // shared hit: kept locally
    const sharedGet = jest.spyOn(shared, 'get');
    expect((await cache.event(id, load))?.available).toBe(10);
    expect(sharedGet).not.toHaveBeenCalled();
    now += 1_001;
    await cache.event(id, load);
    expect(sharedGet).toHaveBeenCalledTimes(1);
    expect(loads).toBe(1);
    sharedGet.mockRestore();
  });

  it('drops the local copy as soon as this process changes the event', async () => {
    await cache.eventChanged(id);
    expect((await cache.event(id, async () => event(4)))?.available).toBe(4);
  });

  it('does not keep a value read before a change that landed while it was in flight', async () => {
    await cache.event(id, async () => event(4));
    now += 2_000; // local copy expired; the shared one is still there
    const read = cache.event(id, async () => event(99));
    await cache.eventChanged(id); // lands while the read is in flight
    await read;
    expect((await cache.event(id, async () => event(3)))?.available).toBe(3);
  });
});
