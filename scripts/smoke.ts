/**
 * End-to-end smoke journey and a short booking burst against a running GoTicket API.
 *
 *   BASE_URL=https://goticket.local SMOKE_ADMIN_EMAIL=… SMOKE_ADMIN_PASSWORD=… npx tsx scripts/smoke.ts
 *
 * Journey: register → login → the admin promotes an organizer → the organizer creates an
 * event → users book concurrently → pay (confirmed by the payments saga) → cancel (seats come back) → idempotent retry →
 * sold out is a 409 problem. Burst: BURST_REQUESTS concurrent bookings on an event of
 * BURST_CAPACITY seats. Asserts no oversell (created quantities ≤ capacity and
 * available == capacity − taken), no refused booking that would have fitted, and zero 5xx.
 * Prints progress lines, then `smoke: OK …`; on failure one line `smoke: FAIL …` and exit 1.
 *
 * Env: BASE_URL (required), SMOKE_ADMIN_EMAIL / SMOKE_ADMIN_PASSWORD (fall back to ADMIN_EMAIL /
 * ADMIN_PASSWORD), BURST_REQUESTS (120), BURST_CAPACITY (25), BURST_USERS (4),
 * SMOKE_READY_TIMEOUT (seconds, 180), SMOKE_REQUEST_TIMEOUT (seconds, 20).
 */
import { randomBytes, randomUUID } from 'node:crypto';

export interface SmokeOptions {
  baseUrl: string;
  adminEmail: string;
  adminPassword: string;
  burstRequests: number;
  burstCapacity: number;
  burstUsers: number;
  readyTimeoutMs: number;
  requestTimeoutMs: number;
  log: (line: string) => void;
}

export interface SmokeReport {
  requests: number;
  statuses: Record<string, number>;
  burst: { created: number; seatsTaken: number; soldOut: number; throttled: number; available: number; p95Ms: number };
}

export class SmokeFailure extends Error {}

interface Json {
  [key: string]: unknown;
}
interface Response {
  status: number;
  body: Json;
  contentType: string;
  requestId: string | null;
  retryAfter: string | null;
  ms: number;
}
interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  expect: number[];
  /** retry 429 (honouring Retry-After) instead of returning it; off for the burst */
  retryThrottled?: boolean;
}
interface Session {
  id: string;
  email: string;
  password: string;
  token: string;
}
interface EventJson {
  id: string;
  capacity: number;
  available: number;
  priceCents: number;
}
interface BookingJson {
  id: string;
  eventId: string;
  quantity: number;
  amountCents: number;
  status: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function fail(message: string): never {
  throw new SmokeFailure(message);
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) fail(message);
}

export function optionsFromEnv(env: NodeJS.ProcessEnv): SmokeOptions {
  const number = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value <= 0) fail(`${name} must be a positive integer, got "${raw}"`);
    return value;
  };
  const baseUrl = env.BASE_URL ?? '';
  if (!/^https?:\/\/[^/]+/.test(baseUrl)) fail(`BASE_URL must be an http(s) URL, got "${baseUrl}"`);
  const adminEmail = env.SMOKE_ADMIN_EMAIL || env.ADMIN_EMAIL || '';
  const adminPassword = env.SMOKE_ADMIN_PASSWORD || env.ADMIN_PASSWORD || '';
  if (!adminEmail || !adminPassword) fail('SMOKE_ADMIN_EMAIL and SMOKE_ADMIN_PASSWORD (or ADMIN_EMAIL/ADMIN_PASSWORD) are required');
  return {
    baseUrl: baseUrl.replace(/\/+$/, ''),
    adminEmail,
    adminPassword,
    burstRequests: number('BURST_REQUESTS', 120),
    burstCapacity: number('BURST_CAPACITY', 25),
    burstUsers: number('BURST_USERS', 4),
    readyTimeoutMs: number('SMOKE_READY_TIMEOUT', 180) * 1000,
    requestTimeoutMs: number('SMOKE_REQUEST_TIMEOUT', 20) * 1000,
    log: (line) => console.log(line),
  };
}

class Client {
  readonly statuses = new Map<number, number>();
  requests = 0;

  constructor(private readonly options: SmokeOptions) {}

