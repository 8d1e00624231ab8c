import { createHash } from 'node:crypto';
import type { Event } from '../domain/event';
import { cacheLookups, type CacheName } from '../observability/metrics';
import type { Cache, EventQuery, Page } from '../ports';

const LIST_NAMESPACE = 'events:list';
const eventNamespace = (id: string) => `event:${id}`;
const DATE_FIELDS = ['startsAt', 'endsAt', 'createdAt', 'updatedAt'] as const;

export interface EventCacheOptions {
  cache: Cache;
  /** Event and list pages; 0 turns caching off. */
  ttlMs: number;
  /** Upper bound of the seat marker's life (also capped by the next hold expiry). */
  soldOutTtlMs: number;
  /**
   * Life of the in-process copy in front of the shared cache (0: none). Changes made through
   * this process drop it at once; changes made through another replica show after at most this.
   */
  localTtlMs?: number;
  clock?: () => number;
}

const LOCAL_MAX_ENTRIES = 5_000;

/** Small in-process map of revived values per namespace, so a hot event costs no round trip. */
class LocalCache {
  private readonly namespaces = new Map<string, Map<string, { value: unknown; expiresAt: number }>>();
  private size = 0;
  /** Bumped by every drop: a value read before a drop is not stored after it. */
  generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  get(namespace: string, key: string): unknown {
    const entry = this.namespaces.get(namespace)?.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > this.now()) return entry.value;
    this.namespaces.get(namespace)!.delete(key);
    this.size--;
    return undefined;
  }

  set(namespace: string, key: string, value: unknown, readAtGeneration: number): void {
    if (readAtGeneration !== this.generation) return;
    if (this.size >= LOCAL_MAX_ENTRIES) this.clear();
    let entries = this.namespaces.get(namespace);
    if (!entries) this.namespaces.set(namespace, (entries = new Map()));
    if (!entries.has(key)) this.size++;
    entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
  }

  drop(namespaces: string[]): void {
    this.generation++;
    for (const namespace of namespaces) {
      this.size -= this.namespaces.get(namespace)?.size ?? 0;
      this.namespaces.delete(namespace);
    }
  }

  private clear(): void {
    this.namespaces.clear();
    this.size = 0;
  }
}

/** A seat bound read before a booking attempt, with the stamp that lets the outcome be stored. */
export interface SeatProbe {
  /** At most this many seats are left; null when unknown. */
  bound: number | null;
  stamp: string | null;
}

/**
 * Read-through cache of events and list pages, and the seat marker of the sold-out fast path.
 * Everything about one event lives in its namespace, so one invalidation after any change of
 * the event (edit, delete, booking, cancel) drops its JSON, its seat marker and every list page.
 * Seats released by the expiry sweeper (another process) are not invalidated: reads of
 * `available` may lag by at most `ttlMs`, and the seat marker never outlives the next hold expiry.
 */
export class EventCache {
  private readonly local: LocalCache | null;

  constructor(private readonly options: EventCacheOptions) {
    const ttl = Math.min(options.localTtlMs ?? 0, options.ttlMs);
    this.local = ttl > 0 ? new LocalCache(ttl, options.clock ?? Date.now) : null;
  }

  event(id: string, load: () => Promise<Event | null>): Promise<Event | null> {
    return this.readThrough('event', eventNamespace(id), 'json', load, reviveEvent);
  }

  list(query: EventQuery, load: () => Promise<Page<Event>>): Promise<Page<Event>> {
    const key = createHash('sha256').update(JSON.stringify(listKey(query))).digest('base64url');
    return this.readThrough('event_list', LIST_NAMESPACE, key, load, (page) => ({ ...page, items: page.items.map(reviveEvent) }));
  }

  async seats(eventId: string): Promise<SeatProbe> {
    if (this.options.soldOutTtlMs <= 0) return { bound: null, stamp: null };
    const lookup = await this.options.cache.get(eventNamespace(eventId), 'seats');
    const bound = typeof lookup?.value === 'string' ? Number(lookup.value) : null;
    cacheLookups.inc({ cache: 'sold_out', result: lookup ? (bound === null ? 'miss' : 'hit') : 'unavailable' });
    return { bound, stamp: lookup?.stamp ?? null };
  }

  /** Remembers that at most `available` seats are left, unless the event changed since `stamp`. */
  async rememberSeats(eventId: string, available: number, stamp: string, ttlMs: number): Promise<void> {
    const ttl = Math.min(ttlMs, this.options.soldOutTtlMs);
    if (ttl > 0) await this.options.cache.set(eventNamespace(eventId), 'seats', String(available), ttl, stamp);
  }

  /** After any committed change of the event, seats included. */
  eventChanged(id: string): Promise<void> {
    return this.invalidate([eventNamespace(id), LIST_NAMESPACE]);
  }

  eventCreated(): Promise<void> {
    return this.invalidate([LIST_NAMESPACE]);
  }

  private invalidate(namespaces: string[]): Promise<void> {
    this.local?.drop(namespaces);
    return this.options.cache.invalidate(namespaces);
  }

  private async readThrough<T>(name: CacheName, namespace: string, key: string, load: () => Promise<T>, revive: (raw: NonNullable<T>) => T): Promise<T> {
    if (this.options.ttlMs <= 0) return load();
    const local = this.local?.get(namespace, key);
    if (local !== undefined) {
      cacheLookups.inc({ cache: name, result: 'hit' });
      return local as T;
    }
    const generation = this.local?.generation ?? 0;
    const lookup = await this.options.cache.get(namespace, key);
    if (typeof lookup?.value === 'string') {
      cacheLookups.inc({ cache: name, result: 'hit' });
      const value = revive(JSON.parse(lookup.value) as NonNullable<T>);
      this.local?.set(namespace, key, value, generation);
      return value;
    }
    cacheLookups.inc({ cache: name, result: lookup ? 'miss' : 'unavailable' });
    const value = await load();
    // Unknown ids are not cached: random ids would only fill the cache.
    if (lookup && value !== null) await this.options.cache.set(namespace, key, JSON.stringify(value), this.options.ttlMs, lookup.stamp);
    return value;
  }
}

function listKey(query: EventQuery) {
  return [query.limit, query.cursor ?? null, query.from?.toISOString() ?? null, query.to?.toISOString() ?? null, query.minPrice ?? null, query.maxPrice ?? null, query.q ?? null];
}

function reviveEvent(raw: Event): Event {
  const event = { ...raw };
  for (const field of DATE_FIELDS) event[field] = new Date(raw[field]);
  return event;
}
