import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { MAX_QUANTITY, MIN_QUANTITY, type Booking } from '../../domain/booking';
import { ServiceUnavailableError } from '../../domain/errors';
import type {
  BookingQuery,
  BookingStore,
  HealthCheck,
  Page,
  PayInput,
  PayResult,
  ReserveInput,
  ReserveResult,
  TransitionResult,
} from '../../ports';
import { outsideCall } from '../../call-scope';
import { traceHeaders } from '../../observability/trace-context';
import { decodeCursor, encodeCursor } from './cursor';
import { failed, GroupCommit, succeeded, type GroupCommitState, type Outcome, type Overdue } from './group-commit';
import { isUniqueViolation } from './pool';
import { BOOKING_COLUMNS, BOOKING_EVENT_PAYLOAD, toBooking, type BookingRow } from './rows';
import { REFUND_REQUEST_PAYLOAD } from './saga';
import { guard } from './transitions';

/** `headers`: the parameter carrying the caller's trace context (null → '{}'), so the trace continues in the worker. */
const outboxFor = (type: string, from: string, headers: string) =>
  `INSERT INTO outbox (aggregate_type, aggregate_id, type, payload, headers)
   SELECT 'booking', b.id, '${type}', ${BOOKING_EVENT_PAYLOAD('b')}, COALESCE(${headers}::jsonb, '{}'::jsonb) FROM ${from} b`;

/**
 * The whole reservation in ONE statement: the conditional decrement takes the event's row lock,
 * and the booking and outbox inserts ride in the same statement, so the hot lock is held for a
 * single round trip. No row from `reserved` means sold out (or no such event).
 */
export const RESERVE_SQL = `WITH reserved AS (
    UPDATE events SET available = available - $3, updated_at = now()
     WHERE id = $1 AND deleted_at IS NULL AND available >= $3 AND ends_at > now()
     RETURNING id, price_cents
  ), b AS (
    INSERT INTO bookings (id, event_id, user_id, quantity, amount_cents, status, expires_at, idempotency_key, request_hash)
    SELECT $5, r.id, $2, $3, r.price_cents * $3, 'pending', now() + make_interval(secs => $4::double precision / 1000), $6, $7
      FROM reserved r
    RETURNING ${BOOKING_COLUMNS}
  ), ob AS (${outboxFor('booking.created', 'b', '$8')})
  SELECT ${BOOKING_COLUMNS} FROM b`;

/**
 * Group commit: the reservations queued for one event, in ONE statement. The event's row is
 * locked first (FOR NO KEY UPDATE: the lock the UPDATE takes anyway, so inserts elsewhere that
 * reference the event are not blocked) and read once; `walk` then serves the requests in arrival
 * order (`ord`) against the seats left, exactly as if they had come one at a time: a request that
 * does not fit is refused and a smaller one behind it may still get the seats. The decrement is
 * the sum of what was granted and is guarded again (`available >= total`); bookings are inserted
 * only through `upd`, so no booking exists without its seats. Every booking writes its outbox row
 * with its own caller's trace context.
 *
 * $1 event; arrays, one element per request in arrival order: $2 booking ids, $3 users,
 * $4 quantities, $5 holds (ms), $6 trace headers (JSON text or NULL). Always one outcome row (the
 * event's state after the batch) joined with the bookings made: `found` false = no such event.
 */