  async call(method: string, path: string, call: CallOptions): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      const response = await this.once(method, path, call);
      if (response.status === 429 && call.retryThrottled !== false && !call.expect.includes(429) && attempt < 6) {
        await sleep(retryDelay(response, attempt));
        continue;
      }
      if (!call.expect.includes(response.status)) {
        fail(`${method} ${path} → ${response.status} (expected ${call.expect.join('|')}): ${describe(response.body)}`);
      }
      return response;
    }
  }

  private async once(method: string, path: string, call: CallOptions): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
    if (call.token) headers.authorization = `Bearer ${call.token}`;
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    const started = performance.now();
    let raw: globalThis.Response;
    try {
      raw = await fetch(`${this.options.baseUrl}${path}`, {
        method,
        headers,
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
    } catch (error) {
      fail(`${method} ${path}: ${(error as Error).cause ? String((error as Error).cause) : (error as Error).message}`);
    }
    const text = await raw.text();
    const ms = performance.now() - started;
    this.requests++;
    this.statuses.set(raw.status, (this.statuses.get(raw.status) ?? 0) + 1);
    if (raw.status >= 500) fail(`${method} ${path} → ${raw.status}: ${text.slice(0, 200) || raw.statusText}`);
    let body: Json = {};
    if (text) {
      try {
        body = JSON.parse(text) as Json;
      } catch {
        body = { raw: text.slice(0, 200) };
      }
    }
    return {
      status: raw.status,
      body,
      contentType: raw.headers.get('content-type') ?? '',
      requestId: raw.headers.get('x-request-id'),
      retryAfter: raw.headers.get('retry-after'),
      ms,
    };
  }
}

function retryDelay(response: Response, attempt: number): number {
  const header = Number(response.retryAfter ?? NaN);
  const seconds = Number.isFinite(header) ? header : 2 ** attempt / 4;
  return Math.min(10_000, Math.max(250, seconds * 1000));
}

function describe(body: Json): string {
  const text = [body.title, body.detail].filter((part) => typeof part === 'string').join(': ');
  return text || JSON.stringify(body).slice(0, 200);
}

function asEvent(body: Json, what: string): EventJson {
  check(
    typeof body.id === 'string' && typeof body.capacity === 'number' && typeof body.available === 'number',
    `${what}: not an event: ${JSON.stringify(body).slice(0, 200)}`,
  );
  return body as unknown as EventJson;
}

function asBooking(body: Json, what: string): BookingJson {
  check(
    typeof body.id === 'string' && typeof body.quantity === 'number' && typeof body.status === 'string',
    `${what}: not a booking: ${JSON.stringify(body).slice(0, 200)}`,
  );
  return body as unknown as BookingJson;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0);
}

