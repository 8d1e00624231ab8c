import { LRUCache } from 'lru-cache';
import { cacheLookups } from '../observability/metrics';
import type { Cache, UserStore } from '../ports';

const GONE = 'gone';
const namespace = (userId: string) => `user:${userId}`;
/** Users whose version this process keeps at most (the least recently used is forgotten first). */
const LOCAL_MAX_ENTRIES = 10_000;

export interface TokenVersionsOptions {
  users: Pick<UserStore, 'findById'>;
  cache?: Cache;
  /** Life of a version in the shared cache; 0: every check reads PostgreSQL. */
  ttlMs: number;
  /**
   * Life of this process's copy in front of the shared cache (0: none; never longer than
   * `ttlMs`). A change made through this process drops it at once; a change made through
   * another replica is seen here within this.
   */
  localTtlMs?: number;
  now?: () => number;
}

/**
 * The current token version of a user, as PostgreSQL has it (users.token_version), read through
 * the cache. Role changes and logout-everywhere bump it in PostgreSQL and then invalidate here,
 * so an access token minted before stops working on the next request (on another replica within
 * `localTtlMs`). A change made straight in the database (a deleted user) is seen within `ttlMs`.
 * Login and refresh read it through (`prime`), so a user's first signed-in request finds it in
 * this process.
 */
export class TokenVersions {
  private readonly local: LRUCache<string, { version: number | null }> | null;
  /** Bumped by every change: a version read before a change is not kept after it. */
  private generation = 0;
  private readonly hits = cacheLookups.labels('token_version', 'hit');

  constructor(private readonly deps: TokenVersionsOptions) {
    const localTtlMs = Math.floor(deps.cache && deps.ttlMs > 0 ? Math.min(deps.localTtlMs ?? 0, deps.ttlMs) : 0);
    // ttlResolution 0: the clock is read on every check (no cached reading, no timer per reading).
    this.local =
      localTtlMs > 0
        ? new LRUCache({ max: LOCAL_MAX_ENTRIES, ttl: localTtlMs, ttlResolution: 0, perf: { now: deps.now ?? Date.now } })
        : null;
  }

  /** null when the user no longer exists. */
  async current(userId: string): Promise<number | null> {
    const kept = this.local?.get(userId);
    if (kept) {
      this.hits.inc();
      return kept.version;
    }
    const generation = this.generation;
    const cache = this.deps.ttlMs > 0 ? this.deps.cache : undefined;
    const lookup = cache ? await cache.get(namespace(userId), 'version') : null;
    if (typeof lookup?.value === 'string') {
      this.hits.inc();
      const version = lookup.value === GONE ? null : Number(lookup.value);
      this.keep(userId, version, generation);
      return version;
    }
    if (cache) cacheLookups.inc({ cache: 'token_version', result: lookup ? 'miss' : 'unavailable' });
    const user = await this.deps.users.findById(userId);
    const version = user ? user.tokenVersion : null;
    if (cache && lookup) {
      await cache.set(namespace(userId), 'version', version === null ? GONE : String(version), this.deps.ttlMs, lookup.stamp);
      // Only a version the shared cache could take (read after its stamp) is kept here.
      this.keep(userId, version, generation);
    }
    return version;
  }

  /**
   * Reads the version through both caches (after a login or a refresh), so the user's first
   * signed-in request costs no round trip. Never fails: a cold cache is only slower.
   */
  async prime(userId: string): Promise<void> {
    await this.current(userId).catch(() => undefined);
  }

  /** After the version changed in PostgreSQL. */
  async changed(userId: string): Promise<void> {
    this.generation++;
    this.local?.delete(userId);
    await this.deps.cache?.invalidate([namespace(userId)]);
  }

  /**
   * PostgreSQL announced a change (made through any replica, migration 005): drop this process's
   * copy and the shared one. The replica that made the change may not have reached the shared
   * cache; this one drops it for it (a replica that cannot reach it either reads PostgreSQL until
   * its pending invalidation is through).
   */
  changedElsewhere(userId: string): void {
    void this.changed(userId).catch(() => undefined);
  }

  /** Announcements may have been missed (the LISTEN connection was lost): keep nothing read before. */
  forgetAll(): void {
    this.generation++;
    this.local?.clear();
  }

  private keep(userId: string, version: number | null, readAtGeneration: number): void {
    if (readAtGeneration === this.generation) this.local?.set(userId, { version });
  }
}