export const RESERVE_BATCH_SQL = `WITH RECURSIVE req AS MATERIALIZED (
    SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::double precision[], $6::text[])
      WITH ORDINALITY AS r(id, user_id, quantity, hold_ms, headers, ord)
  ), ev AS MATERIALIZED (
    SELECT id, available, price_cents, ends_at <= now() AS ended FROM events
     WHERE id = $1 AND deleted_at IS NULL
       FOR NO KEY UPDATE
  ), walk (ord, seats_left, granted) AS (
    SELECT 0::bigint, available, false FROM ev WHERE NOT ended
    UNION ALL
    SELECT r.ord, w.seats_left - CASE WHEN r.quantity <= w.seats_left THEN r.quantity ELSE 0 END, r.quantity <= w.seats_left
      FROM walk w JOIN req r ON r.ord = w.ord + 1
  ), granted AS MATERIALIZED (
    SELECT r.* FROM req r JOIN walk w ON w.ord = r.ord WHERE w.granted
  ), upd AS (
    UPDATE events e SET available = e.available - t.total, updated_at = now()
      FROM (SELECT sum(quantity)::int AS total FROM granted) t
     WHERE e.id = $1 AND t.total > 0 AND e.available >= t.total
     RETURNING e.id, e.price_cents, e.available
  ), b AS (
    INSERT INTO bookings (id, event_id, user_id, quantity, amount_cents, status, expires_at)
    SELECT g.id, u.id, g.user_id, g.quantity, u.price_cents * g.quantity, 'pending', now() + make_interval(secs => g.hold_ms / 1000)
      FROM granted g CROSS JOIN upd u
     ORDER BY g.ord
    RETURNING ${BOOKING_COLUMNS}
  ), ob AS (${outboxFor('booking.created', '(SELECT b.*, r.headers FROM b JOIN req r ON r.id = b.id ORDER BY r.ord)', 'b.headers')}
  ), outcome AS (
    SELECT EXISTS (SELECT FROM ev) AS found,
           coalesce((SELECT ended FROM ev), false) AS ended,
           coalesce((SELECT available FROM upd), (SELECT available FROM ev)) AS seats_left
  )
  SELECT o.found, o.ended, o.seats_left, ${BOOKING_COLUMNS} FROM outcome o LEFT JOIN b ON true`;

const CONFIRM_SQL = `WITH b AS (
    UPDATE bookings SET status = 'confirmed', updated_at = now()
     WHERE id = $1 AND ${guard('confirmed', ['pending'])} AND expires_at > now()
     RETURNING ${BOOKING_COLUMNS}
  ), ob AS (${outboxFor('booking.confirmed', 'b', '$2')})
  SELECT ${BOOKING_COLUMNS} FROM b`;

/**
 * Cancelling releases the seats in the same statement; the status guard makes it happen once. A
 * paid booking (its payment id recorded: confirmed by the saga) asks for its refund in the same
 * statement (`refund.requested`); a payment still in flight is refunded when it succeeds.
 */
const CANCEL_SQL = `WITH b AS (
    UPDATE bookings SET status = 'cancelled', updated_at = now(),
           refund_requested_at = CASE WHEN payment_id IS NOT NULL THEN now() END
     WHERE id = $1 AND ${guard('cancelled', ['pending', 'payment_pending', 'confirmed'])}
     RETURNING ${BOOKING_COLUMNS}, payment_id
  ), released AS (
    UPDATE events e SET available = e.available + b.quantity, updated_at = now() FROM b WHERE e.id = b.event_id
  ), ob AS (${outboxFor('booking.cancelled', 'b', '$2')}
  ), rr AS (
    INSERT INTO outbox (aggregate_type, aggregate_id, type, payload, headers)
    SELECT 'booking', b.id, 'refund.requested', ${REFUND_REQUEST_PAYLOAD('b', "'cancelled'")}, COALESCE($2::jsonb, '{}'::jsonb)
      FROM b WHERE b.payment_id IS NOT NULL
  )
  SELECT ${BOOKING_COLUMNS} FROM b`;

/**
 * pending (not lapsed) → payment_pending in ONE statement with its `payment.requested` outbox row:
 * what the payments service needs (amount, currency, method; the booking id is the provider's
 * idempotency key). The hold is extended to at least now + the payment window.
 * $1 booking, $2 owner, $3 method, $4 request fingerprint, $5 window (ms), $6 trace headers.
 */
