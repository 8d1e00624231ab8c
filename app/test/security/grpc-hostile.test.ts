/**
 * Hostile gRPC against the real API (PostgreSQL): each row gets the status it states, nothing in
 * the database changes, and the server keeps answering (health SERVING after the table).
 */
import * as grpc from '@grpc/grpc-js';
import jwt from 'jsonwebtoken';
import { call, futureEvent, TEST_JWT_SECRET, type TestApi, startTestApi } from '../support/api';
import { grpcClients, unary, type GrpcClients, type RpcResult } from '../support/grpc';

let api: TestApi;
let clients: GrpcClients;
const TABLES = ['users', 'events', 'bookings', 'outbox'] as const;

interface Fixture {
  userA: string;
  userAId: string;
  userB: string;
  eventId: string;
  /** A's pending hold on a paid event. */
  bookingOfA: string;
  /** A's hold already being paid (payment_pending: no payments service runs here). */
  paidOfA: string;
  /** A's hold whose expiry has passed (no sweeper runs here: still pending). */
  lapsedOfA: string;
  /** A's hold on a free event (nothing to pay). */
  freeOfA: string;
}
let f: Fixture;

async function fingerprint(): Promise<string[]> {
  return Promise.all(
    TABLES.map(async (table) => {
      const { rows } = await api.db.pool.query<{ h: string }>(
        `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h FROM ${table} t`,
      );
      return rows[0]!.h;
    }),
  );
}

