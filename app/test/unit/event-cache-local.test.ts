import { MemoryCache } from '../../src/adapters/memory/cache';
import type { Event } from '../../src/domain/event';
import { cacheLookups } from '../../src/observability/metrics';
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

const available = (json: string | null) => (json === null ? null : (JSON.parse(json) as Event).available);

describe('the in-process copy in front of the shared cache', () => {
  let now = 1_000_000; // a real clock's reading: lru-cache takes a start time of 0 for none
  const shared = new MemoryCache();
  const cache = new EventCache({ cache: shared, ttlMs: 60_000, soldOutTtlMs: 60_000, localTtlMs: 1_000, clock: () => now });
  const id = event(0).id;

  it('serves a hot event without asking the shared cache, until it is older than its TTL', async () => {
    let loads = 0;
    const load = async () => (loads++, event(10));
    await cache.eventJson(id, load); // miss: loaded and stored in the shared cache
    await cache.eventJson(id, load); // shared hit: kept locally
    const sharedGet = jest.spyOn(shared, 'get');
    expect(available(await cache.eventJson(id, load))).toBe(10);
    expect(cache.peekEventBytes(id)).toBeDefined();
    expect(sharedGet).not.toHaveBeenCalled();
    now += 1_001;
    expect(cache.peekEventBytes(id)).toBeUndefined();
    await cache.eventJson(id, load);
    expect(sharedGet).toHaveBeenCalledTimes(1);
    expect(loads).toBe(1);
    sharedGet.mockRestore();
  });

  it('drops the local copy as soon as this process changes the event', async () => {
    await cache.eventChanged(id);
    expect(cache.peekEventBytes(id)).toBeUndefined();
    expect(available(await cache.eventJson(id, async () => event(4)))).toBe(4);
  });

  it('does not keep a value read before a change that landed while it was in flight', async () => {
    await cache.eventJson(id, async () => event(4));
    now += 2_000; // local copy expired; the shared one is still there
    const read = cache.eventJson(id, async () => event(99));
    await cache.eventChanged(id); // lands while the read is in flight
    await read;
    expect(cache.peekEventBytes(id)).toBeUndefined();
    expect(available(await cache.eventJson(id, async () => event(3)))).toBe(3);
  });
});

