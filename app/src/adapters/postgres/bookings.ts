import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { Booking } from '../../domain/booking';
import type { BookingQuery, BookingStore, Page, ReserveInput, ReserveResult, TransitionResult } from '../../ports';
import { traceHeaders } from '../../observability/trace-context';
import { decodeCursor, encodeCursor } from './cursor';
import { isUniqueViolation } from './pool';
import { BOOKING_COLUMNS, BOOKING_EVENT_PAYLOAD, toBooking, type BookingRow } from './rows';

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

const CONFIRM_SQL = `WITH b AS (
    UPDATE bookings SET status = 'confirmed', updated_at = now()
     WHERE id = $1 AND status = 'pending' AND expires_at > now()
     RETURNING ${BOOKING_COLUMNS}
  ), ob AS (${outboxFor('booking.confirmed', 'b', '$2')})
  SELECT ${BOOKING_COLUMNS} FROM b`;

/** Cancelling releases the seats in the same statement; the status guard makes it happen once. */
const CANCEL_SQL = `WITH b AS (
    UPDATE bookings SET status = 'cancelled', updated_at = now()
     WHERE id = $1 AND status IN ('pending', 'confirmed')
     RETURNING ${BOOKING_COLUMNS}
  ), released AS (
    UPDATE events e SET available = e.available + b.quantity, updated_at = now() FROM b WHERE e.id = b.event_id
  ), ob AS (${outboxFor('booking.cancelled', 'b', '$2')})
  SELECT ${BOOKING_COLUMNS} FROM b`;

export class PostgresBookingStore implements BookingStore {
  constructor(private readonly pool: Pool) {}

  async reserve(input: ReserveInput): Promise<ReserveResult> {
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
        traceHeaders(),
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
    if (!event) return { kind: 'event_not_found' };
    return event.ended ? { kind: 'event_ended' } : { kind: 'sold_out', available: event.available };
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

  private async transition(sql: string, id: string): Promise<TransitionResult> {
    const { rows } = await this.pool.query<BookingRow>(sql, [id, traceHeaders()]);
    if (rows[0]) return { kind: 'ok', booking: toBooking(rows[0]) };
    const current = await this.get(id);
    return current ? { kind: 'refused', booking: current } : { kind: 'not_found' };
  }
}