export const PAY_SQL = `WITH b AS (
    UPDATE bookings SET status = 'payment_pending', payment_method = $3, pay_request_hash = $4, payment_requested_at = now(),
           expires_at = GREATEST(expires_at, now() + make_interval(secs => $5::double precision / 1000)), updated_at = now()
     WHERE id = $1 AND user_id = $2 AND ${guard('payment_pending', ['pending'])} AND expires_at > now()
     RETURNING ${BOOKING_COLUMNS}, payment_method
  ), ob AS (
    INSERT INTO outbox (aggregate_type, aggregate_id, type, payload, headers)
    SELECT 'booking', b.id, 'payment.requested',
           jsonb_build_object('bookingId', b.id, 'userId', b.user_id, 'eventId', b.event_id, 'amountCents', b.amount_cents,
                              'currency', e.currency, 'paymentMethod', b.payment_method, 'expiresAt', b.expires_at),
           COALESCE($6::jsonb, '{}'::jsonb)
      FROM b JOIN events e ON e.id = b.event_id
  )
  SELECT ${BOOKING_COLUMNS} FROM b`;

/** One reservation waiting in its event's queue; trace headers are taken in the caller's context. */
interface QueuedReservation {
  input: ReserveInput;
  bookingId: string;
  headers: Record<string, string> | null;
}

/** Every row carries the event's state after the batch; the booking columns are null when it booked nothing. */
type BatchRow = { found: boolean; ended: boolean; seats_left: number | null } & { [K in keyof BookingRow]: BookingRow[K] | null };

export interface PostgresBookingStoreOptions {
  /** Most reservations one batch statement makes for an event (group commit); 1 = one at a time, in arrival order. */
  maxBatch?: number;
  /**
   * A batch statement not answered by then fails its callers (503, Retry-After) and the event's
   * next batch goes out. Set it to the pool's query deadline: a statement on a dead connection
   * fails there anyway; this is the guarantee that the event's queue moves on even if it did not.
   */
  deadlineMs?: number;
  /** A reservation still waiting for its batch after this fails unrun (its request has given up). */
  maxWaitMs?: number;
  /** Liveness fails once a batch has been past its deadline, still unanswered, this long (default 60 s). */
  wedgedAfterMs?: number;
}

const OVERDUE_REASONS: Record<Overdue, string> = {
  deadline: 'query timeout',
  wait: 'booking queue wait timeout',
  'queue-full': 'booking queue full',
};

/** A failure one row can cause (data exception, integrity violation): it must not fail the rest of its batch. */
const isRowLevelError = (error: unknown) => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^2[23]/.test(code);
};

const refusal = (event: { found: boolean; ended: boolean; available: number }): ReserveResult =>
  !event.found ? { kind: 'event_not_found' } : event.ended ? { kind: 'event_ended' } : { kind: 'sold_out', available: event.available };

export class PostgresBookingStore implements BookingStore {
  /**
   * Reservations without an Idempotency-Key are grouped per event: while one statement for an
   * event is in flight the next callers queue, and the next statement serves them all (one lock
   * hold and one WAL flush for the batch instead of one each).
   */
  private readonly batches: GroupCommit<QueuedReservation, ReserveResult>;

  constructor(
    private readonly pool: Pool,
    private readonly options: PostgresBookingStoreOptions = {},
  ) {
    const maxBatch = options.maxBatch ?? 64;
    this.batches = new GroupCommit(maxBatch, (eventId, queued) => this.reserveBatch(eventId, queued), {
      deadlineMs: options.deadlineMs,
      maxWaitMs: options.maxWaitMs,
      // sixteen batches behind: at normal speed milliseconds; when the database is stuck, refused at once
      maxQueued: 16 * maxBatch,
      overdue: (why) => new ServiceUnavailableError('database', OVERDUE_REASONS[why]),
    });
  }