describe('the in-process copy when full', () => {
  const eventWithId = (n: number): Event => ({ ...event(n % 10), id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}` });
  /** Read twice: the first read fills the shared cache, the second copies the text into this process. */
  const readTwice = async (cache: EventCache, e: Event) => {
    await cache.eventJson(e.id, async () => e);
    await cache.eventJson(e.id, async () => e);
  };

  it('forgets the least recently used events one by one, never everything at once (5,000 entries at most)', async () => {
    const cache = new EventCache({
      cache: new MemoryCache({ maxEntries: 20_000 }),
      ttlMs: 60_000,
      soldOutTtlMs: 60_000,
      localTtlMs: 60_000,
    });
    const hot = eventWithId(999_999);
    await readTwice(cache, hot);
    const cold = Array.from({ length: 5_001 }, (_, i) => eventWithId(i));
    for (const [i, e] of cold.entries()) {
      await readTwice(cache, e);
      if (i % 100 === 0) expect(cache.peekEventBytes(hot.id)).toBeDefined(); // read often: stays
    }
    expect(cache.peekEventBytes(hot.id)).toBeDefined();
    const kept = cold.filter((e) => cache.peekEventBytes(e.id) !== undefined);
    expect(kept).toHaveLength(4_999);
    expect(kept[0]).toBe(cold[2]);
  });

  it('forgets the least recently used texts when the text budget (4,000,000 characters) is used up', async () => {
    const shared = new MemoryCache();
    const cache = new EventCache({ cache: shared, ttlMs: 60_000, soldOutTtlMs: 60_000, localTtlMs: 60_000 });
    const page = (name: string) => ({ items: [{ ...event(1), description: name.repeat(1_500_000) }], nextCursor: null });
    const pages = (
      [
        ['a', 10],
        ['b', 20],
        ['c', 50],
      ] as const
    ).map(([name, limit]) => ({ query: { limit }, load: async () => page(name) }));
    for (const { query, load } of pages) for (let i = 0; i < 2; i++) await cache.listJson(query, load);
    const sharedGet = jest.spyOn(shared, 'get');
    for (const { query, load } of [...pages].reverse()) await cache.listJson(query, load);
    // 'c' and 'b' came from this process; 'a' (the least recently used) had made room for 'c'
    expect(sharedGet).toHaveBeenCalledTimes(1);
    sharedGet.mockRestore();
  });
});

describe('JSON text, as the API sends it', () => {
  const fresh = () => new EventCache({ cache: new MemoryCache(), ttlMs: 60_000, soldOutTtlMs: 60_000, localTtlMs: 1_000 });

  it('is exactly what JSON.stringify (res.json) makes of the loaded event, from the source and from both caches', async () => {
    const cache = fresh();
    const expected = JSON.stringify(event(7));
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await cache.eventJson(event(7).id, async () => event(7)));
    expect(answers).toEqual([expected, expected, expected]);
    expect(cache.peekEventBytes(event(7).id)?.toString()).toBe(expected);
  });

  it('does not cache unknown events and answers null for them', async () => {
    const cache = fresh();
    let loads = 0;
    const missing = async () => (loads++, null);
    expect(await cache.eventJson(event(0).id, missing)).toBeNull();
    expect(await cache.eventJson(event(0).id, missing)).toBeNull();
    expect(loads).toBe(2);
    expect(cache.peekEventBytes(event(0).id)).toBeUndefined();
  });

  it('caches canonical list pages (first, unfiltered, a cached limit) per query as text', async () => {
    const cache = fresh();
    let loads = 0;
    const page = { items: [event(1), event(2)], nextCursor: 'abc' };
    const load = async () => (loads++, page);
    const query = { limit: 20 };
    const first = await cache.listJson(query, load);
    expect(await cache.listJson(query, load)).toBe(first);
    expect(first).toBe(JSON.stringify(page));
    expect(loads).toBe(1);
    await cache.listJson({ limit: 10 }, load);
    expect(loads).toBe(2);
  });

  it('reads every other list through (a search, a filter, a cursor, another limit): nothing is stored', async () => {
    const shared = new MemoryCache();
    const cache = new EventCache({ cache: shared, ttlMs: 60_000, soldOutTtlMs: 60_000, localTtlMs: 1_000 });
    const set = jest.spyOn(shared, 'set');
    let loads = 0;
    const load = async () => (loads++, { items: [event(1)], nextCursor: null });
    const queries = [
      { limit: 20, q: 'gig' },
      { limit: 20, minPrice: 1 },
      { limit: 20, cursor: 'abc' },
      { limit: 20, from: new Date() },
      { limit: 37 },
    ];
    for (const query of queries) for (let i = 0; i < 2; i++) await cache.listJson(query, load);
    expect(loads).toBe(queries.length * 2);
    expect(set).not.toHaveBeenCalled();
  });

  it('peeking counts no lookup (the fast path counts the hits it answers)', async () => {
    const cache = fresh();
    await cache.eventJson(event(5).id, async () => event(5));
    await cache.eventJson(event(5).id, async () => event(5));
    const hits = async () =>
      (await cacheLookups.get()).values.find((v) => v.labels.cache === 'event' && v.labels.result === 'hit')?.value ?? 0;
    const before = await hits();
    expect(cache.peekEventBytes(event(5).id)).toBeDefined();
    expect(await hits()).toBe(before);
  });
});

describe("this process's copy of the seat marker", () => {
  const ID = event(0).id;
  let now = 1_000_000;
  const clock = () => now;
  const replicaPair = () => {
    const shared = new MemoryCache({ now: clock });
    const make = () => new EventCache({ cache: shared, ttlMs: 60_000, soldOutTtlMs: 60_000, localTtlMs: 1_000, clock });
    return { shared, here: make(), there: make() };
  };
  /** What BookingService does when PostgreSQL refuses: probe, then remember the outcome. */
  const refuse = async (cache: EventCache, available: number, ttlMs = 60_000) => {
    const probe = await cache.seats(ID);
    await cache.rememberSeats(ID, available, { ...probe, stamp: probe.stamp! }, ttlMs);
  };

  it('is kept when this process learns the bound, and answered without asking the shared cache', async () => {
    const { shared, here } = replicaPair();
    expect(here.peekSeats(ID)).toBeUndefined();
    await refuse(here, 0);
    const sharedGet = jest.spyOn(shared, 'get');
    expect(here.peekSeats(ID)).toBe(0);
    expect(await here.seats(ID)).toMatchObject({ bound: 0 });
    expect(sharedGet).not.toHaveBeenCalled();
    sharedGet.mockRestore();
  });

  it('remembers that the shared cache had none for CACHE_LOCAL_TTL (a booking of an event with seats left asks it once), unless asked fresh', async () => {
    const { shared, here, there } = replicaPair();
    expect(await here.seats(ID)).toMatchObject({ bound: null });
    const sharedGet = jest.spyOn(shared, 'get');
    await here.eventChanged(ID); // a booking made here keeps the memory (it makes no marker elsewhere)
    expect(await here.seats(ID)).toMatchObject({ bound: null, remembered: true });
    expect(sharedGet).not.toHaveBeenCalled();
    expect(await here.seats(ID, { fresh: true })).toMatchObject({ bound: null, stamp: expect.any(String) });
    expect(sharedGet).toHaveBeenCalledTimes(1);
    expect((await here.seats(ID, { fresh: true })).remembered).toBeUndefined();
    sharedGet.mockRestore();

    // another replica's marker is seen CACHE_LOCAL_TTL late at most
    await refuse(there, 0);
    expect(await here.seats(ID)).toMatchObject({ bound: null, remembered: true });
    now += 1_001;
    expect(await here.seats(ID)).toMatchObject({ bound: 0 });
  });

  it('forgets that the shared cache had none once this process learns a bound', async () => {
    const { here } = replicaPair();
    await refuse(here, 0);
    expect(await here.seats(ID)).toMatchObject({ bound: 0 });
    await here.eventChanged(ID);
    expect(await here.seats(ID)).toMatchObject({ bound: null });
    expect((await here.seats(ID)).remembered).toBe(true);
  });

  it('goes at once when this process changes the event (a cancel, a capacity increase, a booking)', async () => {
    const { here } = replicaPair();
    await refuse(here, 0);
    await here.eventChanged(ID);
    expect(here.peekSeats(ID)).toBeUndefined();
    expect(await here.seats(ID)).toMatchObject({ bound: null });
  });

  it('never outlives the shared marker: a marker capped by the next hold expiry ends the copy with it', async () => {
    const { shared, here } = replicaPair();
    await refuse(here, 0, 300);
    now += 300; // fresh while its age is at most its TTL, as a Redis key with PX is
    expect(here.peekSeats(ID)).toBe(0);
    now += 1;
    expect(here.peekSeats(ID)).toBeUndefined();
    expect((await shared.get(`event:${ID}`, 'seats')).value).toBeNull();
  });

  it("is copied from another replica's marker with that marker's end, and lives CACHE_LOCAL_TTL at most", async () => {
    const { here, there } = replicaPair();
    await refuse(there, 0, 400);
    expect(here.peekSeats(ID)).toBeUndefined();
    expect(await here.seats(ID)).toMatchObject({ bound: 0 });
    expect(here.peekSeats(ID)).toBe(0);
    now += 401;
    expect(here.peekSeats(ID)).toBeUndefined();

    await refuse(there, 0, 60_000);
    await here.seats(ID);
    now += 1_000;
    expect(here.peekSeats(ID)).toBe(0);
    now += 1;
    expect(here.peekSeats(ID)).toBeUndefined();
  });

  it('reads a marker written before markers carried their end (a bare number) and keeps it CACHE_LOCAL_TTL at most', async () => {
    const { shared, here } = replicaPair();
    const lookup = await shared.get(`event:${ID}`, 'seats');
    await shared.set(`event:${ID}`, 'seats', '2', 60_000, lookup.stamp);
    expect(await here.seats(ID)).toMatchObject({ bound: 2 });
    now += 1_000;
    expect(here.peekSeats(ID)).toBe(2);
    now += 1;
    expect(here.peekSeats(ID)).toBeUndefined();
  });

  it('does not keep a bound learnt before a change that landed while it was in flight', async () => {
    const { here } = replicaPair();
    const probe = await here.seats(ID);
    await here.eventChanged(ID); // e.g. a cancel committed while the booking statement ran
    await here.rememberSeats(ID, 0, { ...probe, stamp: probe.stamp! }, 60_000);
    expect(here.peekSeats(ID)).toBeUndefined();

    await refuse(here, 0);
    now += 2_000; // the copy lapsed; the shared marker is still there
    const reading = here.seats(ID);
    await here.eventChanged(ID);
    await reading;
    expect(here.peekSeats(ID)).toBeUndefined();
  });

  it('another replica changing the event shows here within CACHE_LOCAL_TTL', async () => {
    const { here, there } = replicaPair();
    await refuse(here, 0);
    await there.eventChanged(ID);
    expect(here.peekSeats(ID)).toBe(0);
    now += 1_001;
    expect(here.peekSeats(ID)).toBeUndefined();
    expect(await here.seats(ID)).toMatchObject({ bound: null });
  });
});
