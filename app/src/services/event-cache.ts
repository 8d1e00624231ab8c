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
  constructor(private readonly options: EventCacheOptions) {}

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
    return this.options.cache.invalidate([eventNamespace(id), LIST_NAMESPACE]);
  }

  eventCreated(): Promise<void> {
    return this.options.cache.invalidate([LIST_NAMESPACE]);
  }

  private async readThrough<T>(name: CacheName, namespace: string, key: string, load: () => Promise<T>, revive: (raw: NonNullable<T>) => T): Promise<T> {
    if (this.options.ttlMs <= 0) return load();
    const lookup = await this.options.cache.get(namespace, key);
    if (typeof lookup?.value === 'string') {
      cacheLookups.inc({ cache: name, result: 'hit' });
      return revive(JSON.parse(lookup.value) as NonNullable<T>);
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