  /**
   * `bookings` (critical): down while an event's reservations are stuck (a batch past its deadline
   * still unanswered, or a reservation waiting past maxWaitMs), so traffic goes to replicas whose
   * booking path moves; not alive once a batch has been stuck for `wedgedAfterMs`.
   */
  healthCheck(): HealthCheck {
    const wedgedAfterMs = this.options.wedgedAfterMs ?? 60_000;
    return {
      name: 'bookings',
      critical: true,
      check: async () => {
        const state = this.batches.state();
        const waitedTooLong = this.options.maxWaitMs !== undefined && state.oldestWaitMs > this.options.maxWaitMs;
        return state.overdue > 0 || waitedTooLong ? 'down' : 'up';
      },
      alive: () => this.batches.state().oldestOverdueMs < wedgedAfterMs,
    };
  }

  /** The reservation queues' state (tests, metrics). */
  batchState(): GroupCommitState {
    return this.batches.state();
  }

  reserve(input: ReserveInput): Promise<ReserveResult> {
    // A keyed request needs its replay read and may lose a unique race: it keeps the single statement.
    // A quantity the schema refuses would only cost its batch a failed round trip.
    const batchable =
      !input.idempotencyKey && Number.isInteger(input.quantity) && input.quantity >= MIN_QUANTITY && input.quantity <= MAX_QUANTITY;
    if (!batchable) return this.reserveAlone(input, traceHeaders());
    return this.batches.submit(input.eventId, { input, bookingId: randomUUID(), headers: traceHeaders() });
  }

  /** One caller, one statement (RESERVE_SQL): Idempotency-Key requests, and a failed batch's callers one by one. */
  private async reserveAlone(input: ReserveInput, headers: Record<string, string> | null): Promise<ReserveResult> {
    if (input.idempotencyKey) {
      const replay = await this.replay(input);
      if (replay) return replay;
    }
    try {
      const { rows } = await this.pool.query<BookingRow>(RESERVE_SQL, [
        input.eventId,
        input.userId,
        input.quantity,
        input.holdMs,
        randomUUID(),
        input.idempotencyKey ?? null,
        input.requestHash ?? null,
        headers,
      ]);
      if (rows[0]) return { kind: 'created', booking: toBooking(rows[0]) };
    } catch (error) {
      // A concurrent request with the same key won; the statement rolled back whole (seats included).
      if (input.idempotencyKey && isUniqueViolation(error, 'bookings_user_idempotency_key')) {
        const replay = await this.replay(input);
        if (replay) return replay;
      }
      throw error;
    }
    // Only refusals pay for this second look, to say why.
    const { rows } = await this.pool.query<{ available: number; ended: boolean }>(
      'SELECT available, ends_at <= now() AS ended FROM events WHERE id = $1 AND deleted_at IS NULL',
      [input.eventId],
    );
    const event = rows[0];
    return refusal({ found: !!event, ended: event?.ended ?? false, available: event?.available ?? 0 });
  }

  /** One statement for the queue of one event; each caller is settled from the rows it returns. */
  private async reserveBatch(eventId: string, queued: QueuedReservation[]): Promise<Array<Outcome<ReserveResult>>> {
    let rows: BatchRow[];
    try {
      // Shared by every caller of the batch: no one caller's deadline cancels it (call-scope.ts).
      ({ rows } = await outsideCall(() =>
        this.pool.query<BatchRow>({
          // named: parsed and planned once per connection, not per batch
          name: 'goticket-reserve-batch',
          text: RESERVE_BATCH_SQL,
          values: [
            eventId,
            queued.map((q) => q.bookingId),
            queued.map((q) => q.input.userId),
            queued.map((q) => q.input.quantity),
            queued.map((q) => q.input.holdMs),
            queued.map((q) => (q.headers ? JSON.stringify(q.headers) : null)),
          ],
        }),
      ));
    } catch (error) {
      // The statement rolled back whole. If one caller's row can have caused it (its user deleted
      // meanwhile, a value out of range), each caller goes alone, in arrival order: only that one fails.
      if (queued.length === 1 || !isRowLevelError(error)) throw error;
      const outcomes: Array<Outcome<ReserveResult>> = [];
      for (const q of queued) outcomes.push(await this.reserveAlone(q.input, q.headers).then(succeeded, failed<ReserveResult>));
      return outcomes;
    }
    const event = rows[0]!;
    const made = new Map<string, BookingRow>();
    for (const row of rows) if (row.id !== null) made.set(row.id, row as BookingRow);
    const refused = refusal({ found: event.found, ended: event.ended, available: event.seats_left ?? 0 });
    return queued.map((q) => {
      const row = made.get(q.bookingId);
      return succeeded<ReserveResult>(row ? { kind: 'created', booking: toBooking(row) } : refused);
    });
  }

