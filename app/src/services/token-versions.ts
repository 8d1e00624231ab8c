import { cacheLookups } from '../observability/metrics';
import type { Cache, UserStore } from '../ports';

const GONE = 'gone';
const namespace = (userId: string) => `user:${userId}`;

/**
 * The current token version of a user, as PostgreSQL has it (users.token_version), read through
 * the cache. Role changes and logout-everywhere bump it in PostgreSQL and then invalidate here,
 * so an access token minted before stops working on the next request. A change made straight in
 * the database (a deleted user) is seen within `ttlMs`.
 */
export class TokenVersions {
  constructor(private readonly deps: { users: Pick<UserStore, 'findById'>; cache?: Cache; ttlMs: number }) {}

  /** null when the user no longer exists. */
  async current(userId: string): Promise<number | null> {
    const cache = this.deps.ttlMs > 0 ? this.deps.cache : undefined;
    const lookup = cache ? await cache.get(namespace(userId), 'version') : null;
    if (typeof lookup?.value === 'string') {
      cacheLookups.inc({ cache: 'token_version', result: 'hit' });
      return lookup.value === GONE ? null : Number(lookup.value);
    }
    if (cache) cacheLookups.inc({ cache: 'token_version', result: lookup ? 'miss' : 'unavailable' });
    const user = await this.deps.users.findById(userId);
    const version = user ? user.tokenVersion : null;
    if (cache && lookup) await cache.set(namespace(userId), 'version', version === null ? GONE : String(version), this.deps.ttlMs, lookup.stamp);
    return version;
  }

  /** After the version changed in PostgreSQL. */
  async changed(userId: string): Promise<void> {
    await this.deps.cache?.invalidate([namespace(userId)]);
  }
}
