import { LeasedRateLimiter, leaseSize } from '../../src/http/rate-limit-lease';
import type { RateLimiter, RateLimitPolicy, RateLimitVerdict } from '../../src/ports';

/** A fixed-window store like rate-limiter-flexible's: points are added even when refused. */
class FakeStore implements RateLimiter {
  calls: Array<{ key: string; points: number }> = [];
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  /** When set, consume waits for `release()`. */
  hold = false;
  private waiting: Array<() => void> = [];

  constructor(
    readonly policy: RateLimitPolicy,
    private readonly now: () => number,
  ) {}

  async consume(key: string, points = 1): Promise<RateLimitVerdict> {
    this.calls.push({ key, points });
    if (this.hold) await new Promise<void>((resolve) => this.waiting.push(resolve));
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || now >= window.resetAt) this.windows.set(key, (window = { count: 0, resetAt: now + this.policy.windowMs }));
    window.count += points;
    const allowed = window.count <= this.policy.points;
    return {
      allowed,
      limit: this.policy.points,
      consumed: window.count,
      remaining: Math.max(0, this.policy.points - window.count),
      resetMs: window.resetAt - now,
    };
  }

  release(): void {
    this.hold = false;
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  async refund(key: string, points = 1): Promise<void> {
    const window = this.windows.get(key);
    if (window) window.count = Math.max(0, window.count - points);
  }
  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('LeasedRateLimiter', () => {
  let now = 1_000_000;
  const clock = () => now;

  it('asks the store again after a refund once it refused a key (a point given back is usable at once)', async () => {
    const store = new FakeStore({ points: 2, windowMs: 60_000 }, clock);
    const limiter = new LeasedRateLimiter(store, { now: clock });
    expect((await limiter.consume('user')).allowed).toBe(true);
    expect((await limiter.consume('user')).allowed).toBe(true);
    expect((await limiter.consume('user')).allowed).toBe(false);
    expect(limiter.tryConsume('user')?.allowed).toBe(false); // remembered: the store is not asked
    await limiter.refund('user');
    await limiter.refund('user');
    const again = await limiter.consume('user');
    expect(again).toMatchObject({ allowed: true, remaining: 0 });
    expect(store.calls).toHaveLength(4);
  });

  it('takes a lease from the store once and answers the next requests from it, with exact counts', async () => {
    const store = new FakeStore({ points: 100, windowMs: 60_000 }, clock);
    const limiter = new LeasedRateLimiter(store, { leaseSize: 10, now: clock });
    expect(limiter.tryConsume('ip')).toBeNull(); // nothing leased yet, nothing taken
    const first = await limiter.consume('ip');
    expect(store.calls).toEqual([{ key: 'ip', points: 10 }]);
    expect(first).toMatchObject({ allowed: true, limit: 100, consumed: 1, remaining: 99, resetMs: 60_000 });
    const next = [];
    for (let i = 0; i < 4; i++) next.push(limiter.tryConsume('ip'));
    expect(next.map((v) => v?.remaining)).toEqual([98, 97, 96, 95]);
    expect(store.calls).toHaveLength(1);
  });

  it('takes the next lease in the background when half is used, so answers never wait for it', async () => {
    const store = new FakeStore({ points: 1_000, windowMs: 60_000 }, clock);
    const limiter = new LeasedRateLimiter(store, { leaseSize: 10, now: clock });
    await limiter.consume('ip'); // 9 left
    store.hold = true;
    for (let i = 0; i < 5; i++) expect(limiter.tryConsume('ip')?.allowed).toBe(true); // 4 left: below half
    expect(store.calls).toHaveLength(2); // the background lease is on its way
    for (let i = 0; i < 4; i++) expect(limiter.tryConsume('ip')?.allowed).toBe(true);
    expect(limiter.tryConsume('ip')).toBeNull(); // used up while the store is slow: the caller must wait
    const waiting = limiter.consume('ip');
    store.release();
    expect(await waiting).toMatchObject({ allowed: true, consumed: 11, remaining: 989 });
    expect(store.calls).toHaveLength(2);
  });

  it('shares one lease among concurrent requests of a key', async () => {
    const store = new FakeStore({ points: 1_000, windowMs: 60_000 }, clock);
    const limiter = new LeasedRateLimiter(store, { leaseSize: 20, now: clock });
    store.hold = true;
    const answers = Array.from({ length: 8 }, () => limiter.consume('ip'));
    await settle();
    store.release();
    const verdicts = await Promise.all(answers);
    expect(verdicts.every((v) => v.allowed)).toBe(true);
    expect(verdicts.map((v) => v.consumed).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(store.calls.filter((c) => c.points === 20)).toHaveLength(1);
  });

  it('never allows more than the limit across replicas sharing the store, and refuses at most 2 leases per replica early', async () => {
    const store = new FakeStore({ points: 100, windowMs: 60_000 }, clock);
    const replicas = [0, 1, 2].map(() => new LeasedRateLimiter(store, { leaseSize: 7, now: clock }));
    let allowed = 0;
    for (let i = 0; i < 300; i++) {
      const verdict = await replicas[i % 3]!.consume('ip');
      if (verdict.allowed) allowed++;
      if (i % 5 === 0) await settle(); // let background leases land
    }
    expect(allowed).toBeLessThanOrEqual(100);
    expect(allowed).toBeGreaterThanOrEqual(100 - 3 * 2 * 7);
  });

  it('remembers a refusal until the store’s window ends, without asking the store again', async () => {
    const store = new FakeStore({ points: 3, windowMs: 10_000 }, clock);
    const limiter = new LeasedRateLimiter(store, { leaseSize: 1, now: clock });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await limiter.consume('ip')).allowed);
    expect(statuses).toEqual([true, true, true, false, false, false]);
    expect(store.calls).toHaveLength(4); // the three points and the refused fourth
    const refusal = limiter.tryConsume('ip');
    expect(refusal).toMatchObject({ allowed: false, remaining: 0, limit: 3 });
    expect(refusal!.resetMs).toBe(10_000);
    now += 10_000;
    expect(await limiter.consume('ip')).toMatchObject({ allowed: true, consumed: 1 });
    expect(store.calls).toHaveLength(5);
  });

  it('asks for no more than the store said was left, so the last points are not lost to an oversized lease', async () => {
    const store = new FakeStore({ points: 12, windowMs: 60_000 }, clock);
    const limiter = new LeasedRateLimiter(store, { leaseSize: 10, now: clock });
    let allowed = 0;
    for (let i = 0; i < 20; i++) if ((await limiter.consume('ip')).allowed) allowed++;
    expect(allowed).toBe(12);
    expect(store.calls.map((c) => c.points)).toEqual([10, 2, 1]);
  });

  it('keeps keys apart and forgets the oldest beyond maxKeys (forgetting only makes it stricter)', async () => {
    const store = new FakeStore({ points: 100, windowMs: 60_000 }, clock);
    const limiter = new LeasedRateLimiter(store, { leaseSize: 10, maxKeys: 2, now: clock });
    await limiter.consume('a');
    await limiter.consume('b');
    await limiter.consume('c');
    expect(limiter.tryConsume('a')).toBeNull();
    expect(limiter.tryConsume('b')?.consumed).toBe(2);
    expect(limiter.tryConsume('c')?.consumed).toBe(2);
  });

  it('sizes leases at 2% of the budget, from 1 to 1,000', () => {
    expect(leaseSize({ points: 30, windowMs: 60_000 })).toBe(1);
    expect(leaseSize({ points: 600, windowMs: 60_000 })).toBe(12);
    expect(leaseSize({ points: 1_000_000, windowMs: 60_000 })).toBe(1_000);
  });
});
