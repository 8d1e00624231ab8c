import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Event } from '../domain/event';
import { cacheLookups, type CacheName } from '../observability/metrics';
import type { Cache, EventQuery, Page } from '../ports';

const LIST_NAMESPACE = 'events:list';
/** Ids are UUIDs, which PostgreSQL matches in any case: one namespace per event, whatever the case it was asked in. */
const eventNamespace = (id: string) => `event:${id.toLowerCase()}`;

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
/** JSON text kept at most (UTF-16 code units, ~2 bytes each): list pages are 10–25 k each. */
const LOCAL_MAX_CHARS = 4_000_000;

/**
 * lru-cache with the given clock. `ttlResolution: 0` reads the clock on every check: with the
 * default, lru-cache reuses one reading for a millisecond and arms a timer per reading. An entry
 * is fresh while its age is at most its TTL, as a Redis key with PX is.
 */
const lru = <V extends object>(now: () => number, options: LRUCache.OptionsBase<string, V, unknown> = {}) =>
  new LRUCache<string, V>({ max: LOCAL_MAX_ENTRIES, ttlResolution: 0, perf: { now }, ...options });

/** `bytes`: the text as UTF-8, made on first use (what the hot-request stage sends). */
type LocalEntry = { value: string; bytes?: Buffer };

/** Small in-process LRU of JSON texts per namespace, so a hot event costs no round trip and no re-serialization. */
class LocalCache {
  private readonly entries: LRUCache<string, LocalEntry>;
  /** The keys each namespace holds, so a namespace is dropped without a scan (kept in step by `dispose`). */
  private readonly keys = new Map<string, Set<string>>();
  /** Bumped by every drop: a value read before a drop is not stored after it. */
  generation = 0;

  constructor(ttlMs: number, now: () => number) {
    this.entries = lru<LocalEntry>(now, {
      ttl: ttlMs,
      maxSize: LOCAL_MAX_CHARS,
      sizeCalculation: (entry) => Math.max(1, entry.value.length),
      noDisposeOnSet: true,
      dispose: (_entry, id) => this.unindex(id),
    });
  }

  get(namespace: string, key: string): string | undefined {
    return this.entries.get(entryId(namespace, key))?.value;
  }

  bytes(namespace: string, key: string): Buffer | undefined {
    const entry = this.entries.get(entryId(namespace, key));
    if (entry) entry.bytes ??= Buffer.from(entry.value);
    return entry?.bytes;
  }

  set(namespace: string, key: string, value: string, readAtGeneration: number): void {
    if (readAtGeneration !== this.generation) return;
    const id = entryId(namespace, key);
    this.entries.set(id, { value });
    // A text larger than the whole budget is not kept.
    if (!this.entries.has(id)) return;
    let keys = this.keys.get(namespace);
    if (!keys) this.keys.set(namespace, (keys = new Set()));
    keys.add(key);
  }

  drop(namespaces: string[]): void {
    this.generation++;
    for (const namespace of namespaces) {
      for (const key of this.keys.get(namespace) ?? []) this.entries.delete(entryId(namespace, key));
      this.keys.delete(namespace);
    }
  }

  /** An entry left (dropped, evicted or expired). */
  private unindex(id: string): void {
    const cut = id.indexOf(ENTRY_ID_SEPARATOR);
    const namespace = id.slice(0, cut);
    const keys = this.keys.get(namespace);
    keys?.delete(id.slice(cut + 1));
    if (keys?.size === 0) this.keys.delete(namespace);
  }
}

const ENTRY_ID_SEPARATOR = '\u0000';
const entryId = (namespace: string, key: string) => `${namespace}${ENTRY_ID_SEPARATOR}${key}`;

/** A seat bound read before a booking attempt, with what lets the outcome be stored. */
export interface SeatProbe {
  /** At most this many seats are left; null when unknown. */
  bound: number | null;
  /** The shared cache's stamp of the event's namespace (null: it cannot store one now). */
  stamp: string | null;
  /** The in-process copies' generation when the probe began (a later drop forbids keeping the outcome). */
  generation: number;
  /**
   * True when the answer is this process's memory that the shared cache had no marker (kept
   * CACHE_LOCAL_TTL at most): its stamp may predate changes since, so an outcome to be stored
   * needs a fresh probe (`seats(id, { fresh: true })`) taken before the statement that learns it.
   */
  remembered?: boolean;
}

/** This process's copy of an event's seat marker: never outlives the shared one. */
interface SeatMark {
  bound: number;
  stamp: string;
}

/**
 * The shared marker's text: the bound and when it lapses (epoch ms), so a replica that copies it
 * into its process knows how long the copy may live. A bare number (written before) has no end.
 */
const markerText = (available: number, expiresAt: number) => `${available} ${Math.ceil(expiresAt)}`;

