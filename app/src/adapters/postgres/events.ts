import type { Pool } from 'pg';
import { ActiveBookingsError, CapacityBelowTakenError, ValidationError } from '../../domain/errors';
import { SEAT_HOLDING_STATUSES } from '../../domain/booking';
import { type Event, type EventPatch, type NewEvent } from '../../domain/event';
import { traceHeaders } from '../../observability/trace-context';
import type { EventQuery, EventStore, Page } from '../../ports';
import { decodeCursor, encodeCursor } from './cursor';
import { inTransaction, isCheckViolation } from './pool';
import { BOOKING_EVENT_PAYLOAD, EVENT_COLUMNS, toEvent, type EventRow } from './rows';
import { REFUND_REQUEST_PAYLOAD } from './saga';
import { guard, sqlStatuses } from './transitions';

const EVENT_PAYLOAD = `jsonb_build_object('eventId', e.id, 'organizerId', e.organizer_id, 'name', e.name,
  'startsAt', e.starts_at, 'endsAt', e.ends_at, 'priceCents', e.price_cents, 'currency', e.currency,
  'capacity', e.capacity, 'available', e.available)`;

/**
 * Appends the outbox insert for the rows of CTE `e` to a data-modifying statement; `headers` is
 * the parameter carrying the caller's trace context (null → '{}'), so the trace continues in the worker.
 */
const withOutbox = (cte: string, type: string, headers: string) => `WITH e AS (${cte}),
  ob AS (INSERT INTO outbox (aggregate_type, aggregate_id, type, payload, headers)
         SELECT 'event', e.id, '${type}', ${EVENT_PAYLOAD}, COALESCE(${headers}::jsonb, '{}'::jsonb) FROM e)
  SELECT ${EVENT_COLUMNS} FROM e`;

/**
 * An admin deletes an event with its bookings: every active one is cancelled (seats back, so the
 * deleted event's counts stay exact), each with booking.cancelled, and a paid one (its payment id
 * recorded) asks for its refund (refund.requested, reason event_deleted). A payment still in flight
 * is refunded when it succeeds (the booking is cancelled by then). $1 event, $2 trace headers.
 */
const CANCEL_EVENT_BOOKINGS_SQL = `WITH b AS (
    UPDATE bookings SET status = 'cancelled', updated_at = now(), refund_requested_at = CASE WHEN payment_id IS NOT NULL THEN now() END
     WHERE event_id = $1 AND ${guard('cancelled', SEAT_HOLDING_STATUSES)}
     RETURNING *
  ), released AS (
    UPDATE events e SET available = e.available + s.quantity, updated_at = now()
      FROM (SELECT sum(quantity)::int AS quantity FROM b) s WHERE e.id = $1 AND s.quantity > 0
  ), ob AS (
    INSERT INTO outbox (aggregate_type, aggregate_id, type, payload, headers)
    SELECT 'booking', b.id, 'booking.cancelled', ${BOOKING_EVENT_PAYLOAD('b')}, COALESCE($2::jsonb, '{}'::jsonb) FROM b
  ), rr AS (
    INSERT INTO outbox (aggregate_type, aggregate_id, type, payload, headers)
    SELECT 'booking', b.id, 'refund.requested', ${REFUND_REQUEST_PAYLOAD('b', "'event_deleted'")}, COALESCE($2::jsonb, '{}'::jsonb) FROM b WHERE b.payment_id IS NOT NULL
  )
  SELECT count(*)::int AS cancelled FROM b`;

export class PostgresEventStore implements EventStore {
  constructor(private readonly pool: Pool) {}

  async create(input: NewEvent & { organizerId: string }): Promise<Event> {
    const { rows } = await this.pool.query<EventRow>(
      withOutbox(
        `INSERT INTO events (organizer_id, name, description, venue, starts_at, ends_at, price_cents, currency, capacity, available)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING *`,
        'event.created',
        '$10',
      ),
      [
        input.organizerId,
        input.name,
        input.description,
        input.venue,
        input.startsAt,
        input.endsAt,
        input.priceCents,
        input.currency,
        input.capacity,
        traceHeaders(),
      ],
    );
    return toEvent(rows[0]!);
  }