beforeAll(async () => {
  api = await startTestApi({ RATE_LIMIT_ANON: '0', RATE_LIMIT_READS: '0', RATE_LIMIT_WRITES: '0' }, { grpc: true });
  clients = grpcClients(api.grpcAddress!);
  const [organizer, userA, userB] = [await api.user('organizer'), await api.user(), await api.user()];
  const eventId = (await call<{ id: string }>(`${api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 10 }) })).body
    .id;
  const hold = async (event: string) =>
    (await call<{ id: string }>(`${api.url}/events/${event}/bookings`, { token: userA.token, body: { quantity: 1 } })).body.id;
  const [bookingOfA, paidOfA, lapsedOfA] = [await hold(eventId), await hold(eventId), await hold(eventId)];
  expect(
    (
      await call(`${api.url}/bookings/${paidOfA}/pay`, {
        token: userA.token,
        body: { paymentMethod: 'pm_card_visa' },
        headers: { 'Idempotency-Key': 'fixture-pay' },
      })
    ).status,
  ).toBe(202);
  await api.db.pool.query("UPDATE bookings SET expires_at = now() - interval '1 minute' WHERE id = $1", [lapsedOfA]);
  const freeEvent = (
    await call<{ id: string }>(`${api.url}/events`, { token: organizer.token, body: futureEvent({ capacity: 10, priceCents: 0 }) })
  ).body.id;
  f = {
    userA: userA.token,
    userAId: userA.id,
    userB: userB.token,
    eventId,
    bookingOfA,
    paidOfA,
    lapsedOfA,
    freeOfA: await hold(freeEvent),
  };
});
afterAll(async () => {
  clients.close();
  await api.close();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const claims = () => ({ sub: f.userAId, role: 'admin', ver: 0, iss: 'goticket', aud: 'goticket-api' });

/** A call with hand-made request bytes (what a broken or hostile client sends). */
function rawCall(path: string, bytes: Buffer, token?: string): Promise<RpcResult<Buffer>> {
  const client = new grpc.Client(api.grpcAddress!, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest<Buffer, Buffer>(
      path,
      (value) => value,
      (value) => value,
      bytes,
      metadata,
      {},
      (error, value) => {
        client.close();
        resolve(error ? { ok: false, code: error.code, details: error.details, metadata: error.metadata } : { ok: true, value: value! });
      },
    );
  });
}

interface Row {
  name: string;
  send: () => Promise<RpcResult<unknown>>;
  code: grpc.status;
  /** The google.rpc.ErrorInfo reason (the error table's kind), when the row says which refusal it is. */
  reason?: string;
  /** The field the google.rpc.BadRequest violation names. */
  field?: string;
}

const book = (request: Record<string, unknown>, token?: string, options: { deadlineMs?: number; metadata?: Record<string, string> } = {}) =>
  unary(clients.bookings, 'CreateBooking', { event_id: f.eventId, quantity: 1, ...request }, { token, ...options });

const pay = (request: Record<string, unknown>, token?: string) =>
  unary(clients.bookings, 'PayBooking', { id: f.bookingOfA, payment_method: 'pm_card_visa', ...request }, { token });

const rows: Row[] = [
  { name: 'no token', send: () => book({}), code: grpc.status.UNAUTHENTICATED },
  {
    name: 'expired token',
    send: () => book({}, jwt.sign({ ...claims(), role: 'user', exp: now() - 60 }, TEST_JWT_SECRET, { algorithm: 'HS256' })),
    code: grpc.status.UNAUTHENTICATED,
  },
  {
    name: 'alg none token',
    send: () => book({}, `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims(), exp: now() + 600 })}.`),
    code: grpc.status.UNAUTHENTICATED,
  },
  {
    name: 'token signed with another key',
    send: () => book({}, jwt.sign(claims(), 'not-the-secret-not-the-secret-not-the-secret', { algorithm: 'HS256', expiresIn: 600 })),
    code: grpc.status.UNAUTHENTICATED,
  },
  {
    name: 'Basic credentials in authorization',
    send: () => book({}, undefined, { metadata: { authorization: 'Basic YWRtaW46YWRtaW4=' } }),
    code: grpc.status.UNAUTHENTICATED,
  },
  {
    name: 'the token under another metadata key',
    send: () => book({}, undefined, { metadata: { auth: `Bearer ${f.userA}` } }),
    code: grpc.status.UNAUTHENTICATED,
  },
  {
    name: 'oversized message (200 KiB key)',
    send: () => book({ idempotency_key: 'k'.repeat(200 * 1024) }, f.userA),
    code: grpc.status.RESOURCE_EXHAUSTED,
  },
  {
    name: 'malformed protobuf bytes',
    send: () => rawCall('/goticket.v1.BookingService/CreateBooking', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), f.userA),
    code: grpc.status.INVALID_ARGUMENT,
  },
  {
    name: 'unknown method',
    send: () => rawCall('/goticket.v1.BookingService/DeleteEverything', Buffer.alloc(0), f.userA),
    code: grpc.status.UNIMPLEMENTED,
  },
  { name: 'unknown service', send: () => rawCall('/goticket.v1.AdminService/Drop', Buffer.alloc(0)), code: grpc.status.UNIMPLEMENTED },
  { name: 'negative quantity', send: () => book({ quantity: -5 }, f.userA), code: grpc.status.INVALID_ARGUMENT },
  { name: 'huge quantity (2^31 - 1)', send: () => book({ quantity: 2 ** 31 - 1 }, f.userA), code: grpc.status.INVALID_ARGUMENT },
  { name: 'zero quantity (the proto default)', send: () => book({ quantity: 0 }, f.userA), code: grpc.status.INVALID_ARGUMENT },
  { name: 'SQL in an event id', send: () => book({ event_id: "1' OR '1'='1" }, f.userA), code: grpc.status.INVALID_ARGUMENT },
  {
    name: 'control characters in the idempotency key',
    send: () => book({ idempotency_key: 'a\u0000b\nc' }, f.userA),
    code: grpc.status.INVALID_ARGUMENT,
  },
  { name: 'deadline already expired', send: () => book({}, f.userA, { deadlineMs: -1_000 }), code: grpc.status.DEADLINE_EXCEEDED },
  {
    name: "another user's booking",
    send: () => unary(clients.bookings, 'GetBooking', { id: f.bookingOfA }, { token: f.userB }),
    code: grpc.status.NOT_FOUND,
  },
  {
    name: "cancelling another user's booking",
    send: () => unary(clients.bookings, 'CancelBooking', { id: f.bookingOfA }, { token: f.userB }),
    code: grpc.status.NOT_FOUND,
  },
  {
    name: "confirming another user's booking",
    send: () => unary(clients.bookings, 'ConfirmBooking', { id: f.bookingOfA }, { token: f.userB }),
    code: grpc.status.NOT_FOUND,
  },
  { name: "paying another user's booking", send: () => pay({}, f.userB), code: grpc.status.NOT_FOUND, reason: 'NOT_FOUND' },
  {
    name: 'paying an unknown booking',
    send: () => pay({ id: '00000000-0000-4000-8000-000000000000' }, f.userA),
    code: grpc.status.NOT_FOUND,
    reason: 'NOT_FOUND',
  },
  {
    name: 'paying with a malformed booking id',
    send: () => pay({ id: "1' OR '1'='1" }, f.userA),
    code: grpc.status.INVALID_ARGUMENT,
    reason: 'VALIDATION',
  },
  {
    name: 'paying with a bad payment method',
    send: () => pay({ payment_method: 'card_4242424242424242' }, f.userA),
    code: grpc.status.INVALID_ARGUMENT,
    reason: 'VALIDATION',
    field: 'payment_method',
  },
  {
    name: 'paying with no payment method',
    send: () => pay({ payment_method: '' }, f.userA),
    code: grpc.status.INVALID_ARGUMENT,
    reason: 'VALIDATION',
    field: 'payment_method',
  },
  { name: 'paying with no token', send: () => pay({}), code: grpc.status.UNAUTHENTICATED, reason: 'UNAUTHENTICATED' },
  {
    name: 'paying with an expired token',
    send: () => pay({}, jwt.sign({ ...claims(), role: 'user', exp: now() - 60 }, TEST_JWT_SECRET, { algorithm: 'HS256' })),
    code: grpc.status.UNAUTHENTICATED,
    reason: 'UNAUTHENTICATED',
  },
  {
    name: 'paying a booking already being paid',
    send: () => pay({ id: f.paidOfA }, f.userA),
    code: grpc.status.FAILED_PRECONDITION,
    reason: 'INVALID_TRANSITION',
  },
  {
    name: 'paying again with the same key and another payment method',
    send: () => pay({ id: f.paidOfA, payment_method: 'pm_card_mastercard', idempotency_key: 'fixture-pay' }, f.userA),
    code: grpc.status.FAILED_PRECONDITION,
    reason: 'INVALID_TRANSITION',
  },
  {
    name: 'paying a lapsed hold',
    send: () => pay({ id: f.lapsedOfA }, f.userA),
    code: grpc.status.FAILED_PRECONDITION,
    reason: 'HOLD_EXPIRED',
  },
  {
    name: 'paying a hold on a free event',
    send: () => pay({ id: f.freeOfA }, f.userA),
    code: grpc.status.FAILED_PRECONDITION,
    reason: 'PAYMENT_NOT_REQUIRED',
  },
  {
    name: 'confirming a paid hold without paying',
    send: () => unary(clients.bookings, 'ConfirmBooking', { id: f.bookingOfA }, { token: f.userA }),
    code: grpc.status.FAILED_PRECONDITION,
    reason: 'PAYMENT_REQUIRED',
  },
  { name: 'page of 1,000', send: () => unary(clients.events, 'ListEvents', { page_size: 1000 }), code: grpc.status.INVALID_ARGUMENT },
  {
    name: 'forged page token',
    send: () => unary(clients.events, 'ListEvents', { page_token: 'eyJ0IjoiMSIsImlkIjoieCJ9' }),
    code: grpc.status.INVALID_ARGUMENT,
  },
  {
    name: 'timestamp out of range in a filter',
    send: () => unary(clients.events, 'ListEvents', { from: { seconds: '99999999999' } }),
    code: grpc.status.INVALID_ARGUMENT,
  },
];

describe('hostile gRPC', () => {
  it('has at least 15 rows', () => expect(rows.length).toBeGreaterThanOrEqual(15));

  it.each(rows.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const before = await fingerprint();
    const result = await row.send();
    expect(result.ok ? 'OK' : grpc.status[result.code]).toBe(grpc.status[row.code]);
    if (!result.ok) expect(result.details).not.toMatch(/\bat [\w.<>]+ \(|node_modules|SELECT |pg_/);
    if (row.field !== undefined)
      expect(result.ok ? [] : result.status?.fieldViolations.map((violation) => violation.field)).toEqual([row.field]);
    if (row.reason !== undefined) expect(result.ok ? undefined : result.status?.errorInfo?.reason).toBe(row.reason);
    expect(await fingerprint()).toEqual(before);
  });

  it('a call cancelled mid-way stops its statement and books nothing', async () => {
    const before = await fingerprint();
    const blocker = await api.db.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM events WHERE id = $1 FOR UPDATE', [f.eventId]);
      let pending: grpc.ClientUnaryCall | undefined;
      const result = unary(
        clients.bookings,
        'CreateBooking',
        { event_id: f.eventId, quantity: 1, idempotency_key: 'cancel-me' },
        { token: f.userB, signal: (c) => (pending = c) },
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      pending!.cancel();
      expect(await result).toMatchObject({ ok: false, code: grpc.status.CANCELLED });
      let waiting = 1;
      for (let i = 0; i < 40 && waiting > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const { rows: found } = await api.db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH reserved AS%'`,
        );
        waiting = found[0]!.n;
      }
      expect(waiting).toBe(0);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    expect(await fingerprint()).toEqual(before);
  });

  it('1,000 concurrent calls from one client: every one answered, the server still SERVING', async () => {
    const results = await Promise.all(
      Array.from({ length: 1_000 }, () => unary(clients.events, 'GetEvent', { id: f.eventId }, { deadlineMs: 30_000 })),
    );
    const codes = new Set(results.map((result) => (result.ok ? 'OK' : grpc.status[result.code])));
    expect([...codes].every((code) => code === 'OK' || code === 'RESOURCE_EXHAUSTED')).toBe(true);
    expect(results.filter((result) => result.ok).length).toBeGreaterThan(0);
    expect(await unary(clients.health, 'Check', { service: '' })).toEqual({ ok: true, value: { status: 'SERVING' } });
  });
});