function parseMarker(text: string): { bound: number; expiresAt: number } | null {
  const [bound, expiresAt] = text.split(' ').map(Number);
  if (!Number.isInteger(bound)) return null;
  return { bound: bound!, expiresAt: Number.isFinite(expiresAt) ? expiresAt! : Number.POSITIVE_INFINITY };
}

/**
 * This process's copies of seat markers: what lets a refusal be answered without a round trip.
 * Each lives `ttlMs` at most, and never past the shared marker's end (the next hold expiry);
 * `drop` (any change of the event made through this process) ends it at once, and `generation`
 * keeps a marker read before a drop from being kept after it.
 */
class LocalSeatMarks {
  private readonly marks: LRUCache<string, SeatMark>;
  /**
   * Events the shared cache had no marker for, with the stamp read then: a booking of an event
   * with seats left asks the shared cache once per `ttlMs`, not once per booking. A change made
   * here keeps the entry (it makes no marker elsewhere); another replica's marker is seen
   * `ttlMs` late at most, and meanwhile PostgreSQL refuses (what the marker only spares it).
   */
  private readonly unmarked: LRUCache<string, { stamp: string }>;
  generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {
    this.marks = lru<SeatMark>(now);
    this.unmarked = lru<{ stamp: string }>(now);
  }

  get(eventId: string): SeatMark | undefined {
    return this.marks.get(eventId.toLowerCase());
  }

  set(eventId: string, bound: number, stamp: string, until: number, readAtGeneration: number): void {
    if (readAtGeneration !== this.generation) return;
    const ttl = Math.floor(Math.min(until - this.now(), this.ttlMs));
    if (ttl <= 0) return;
    this.unmarked.delete(eventId.toLowerCase());
    this.marks.set(eventId.toLowerCase(), { bound, stamp }, { ttl });
  }

  /** The stamp read when the shared cache last had no marker for the event, within `ttlMs`. */
  unmarkedStamp(eventId: string): string | undefined {
    return this.unmarked.get(eventId.toLowerCase())?.stamp;
  }

  setUnmarked(eventId: string, stamp: string): void {
    this.unmarked.set(eventId.toLowerCase(), { stamp }, { ttl: this.ttlMs });
  }

  forgetUnmarked(eventId: string): void {
    this.unmarked.delete(eventId.toLowerCase());
  }

  drop(eventIds: string[]): void {
    this.generation++;
    for (const id of eventIds) this.marks.delete(id.toLowerCase());
  }
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
  private readonly seatMarks: LocalSeatMarks | null;
  private readonly now: () => number;
  private readonly seatHits = cacheLookups.labels('sold_out', 'hit');
  private readonly seatMisses = cacheLookups.labels('sold_out', 'miss');

  constructor(private readonly options: EventCacheOptions) {
    this.now = options.clock ?? Date.now;
    const ttl = Math.min(options.localTtlMs ?? 0, options.ttlMs);
    this.local = ttl > 0 ? new LocalCache(ttl, this.now) : null;
    const seatTtl = Math.min(options.localTtlMs ?? 0, options.soldOutTtlMs);
    this.seatMarks = seatTtl > 0 ? new LocalSeatMarks(seatTtl, this.now) : null;
  }

  /**
   * The event as the JSON text the API sends (null: no such event). Cached as text, so a hit
   * costs no parse and no re-serialization.
   */
  eventJson(id: string, load: () => Promise<Event | null>): Promise<string | null> {
    return this.readThrough('event', eventNamespace(id), 'json', load);
  }

  /**
   * The event's JSON as UTF-8 bytes when this process holds a fresh copy; never waits (the HTTP
   * fast path). Counts no lookup: the caller counts the hit if it answers with it.
   */
  peekEventBytes(id: string): Buffer | undefined {
    return this.local?.bytes(eventNamespace(id), 'json');
  }

  /**
   * A page of events as the JSON text the API sends. Only canonical pages are cached: the first
   * page of the unfiltered list at one of CACHED_LIST_LIMITS. Every other query (a cursor, a
   * filter, a search, another limit) reads PostgreSQL: cached, each distinct one stored a whole
   * page in Redis (~210 kB with long descriptions, for a 178-byte request), so a client could
   * fill Redis at will (issue 17, point 5). The cached pages are now at most
   * CACHED_LIST_LIMITS.length, whatever the clients send.
   */
  async listJson(query: EventQuery, load: () => Promise<Page<Event>>): Promise<string> {
    if (!isCanonicalList(query)) return JSON.stringify(await load());
    const key = createHash('sha256')
      .update(JSON.stringify(listKey(query)))
      .digest('base64url');
    return this.readThrough('event_list', LIST_NAMESPACE, key, load) as Promise<string>;
  }

  /**
   * The seat bound this process holds for the event, without waiting for anything (the HTTP
   * sold-out fast path); undefined when it holds none. Counts no lookup: the caller counts the
   * hit (`countSeatHit`) if it refuses with it.
   */
  peekSeats(eventId: string): number | undefined {
    return this.seatMarks?.get(eventId)?.bound;
  }