  async get(id: string): Promise<Event | null> {
    const { rows } = await this.pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE id = $1 AND deleted_at IS NULL`, [id]);
    return rows[0] ? toEvent(rows[0]) : null;
  }

  async getMany(ids: readonly string[]): Promise<Event[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`,
      [ids],
    );
    return rows.map(toEvent);
  }

  async list(query: EventQuery): Promise<Page<Event>> {
    const params: unknown[] = [];
    const where = ['deleted_at IS NULL'];
    const bind = (value: unknown) => `$${params.push(value)}`;
    if (query.cursor) {
      const key = decodeCursor(query.cursor);
      where.push(`(starts_at, id) > (${bind(key.t)}::timestamptz, ${bind(key.id)}::uuid)`);
    }
    if (query.from) where.push(`starts_at >= ${bind(query.from)}`);
    if (query.to) where.push(`starts_at < ${bind(query.to)}`);
    if (query.minPrice !== undefined) where.push(`price_cents >= ${bind(query.minPrice)}`);
    if (query.maxPrice !== undefined) where.push(`price_cents <= ${bind(query.maxPrice)}`);
    // position() rather than LIKE: user text needs no escaping of % and _
    if (query.q) where.push(`position(lower(${bind(query.q)}) in lower(name)) > 0`);
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY starts_at, id LIMIT ${bind(query.limit + 1)}`,
      params,
    );
    const items = rows.slice(0, query.limit).map(toEvent);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > query.limit && last ? encodeCursor(last.startsAt, last.id) : null };
  }

  async update(id: string, patch: EventPatch): Promise<Event | null> {
    try {
      // One statement: the capacity delta is applied to the row as it is when locked, so a
      // concurrent booking can never be lost or push available below zero.
      const { rows } = await this.pool.query<EventRow>(
        withOutbox(
          `UPDATE events SET
             name = coalesce($2, name), description = coalesce($3, description), venue = coalesce($4, venue),
             starts_at = coalesce($5, starts_at), ends_at = coalesce($6, ends_at),
             price_cents = coalesce($7, price_cents), currency = coalesce($8, currency),
             capacity = coalesce($9, capacity),
             available = CASE WHEN $9::integer IS NULL THEN available ELSE available + ($9::integer - capacity) END,
             updated_at = now()
           WHERE id = $1 AND deleted_at IS NULL RETURNING *`,
          'event.updated',
          '$10',
        ),
        [
          id,
          patch.name,
          patch.description,
          patch.venue,
          patch.startsAt,
          patch.endsAt,
          patch.priceCents,
          patch.currency,
          patch.capacity,
          traceHeaders(),
        ],
      );
      return rows[0] ? toEvent(rows[0]) : null;
    } catch (error) {
      if (isCheckViolation(error, 'events_available_within_capacity')) {
        const current = await this.get(id);
        throw new CapacityBelowTakenError(current ? current.capacity - current.available : 0);
      }
      if (isCheckViolation(error, 'events_ends_after_start')) {
        throw new ValidationError('invalid schedule', [{ path: 'endsAt', message: 'must be after startsAt' }]);
      }
      throw error;
    }
  }

  delete(id: string, options: { cancelBookings?: boolean } = {}): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      // Lock first: a booking committed before we hold the lock is seen by the check below.
      const locked = await client.query('SELECT 1 FROM events WHERE id = $1 AND deleted_at IS NULL FOR UPDATE', [id]);
      if (locked.rowCount === 0) return false;
      if (options.cancelBookings) await client.query(CANCEL_EVENT_BOOKINGS_SQL, [id, traceHeaders()]);
      const active = await client.query(
        `SELECT 1 FROM bookings WHERE event_id = $1 AND status IN (${sqlStatuses(SEAT_HOLDING_STATUSES)}) LIMIT 1`,
        [id],
      );
      if (active.rowCount !== 0) throw new ActiveBookingsError();
      await client.query(
        withOutbox('UPDATE events SET deleted_at = now(), updated_at = now() WHERE id = $1 RETURNING *', 'event.deleted', '$2'),
        [id, traceHeaders()],
      );
      return true;
    });
  }
}
