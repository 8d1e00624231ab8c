import type { RateLimiter, RateLimitPolicy, RateLimitVerdict } from '../ports';
import { LRUCache } from 'lru-cache';

interface Lease {
  /** Points taken from the shared store and not handed out yet. */
  left: number;
  /** The key's count in the store right after the lease was taken (the whole lease included). */
  consumed: number;
  /** End of the store's window for the key (ms, this process's clock). */
  resetAt: number;
  /** The store refused a lease: once `left` is used up, the key is refused here until `resetAt`. */
  refused: boolean;
}

export interface LeasedRateLimiterOptions {
  /** Points taken from the store at once; default `leaseSize(policy)`. */
  leaseSize?: number;
  /** Keys remembered at most (the least recently used forgotten first; forgetting only makes the limit stricter). */
  maxKeys?: number;
  now?: () => number;
}

/**
 * 2% of the budget per lease, between 1 (below 100 points every request asks the store) and
 * 1,000 (a client sending thousands of requests per second still gets its answers from the
 * lease while the next one is on its way).
 */
export function leaseSize(policy: RateLimitPolicy): number {
  return Math.min(1_000, Math.max(1, Math.floor(policy.points / 50)));
}

/**
 * A limiter that takes points from a shared one (Redis) in leases and hands them out in this
 * process without a round trip; the next lease is taken in the background when half of the
 * current one is used. The store counts every leased point, so all replicas together never allow
 * more than the limit; points leased but not used in their window are lost, so a client can be
 * refused up to (replicas × 2 × lease size) requests before the limit. Once the store refuses,
 * the key is refused here, without asking again, until the store's window ends. With a lease of
 * one point this is the shared limiter plus that remembered refusal.
 */
export class LeasedRateLimiter implements RateLimiter {
  readonly policy: RateLimitPolicy;
  private readonly size: number;
  private readonly now: () => number;
  private readonly leases: LRUCache<string, Lease>;
  private readonly leasing = new Map<string, Promise<unknown>>();

  constructor(
    private readonly shared: RateLimiter,
    options: LeasedRateLimiterOptions = {},
  ) {
    this.policy = shared.policy;
    this.size = Math.max(1, Math.floor(options.leaseSize ?? leaseSize(shared.policy)));
    this.leases = new LRUCache<string, Lease>({ max: options.maxKeys ?? 10_000 });
    this.now = options.now ?? Date.now;
  }

  /**
   * A verdict from this process's lease without waiting: a point of the lease, or the remembered
   * refusal. Null when the store has to be asked (no lease, lease used up, window over); nothing
   * is taken then.
   */
  tryConsume(key: string): RateLimitVerdict | null {
    const lease = this.leases.get(key);
    if (!lease) return null;
    const now = this.now();
    if (now >= lease.resetAt) {
      this.leases.delete(key);
      return null;
    }
    if (lease.left > 0) {
      lease.left--;
      if (lease.left < this.size / 2 && !lease.refused) this.prefetch(key, lease);
      return this.granted(lease, now);
    }
    if (lease.refused)
      return { allowed: false, limit: this.policy.points, consumed: lease.consumed, remaining: 0, resetMs: lease.resetAt - now };
    return null;
  }

  async consume(key: string, points = 1): Promise<RateLimitVerdict> {
    if (points !== 1) {
      this.leases.delete(key);
      return this.shared.consume(key, points);
    }
    for (;;) {
      const local = this.tryConsume(key);
      if (local) return local;
      const inFlight = this.leasing.get(key);
      if (!inFlight) return this.lease(key);
      // Another request is taking a lease for this key: share it, or take the next one.
      await inFlight.catch(() => undefined);
    }
  }

  /** Gives points back to the store; a key refused here asks the store again next time (the points may be what it lacks). */
  async refund(key: string, points = 1): Promise<void> {
    await this.shared.refund(key, points);
    if (this.leases.get(key)?.refused) this.leases.delete(key);
  }

  /** Resolves once no lease is in flight (a background prefetch included): for tests and shutdown. */
  async settled(): Promise<void> {
    while (this.leasing.size > 0) await Promise.allSettled([...this.leasing.values()]);
  }

  async reset(key: string): Promise<void> {
    this.leases.delete(key);
    await this.shared.reset(key);
  }

  /** Takes a lease from the store and its first point. */
  private lease(key: string): Promise<RateLimitVerdict> {
    const size = this.nextSize(this.leases.get(key));
    const taking = this.shared.consume(key, size).then((verdict) => {
      const now = this.now();
      const lease: Lease = {
        left: verdict.allowed ? size - 1 : 0,
        consumed: verdict.consumed,
        resetAt: now + verdict.resetMs,
        refused: !verdict.allowed,
      };
      this.remember(key, lease);
      return verdict.allowed ? this.granted(lease, now) : verdict;
    });
    return this.track(key, taking);
  }

  /** The next lease while the current one still has points: requests keep being answered meanwhile. */
  private prefetch(key: string, lease: Lease): void {
    if (this.leasing.has(key)) return;
    const size = this.nextSize(lease);
    const taking = this.shared.consume(key, size).then((verdict) => {
      const now = this.now();
      const resetAt = now + verdict.resetMs;
      // The store's window rolled over meanwhile: what is left of the old lease belonged to the old window.
      if (this.leases.get(key) !== lease || now >= lease.resetAt || resetAt > lease.resetAt + 1_000) {
        this.remember(key, { left: verdict.allowed ? size : 0, consumed: verdict.consumed, resetAt, refused: !verdict.allowed });
        return;
      }
      lease.consumed = verdict.consumed;
      if (verdict.allowed) lease.left += size;
      else lease.refused = true;
    });
    // A failure leaves the lease as it is: the next request that finds it used up asks again.
    this.track(key, taking).catch(() => undefined);
  }

  /** No more than the store said was left: a larger lease would be refused as a whole. */
  private nextSize(current: Lease | undefined): number {
    if (!current || this.now() >= current.resetAt) return this.size;
    return Math.max(1, Math.min(this.size, this.policy.points - current.consumed));
  }

  /** Marks a lease in flight until its outcome is stored (waiters then find it). */
  private track<T>(key: string, taking: Promise<T>): Promise<T> {
    const tracked = taking.finally(() => {
      if (this.leasing.get(key) === tracked) this.leasing.delete(key);
    });
    this.leasing.set(key, tracked);
    return tracked;
  }

  private granted(lease: Lease, now: number): RateLimitVerdict {
    const consumed = lease.consumed - lease.left;
    return {
      allowed: true,
      limit: this.policy.points,
      consumed,
      remaining: Math.max(0, this.policy.points - consumed),
      resetMs: lease.resetAt - now,
    };
  }

  private remember(key: string, lease: Lease): void {
    this.leases.set(key, lease);
  }
}