  private async replay(input: ReserveInput): Promise<ReserveResult | null> {
    const { rows } = await this.pool.query<BookingRow & { request_hash: string | null }>(
      `SELECT ${BOOKING_COLUMNS}, request_hash FROM bookings WHERE user_id = $1 AND idempotency_key = $2`,
      [input.userId, input.idempotencyKey],
    );
    const row = rows[0];
    if (!row) return null;
    if (row.request_hash !== (input.requestHash ?? null)) return { kind: 'idempotency_mismatch' };
    return { kind: 'replayed', booking: toBooking(row) };
  }

  async get(id: string): Promise<Booking | null> {
    const { rows } = await this.pool.query<BookingRow>(`SELECT ${BOOKING_COLUMNS} FROM bookings WHERE id = $1`, [id]);
    return rows[0] ? toBooking(rows[0]) : null;
  }

  async list(query: BookingQuery): Promise<Page<Booking>> {
    const params: unknown[] = [];
    const bind = (value: unknown) => `$${params.push(value)}`;
    const where: string[] = [];
    if (query.userId) where.push(`user_id = ${bind(query.userId)}`);
    if (query.status) where.push(`status = ${bind(query.status)}`);
    if (query.cursor) {
      const key = decodeCursor(query.cursor);
      where.push(`(created_at, id) < (${bind(key.t)}::timestamptz, ${bind(key.id)}::uuid)`);
    }
    const { rows } = await this.pool.query<BookingRow>(
      `SELECT ${BOOKING_COLUMNS} FROM bookings ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY created_at DESC, id DESC LIMIT ${bind(query.limit + 1)}`,
      params,
    );
    const items = rows.slice(0, query.limit).map(toBooking);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > query.limit && last ? encodeCursor(last.createdAt, last.id) : null };
  }

  confirm(id: string): Promise<TransitionResult> {
    return this.transition(CONFIRM_SQL, id);
  }

  cancel(id: string): Promise<TransitionResult> {
    return this.transition(CANCEL_SQL, id);
  }

  async pay(id: string, input: PayInput): Promise<PayResult> {
    const booking = await this.get(id);
    if (!booking) return { kind: 'not_found' };
    const { rows } = await this.pool.query<BookingRow>(PAY_SQL, [
      id,
      booking.userId,
      input.paymentMethod,
      input.requestHash,
      input.windowMs,
      traceHeaders(),
    ]);
    if (rows[0]) return { kind: 'ok', booking: toBooking(rows[0]) };
    const { rows: current } = await this.pool.query<BookingRow & { pay_request_hash: string | null }>(
      `SELECT ${BOOKING_COLUMNS}, pay_request_hash FROM bookings WHERE id = $1`,
      [id],
    );
    const row = current[0];
    if (!row) return { kind: 'not_found' };
    if (input.requestHash !== null && row.pay_request_hash === input.requestHash) return { kind: 'replayed', booking: toBooking(row) };
    return { kind: 'refused', booking: toBooking(row) };
  }

  private async transition(sql: string, id: string): Promise<TransitionResult> {
    const { rows } = await this.pool.query<BookingRow>(sql, [id, traceHeaders()]);
    if (rows[0]) return { kind: 'ok', booking: toBooking(rows[0]) };
    const current = await this.get(id);
    return current ? { kind: 'refused', booking: current } : { kind: 'not_found' };
  }
}
