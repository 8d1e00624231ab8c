/**
 * Sets `key` as the newest entry of an insertion-ordered map that holds at most `max` entries,
 * forgetting the oldest first. Left only for the http rate-limit leases until they move to
 * lru-cache (the services' and the memory cache's copies did); then this file goes.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