export async function runSmoke(options: SmokeOptions): Promise<SmokeReport> {
  const api = new Client(options);
  const log = options.log;
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const password = () => `Sm0ke!${randomBytes(12).toString('base64url')}`;

  // 0. Readiness through the edge: the Gateway's HTTPRoute exposes only /api, /docs and /openapi.json
  // (/healthz stays inside the cluster), and the Service routes to ready pods only, so a 200 for
  // /openapi.json through the Gateway means a ready api behind a programmed route.
  const deadline = Date.now() + options.readyTimeoutMs;
  for (;;) {
    let last: string;
    try {
      const response = await fetch(`${options.baseUrl}/openapi.json`, { signal: AbortSignal.timeout(5000) });
      if (response.status === 200) break;
      last = `HTTP ${response.status}`;
    } catch (error) {
      const { cause, message } = error as Error;
      last = cause instanceof Error ? cause.message : typeof cause === 'string' ? cause : message;
    }
    if (Date.now() > deadline)
      fail(
        `${options.baseUrl}/openapi.json not served after ${options.readyTimeoutMs / 1000}s (${last}): the api is not ready or the route is not programmed`,
      );
    await sleep(2000);
  }
  log(`smoke: ${options.baseUrl} is ready (run ${run})`);

  const register = async (name: string): Promise<Omit<Session, 'token'>> => {
    const email = `smoke-${run}-${name}@example.com`;
    const pw = password();
    const created = await api.call('POST', '/api/v1/auth/register', { body: { email, password: pw }, expect: [201] });
    check(typeof created.body.id === 'string', `register ${name}: no id in ${JSON.stringify(created.body)}`);
    check(created.body.role === 'user', `register ${name}: role is ${String(created.body.role)}, expected user`);
    check(!('password' in created.body) && !('passwordHash' in created.body), `register ${name}: the response leaks a password field`);
    return { id: created.body.id, email, password: pw };
  };
  const login = async (user: { email: string; password: string }): Promise<string> => {
    const response = await api.call('POST', '/api/v1/auth/login', { body: { email: user.email, password: user.password }, expect: [200] });
    check(
      typeof response.body.accessToken === 'string' && response.body.tokenType === 'Bearer',
      `login ${user.email}: unexpected body ${describe(response.body)}`,
    );
    return response.body.accessToken;
  };
  const session = async (name: string): Promise<Session> => {
    const user = await register(name);
    return { ...user, token: await login(user) };
  };
  const getEvent = async (id: string): Promise<EventJson> =>
    asEvent((await api.call('GET', `/api/v1/events/${id}`, { expect: [200] })).body, `GET /events/${id}`);
  const book = (user: Session, eventId: string, quantity: number, headers?: Record<string, string>) =>
    api.call('POST', `/api/v1/events/${eventId}/bookings`, { token: user.token, body: { quantity }, headers, expect: [201] });
  const eventBody = (name: string, capacity: number) => {
    const startsAt = new Date(Date.now() + 30 * 86_400_000);
    const endsAt = new Date(startsAt.getTime() + 3 * 3_600_000);
    return {
      name,
      description: 'created by scripts/smoke.ts',
      venue: 'Smoke Hall',
      startsAt: startsAt.toISOString(),
      endsAt: endsAt.toISOString(),
      priceCents: 2500,
      currency: 'EUR',
      capacity,
    };
  };
  const createEvent = async (organizer: Session, name: string, capacity: number): Promise<EventJson> => {
    const response = await api.call('POST', '/api/v1/events', { token: organizer.token, body: eventBody(name, capacity), expect: [201] });
    const event = asEvent(response.body, 'POST /events');
    check(
      event.capacity === capacity && event.available === capacity,
      `new event: capacity ${event.capacity}, available ${event.available}, expected ${capacity}/${capacity}`,
    );
    return event;
  };

  // 1. Accounts: an organizer-to-be and two customers; a duplicate e-mail is a 409 problem.
  const [organizerUser, alice, bob] = await Promise.all([register('organizer'), session('alice'), session('bob')]);
  const duplicate = await api.call('POST', '/api/v1/auth/register', { body: { email: alice.email, password: password() }, expect: [409] });
  check(
    duplicate.contentType.includes('application/problem+json'),
    `duplicate register: content-type ${duplicate.contentType}, expected application/problem+json`,
  );
  log('smoke: registered 3 users, duplicate e-mail refused with 409');

  // 2. The admin promotes the organizer; the organizer signs in again to carry the new role.
  const adminToken = await login({ email: options.adminEmail, password: options.adminPassword });
  const customerTry = await api.call('PATCH', `/api/v1/users/${organizerUser.id}/role`, {
    token: alice.token,
    body: { role: 'organizer' },
    expect: [403, 404],
  });
  check(customerTry.status === 403 || customerTry.status === 404, 'a customer could change roles');
  await api.call('PATCH', `/api/v1/users/${organizerUser.id}/role`, { token: adminToken, body: { role: 'organizer' }, expect: [200] });
  const organizer: Session = { ...organizerUser, token: await login(organizerUser) };
  const me = await api.call('GET', '/api/v1/users/me', { token: organizer.token, expect: [200] });
  check(me.body.role === 'organizer', `GET /users/me after promotion: role ${String(me.body.role)}, expected organizer`);
  await api.call('POST', '/api/v1/events', { token: alice.token, body: eventBody('not allowed', 1), expect: [403] });
  log('smoke: admin promoted the organizer; a customer cannot create events');

  // 3. Event with 10 seats; Alice (3) and Bob (4) book at the same time.
  const event = await createEvent(organizer, `Smoke ${run}`, 10);
  const [aliceBooking, bobBooking] = (await Promise.all([book(alice, event.id, 3), book(bob, event.id, 4)])).map((response, index) =>
    asBooking(response.body, `booking ${index}`),
  );
  for (const booking of [aliceBooking!, bobBooking!]) {
    check(booking.status === 'pending', `new booking ${booking.id}: status ${booking.status}, expected pending`);
    check(
      booking.amountCents === booking.quantity * event.priceCents,
      `booking ${booking.id}: amountCents ${booking.amountCents} != ${booking.quantity} × ${event.priceCents}`,
    );
  }
  check((await getEvent(event.id)).available === 3, 'after 3 + 4 seats held on 10, available is not 3');
  const soldOut = await api.call('POST', `/api/v1/events/${event.id}/bookings`, {
    token: alice.token,
    body: { quantity: 4 },
    expect: [409],
  });
  check(
    soldOut.contentType.includes('application/problem+json'),
    `sold out: content-type ${soldOut.contentType}, expected application/problem+json`,
  );
  log('smoke: concurrent holds 3 + 4 on 10 seats → 3 left; 4 more refused with 409');

  // 4. Pay (the payments saga confirms it), privacy, cancel → seats come back.
  const paying = asBooking(
    (
      await api.call('POST', `/api/v1/bookings/${aliceBooking!.id}/pay`, {
        token: alice.token,
        body: { paymentMethod: 'pm_card_visa' },
        expect: [202],
      })
    ).body,
    'pay',
  );
  check(paying.status === 'payment_pending', `pay: status ${paying.status}, expected payment_pending`);
  let confirmed = paying;
  for (const deadline = Date.now() + 30_000; confirmed.status === 'payment_pending' && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    confirmed = asBooking(
      (await api.call('GET', `/api/v1/bookings/${aliceBooking!.id}`, { token: alice.token, expect: [200] })).body,
      'paid booking',
    );
  }
  check(
    confirmed.status === 'confirmed',
    `pay: status ${confirmed.status} 30 s after paying, expected confirmed (is the payments role running?)`,
  );
  await api.call('GET', `/api/v1/bookings/${aliceBooking!.id}`, { token: bob.token, expect: [404] });
  const cancelled = asBooking(
    (await api.call('POST', `/api/v1/bookings/${bobBooking!.id}/cancel`, { token: bob.token, expect: [200] })).body,
    'cancel',
  );
  check(cancelled.status === 'cancelled', `cancel: status ${cancelled.status}`);
  check((await getEvent(event.id)).available === 7, 'after cancelling 4 seats, available is not 7');
  log("smoke: Alice paid and is confirmed, Bob cancelled → 7 seats available; other users' bookings are 404");

  // 5. Idempotency: a client retry with the same key gives the same booking, not a second one.
  const key = randomUUID();
  const first = await book(bob, event.id, 2, { 'Idempotency-Key': key });
  const second = await api.call('POST', `/api/v1/events/${event.id}/bookings`, {
    token: bob.token,
    body: { quantity: 2 },
    headers: { 'Idempotency-Key': key },
    expect: [200, 201],
  });
  check(
    first.body.id === second.body.id,
    `Idempotency-Key ${key} created two bookings (${String(first.body.id)}, ${String(second.body.id)})`,
  );
  check((await getEvent(event.id)).available === 5, 'an idempotent retry took seats twice');
  await api.call('POST', `/api/v1/bookings/${String(first.body.id)}/cancel`, { token: bob.token, expect: [200] });
  check((await getEvent(event.id)).available === 7, 'cancel after the idempotent booking did not give the seats back');
  const traced = await api.call('GET', `/api/v1/events/${event.id}`, { headers: { 'X-Request-Id': `smoke-${run}` }, expect: [200] });
  check(traced.requestId === `smoke-${run}`, `X-Request-Id not echoed (got ${String(traced.requestId)})`);
  log('smoke: idempotent retry returned the same booking; X-Request-Id echoed');

  // 6. Burst: many concurrent bookings on a small event.
  const burstEvent = await createEvent(organizer, `Smoke burst ${run}`, options.burstCapacity);
  const buyers = await Promise.all(Array.from({ length: options.burstUsers }, (_, index) => session(`burst${index}`)));
  const quantityOf = (index: number) => 1 + (index % 3);
  const outcomes = await Promise.all(
    Array.from({ length: options.burstRequests }, (_, index) =>
      api.call('POST', `/api/v1/events/${burstEvent.id}/bookings`, {
        token: buyers[index % buyers.length]!.token,
        body: { quantity: quantityOf(index) },
        expect: [201, 409, 429],
        retryThrottled: false,
      }),
    ),
  );
  let seatsTaken = 0;
  let created = 0;
  let throttled = 0;
  let smallestRefused = Infinity;
  outcomes.forEach((response, index) => {
    if (response.status === 201) {
      const booking = asBooking(response.body, 'burst booking');
      check(
        booking.quantity === quantityOf(index) && booking.eventId === burstEvent.id,
        `burst booking ${booking.id} does not match its request`,
      );
      seatsTaken += booking.quantity;
      created++;
    } else if (response.status === 409) {
      smallestRefused = Math.min(smallestRefused, quantityOf(index));
    } else {
      throttled++;
    }
  });
  const soldOutCount = outcomes.length - created - throttled;
  check(seatsTaken <= burstEvent.capacity, `OVERSELL: ${seatsTaken} seats booked on an event of ${burstEvent.capacity}`);
  const after = await getEvent(burstEvent.id);
  check(
    after.available === burstEvent.capacity - seatsTaken,
    `seat accounting: available ${after.available} != capacity ${burstEvent.capacity} − taken ${seatsTaken}`,
  );
  check(after.available >= 0 && after.available <= after.capacity, `available ${after.available} outside 0..${after.capacity}`);
  // Seats only go down during the burst, so a refusal for q seats means fewer than q were ever left after it.
  check(after.available < smallestRefused, `a booking of ${smallestRefused} was refused as sold out but ${after.available} seats remain`);
  const listed = await seatsListedFor(api, buyers, burstEvent.id);
  if (listed !== null)
    check(listed === seatsTaken, `GET /bookings lists ${listed} held seats for the burst event, the burst created ${seatsTaken}`);
  const p95Ms = percentile(
    outcomes.map((response) => response.ms),
    95,
  );
  log(
    `smoke: burst ${options.burstRequests} bookings on ${burstEvent.capacity} seats → ${created} created (${seatsTaken} seats), ${soldOutCount} sold out, ${throttled} throttled; ${after.available} left; p95 ${p95Ms} ms`,
  );

  check(![...api.statuses.keys()].some((status) => status >= 500), 'a 5xx response was seen');
  return {
    requests: api.requests,
    statuses: Object.fromEntries([...api.statuses.entries()].sort(([a], [b]) => a - b).map(([status, count]) => [String(status), count])),
    burst: { created, seatsTaken, soldOut: soldOutCount, throttled, available: after.available, p95Ms },
  };
}