  countSeatHit(): void {
    this.seatHits.inc();
  }

  /**
   * The seat marker: this process's copy, else the shared cache's (copied here for next time).
   * That the shared cache had none is remembered too (`remembered`); `fresh` asks it again.
   */
  async seats(eventId: string, { fresh = false }: { fresh?: boolean } = {}): Promise<SeatProbe> {
    const generation = this.seatMarks?.generation ?? 0;
    if (this.options.soldOutTtlMs <= 0) return { bound: null, stamp: null, generation };
    const kept = this.seatMarks?.get(eventId);
    if (kept) {
      this.seatHits.inc();
      return { bound: kept.bound, stamp: kept.stamp, generation };
    }
    if (fresh) this.seatMarks?.forgetUnmarked(eventId);
    const unmarked = this.seatMarks?.unmarkedStamp(eventId);
    if (unmarked !== undefined) {
      this.seatMisses.inc();
      return { bound: null, stamp: unmarked, generation, remembered: true };
    }
    const lookup = await this.options.cache.get(eventNamespace(eventId), 'seats');
    const marker = typeof lookup?.value === 'string' ? parseMarker(lookup.value) : null;
    cacheLookups.inc({ cache: 'sold_out', result: lookup ? (marker === null ? 'miss' : 'hit') : 'unavailable' });
    if (marker && lookup) this.seatMarks?.set(eventId, marker.bound, lookup.stamp, marker.expiresAt, generation);
    else if (lookup) this.seatMarks?.setUnmarked(eventId, lookup.stamp);
    return { bound: marker?.bound ?? null, stamp: lookup?.stamp ?? null, generation };
  }

  /**
   * Remembers that at most `available` seats are left, for at most `ttlMs` (and
   * CACHE_SOLD_OUT_TTL): in the shared cache unless the event changed since the probe's stamp,
   * in this process unless it changed here since the probe began.
   */
  async rememberSeats(eventId: string, available: number, probe: SeatProbe & { stamp: string }, ttlMs: number): Promise<void> {
    const ttl = Math.min(ttlMs, this.options.soldOutTtlMs);
    if (ttl <= 0) return;
    const expiresAt = this.now() + ttl;
    await this.options.cache.set(eventNamespace(eventId), 'seats', markerText(available, expiresAt), ttl, probe.stamp);
    this.seatMarks?.set(eventId, available, probe.stamp, expiresAt, probe.generation);
  }

  /** After any committed change of the event, seats included. */
  eventChanged(id: string): Promise<void> {
    this.seatMarks?.drop([id]);
    return this.invalidate([eventNamespace(id), LIST_NAMESPACE]);
  }

  eventCreated(): Promise<void> {
    return this.invalidate([LIST_NAMESPACE]);
  }

  private invalidate(namespaces: string[]): Promise<void> {
    this.local?.drop(namespaces);
    return this.options.cache.invalidate(namespaces);
  }

  /** JSON text of the value: this process's copy, the shared cache, or `load` (null values are not cached). */
  private async readThrough(name: CacheName, namespace: string, key: string, load: () => Promise<object | null>): Promise<string | null> {
    if (this.options.ttlMs <= 0) return stringify(await load());
    const local = this.local?.get(namespace, key);
    if (local !== undefined) {
      cacheLookups.inc({ cache: name, result: 'hit' });
      return local;
    }
    const generation = this.local?.generation ?? 0;
    const lookup = await this.options.cache.get(namespace, key);
    if (typeof lookup?.value === 'string') {
      cacheLookups.inc({ cache: name, result: 'hit' });
      this.local?.set(namespace, key, lookup.value, generation);
      return lookup.value;
    }
    cacheLookups.inc({ cache: name, result: lookup ? 'miss' : 'unavailable' });
    const json = stringify(await load());
    // Unknown ids are not cached: random ids would only fill the cache.
    if (lookup && json !== null) await this.options.cache.set(namespace, key, json, this.options.ttlMs, lookup.stamp);
    return json;
  }
}

/** The text `res.json` would send (Dates become ISO strings); null stays null. */
function stringify(value: object | null): string | null {
  return value === null ? null : JSON.stringify(value);
}

/** The page sizes whose first unfiltered page is cached (the API's default is 20). */
export const CACHED_LIST_LIMITS: readonly number[] = [10, 20, 50, 100];

export function isCanonicalList(query: EventQuery): boolean {
  return (
    CACHED_LIST_LIMITS.includes(query.limit) &&
    query.cursor === undefined &&
    query.from === undefined &&
    query.to === undefined &&
    query.minPrice === undefined &&
    query.maxPrice === undefined &&
    query.q === undefined
  );
}

function listKey(query: EventQuery) {
  return [
    query.limit,
    query.cursor ?? null,
    query.from?.toISOString() ?? null,
    query.to?.toISOString() ?? null,
    query.minPrice ?? null,
    query.maxPrice ?? null,
    query.q ?? null,
  ];
}
