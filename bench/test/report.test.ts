import { evaluateTargets, measurementRows, type Results } from '../lib/report';
import type { CheckoutOpenLoopResult, CheckoutResult } from '../scenarios/checkout';

const summary = (p99: number) => ({ count: 500, p50: p99 / 2, p95: p99 * 0.9, p99, max: p99, mean: p99 / 2 });
const closed = {
  checkouts: 500,
  connections: 64,
  providerLatencyMs: 50,
  confirmed: 500,
  checkoutsPerSecond: 35,
  holdToConfirmed: summary(2_500),
  payToConfirmed: summary(1_000),
  holdLatency: summary(400),
  payLatency: summary(300),
  cpuPerCheckoutUs: { api: 5_000, payments: 5_000, worker: 3_000, apiPlusPayments: 10_000 },
} as CheckoutResult;
const open = (p99: number) =>
  ({
    share: 0.5,
    closedLoopRate: 35,
    seconds: 3,
    targetRate: 17.5,
    scheduled: 53,
    confirmed: 53,
    failed: {},
    achievedRate: 17,
    holdToConfirmed: { p50: p99 / 2, p99, p999: p99, max: p99 },
    maxInFlight: 9,
    cpuPerCheckoutUs: closed.cpuPerCheckoutUs,
    problems: [],
  }) as CheckoutOpenLoopResult;

describe('checkout target (issue 20)', () => {
  const checkoutTargets = (r: Results) => evaluateTargets(r).filter((t) => t.target.startsWith('checkout'));

  it('is judged on the open-loop level, not on the closed loop’s queue depth', () => {
    const [met] = checkoutTargets({ checkout: closed, checkoutOpenLoop: open(280) });
    expect(met).toMatchObject({ threshold: 300, value: 280, met: true });
    expect(met!.target).toContain('open loop');
    const [missed] = checkoutTargets({ checkout: closed, checkoutOpenLoop: open(320) });
    expect(missed).toMatchObject({ value: 320, met: false });
  });

  it('is not listed without the open-loop level; the closed-loop figures stay in the table', () => {
    expect(checkoutTargets({ checkout: closed })).toEqual([]);
    const rows = measurementRows({ checkout: closed, checkoutOpenLoop: open(280) }).filter((row) => row[0] === '9 checkout');
    expect(rows.find((row) => row[1]!.startsWith('closed loop'))![1]).toContain("Little's law");
    expect(rows.find((row) => row[1]!.startsWith('open loop: checkouts'))![3]).toBe('140 ms / 280 ms / 280 ms');
  });
});
