/** scripts/smoke.ts against an in-memory fake of the HTTP contract: it passes on a correct
 *  service and fails, with one clear line, on each fault it exists to catch. */
import { type Server } from 'node:http';
import { main, optionsFromEnv, runSmoke, SmokeFailure, type SmokeOptions } from '../smoke';
import { ADMIN, startFakeApi, type Faults } from './fake-api';

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

async function smokeAgainst(faults: Faults, overrides: Partial<SmokeOptions> = {}) {
  const fake = await startFakeApi(faults);
  servers.push(fake.server);
  const lines: string[] = [];
  const options: SmokeOptions = {
    baseUrl: fake.url,
    adminEmail: ADMIN.email,
    adminPassword: ADMIN.password,
    burstRequests: 60,
    burstCapacity: 25,
    burstUsers: 3,
    readyTimeoutMs: 5000,
    requestTimeoutMs: 5000,
    log: (line) => lines.push(line),
    ...overrides,
  };
  return { run: runSmoke(options), lines, fake };
}

describe('smoke journey and burst', () => {
  it('passes against a correct service and reports the burst', async () => {
    const { run, lines } = await smokeAgainst({});
    const report = await run;
    expect(report.burst.seatsTaken).toBe(25);
    expect(report.burst.available).toBe(0);
    expect(report.burst.created + report.burst.soldOut).toBe(60);
    expect(Object.keys(report.statuses).every((status) => Number(status) < 500)).toBe(true);
    expect(lines.at(-1)).toMatch(/burst 60 bookings on 25 seats/);
  });

  it('tolerates throttling (429) in the burst and still checks the seat accounting', async () => {
    const { run } = await smokeAgainst({ throttleEvery: 7 });
    const report = await run;
    expect(report.burst.throttled).toBeGreaterThan(0);
    expect(report.burst.available).toBe(25 - report.burst.seatsTaken);
  });

  it('fails when a booking past capacity is accepted in the journey', async () => {
    const { run } = await smokeAgainst({ oversell: true });
    await expect(run).rejects.toThrow(/bookings → 201 \(expected 409\)/);
  });

  it('names an oversell in the burst', async () => {
    const { run } = await smokeAgainst({ oversellAfter: 5 });
    await expect(run).rejects.toThrow(SmokeFailure);
    await expect(run).rejects.toThrow(/^OVERSELL: \d+ seats booked on an event of 25$/);
  });

  it('fails on the first 5xx', async () => {
    const { run } = await smokeAgainst({ error500OnBooking: 9 });
    await expect(run).rejects.toThrow(/→ 500/);
  });

  it('fails when an Idempotency-Key retry creates a second booking', async () => {
    const { run } = await smokeAgainst({ ignoreIdempotency: true });
    await expect(run).rejects.toThrow(/Idempotency-Key .* created two bookings/);
  });

  it('fails fast with the URL when the service never becomes ready', async () => {
    await expect(
      runSmoke({
        ...optionsFromEnv({ BASE_URL: 'http://127.0.0.1:9', SMOKE_ADMIN_EMAIL: 'a', SMOKE_ADMIN_PASSWORD: 'b' }),
        readyTimeoutMs: 1,
        log: () => undefined,
      }),
    ).rejects.toThrow(/127\.0\.0\.1:9\/openapi\.json not served/);
  });

  it('main prints one FAIL line and returns 1 on bad configuration', async () => {
    const errors: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    try {
      expect(await main({ BASE_URL: 'not a url' })).toBe(1);
      expect(await main({ BASE_URL: 'http://x', BURST_REQUESTS: '-3', SMOKE_ADMIN_EMAIL: 'a', SMOKE_ADMIN_PASSWORD: 'b' })).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(errors).toEqual([
      'smoke: FAIL BASE_URL must be an http(s) URL, got "not a url"',
      'smoke: FAIL BURST_REQUESTS must be a positive integer, got "-3"',
    ]);
  });
});
