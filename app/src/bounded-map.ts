/**
 * Sets `key` as the newest entry of an insertion-ordered map that holds at most `max` entries,
 * forgetting the oldest first: the in-process copies (token versions, verified tokens, seat marks,
 * rate-limit leases, the memory cache) use it so no key space can grow memory without bound.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