/** Sum of pending+confirmed quantities the buyers see for an event, or null when the list shape is unknown. */
async function seatsListedFor(api: Client, buyers: Session[], eventId: string): Promise<number | null> {
  let total = 0;
  for (const buyer of buyers) {
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const query = `?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const response = await api.call('GET', `/api/v1/bookings${query}`, { token: buyer.token, expect: [200] });
      const body = response.body as unknown;
      const items = Array.isArray(body) ? body : Array.isArray((body as Json).items) ? ((body as Json).items as unknown[]) : null;
      if (items === null) return null;
      for (const item of items as BookingJson[]) {
        if (item.eventId === eventId && (item.status === 'pending' || item.status === 'confirmed')) total += item.quantity;
      }
      const next = Array.isArray(body) ? undefined : (body as Json).nextCursor;
      if (typeof next !== 'string' || next === '') break;
      cursor = next;
    }
  }
  return total;
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const report = await runSmoke(optionsFromEnv(env));
    const statuses = Object.entries(report.statuses)
      .map(([status, count]) => `${status}×${count}`)
      .join(' ');
    console.log(`smoke: OK — ${report.requests} requests (${statuses}), no 5xx, no oversell`);
    return 0;
  } catch (error) {
    const message = error instanceof SmokeFailure ? error.message : `unexpected error: ${(error as Error).stack ?? String(error)}`;
    console.error(`smoke: FAIL ${message.split('\n')[0]}`);
    return 1;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
