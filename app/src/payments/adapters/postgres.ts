/** The payments service's tables (schema `payments`); every state change writes its message to payments.outbox in the same statement. */
import path from 'node:path';
import type { Pool } from 'pg';
import { readMigrations, type Migration } from '../../adapters/postgres/migrate';
import { traceHeaders } from '../../observability/trace-context';
import type { ChargeRequest, PaymentRecord, PaymentStatus, PaymentStore, ProviderIntent } from '../ports';

export const PAYMENTS_SCHEMA = 'payments';
export const PAYMENTS_OUTBOX = 'payments.outbox';
export const PAYMENTS_OUTBOX_CHANNEL = 'goticket_payments_outbox';
export const PAYMENTS_MIGRATIONS_DIR = path.join(__dirname, '..', 'migrations');

export function readPaymentMigrations(): Migration[] {
  return readMigrations(PAYMENTS_MIGRATIONS_DIR);
}

const COLUMNS = 'booking_id, user_id, amount_cents, currency, payment_method, status, intent_id, refund_id, refund_reason, updated_at';

interface Row {
  booking_id: string;
  user_id: string;
  amount_cents: string | number;
  currency: string;
  payment_method: string;
  status: PaymentStatus;
  intent_id: string | null;
  refund_id: string | null;
  refund_reason: string | null;
  updated_at: Date;
}

const toRecord = (row: Row): PaymentRecord => ({
  bookingId: row.booking_id,
  userId: row.user_id,
  amountCents: Number(row.amount_cents),
  currency: row.currency,
  paymentMethod: row.payment_method,
  status: row.status,
  intentId: row.intent_id,
  refundId: row.refund_id,
  refundReason: row.refund_reason,
  updatedAt: row.updated_at,
});

/** `headers`: the parameter carrying the trace context (the last one of each statement). */
const outbox = (
  type: string,
  payload: string,
  headers: string,
) => `INSERT INTO payments.outbox (aggregate_type, aggregate_id, type, payload, headers)
   SELECT 'payment', p.booking_id, '${type}', ${payload}, COALESCE(${headers}::jsonb, '{}'::jsonb) FROM p`;

// $1 booking, $2 intent id / refund id, ($3 reason), then the trace headers
const SUCCEED_SQL = `WITH p AS (
    UPDATE payments.payments SET status = 'succeeded', intent_id = $2, settled_at = now(), updated_at = now()
     WHERE booking_id = $1 AND status = 'processing'
     RETURNING *
  ), ob AS (${outbox('payment.succeeded', `jsonb_build_object('bookingId', p.booking_id, 'userId', p.user_id, 'paymentId', p.intent_id, 'amountCents', p.amount_cents, 'currency', p.currency)`, '$3')})
  SELECT count(*)::int AS n FROM p`;

const FAIL_SQL = `WITH p AS (
    UPDATE payments.payments SET status = 'failed', intent_id = coalesce($2, intent_id), failure_reason = left($3, 500), settled_at = now(), updated_at = now()
     WHERE booking_id = $1 AND status = 'processing'
     RETURNING *
  ), ob AS (${outbox('payment.failed', `jsonb_build_object('bookingId', p.booking_id, 'userId', p.user_id, 'reason', p.failure_reason, 'paymentId', p.intent_id)`, '$4')})
  SELECT count(*)::int AS n FROM p`;

const REFUNDED_SQL = `WITH p AS (
    UPDATE payments.payments SET status = 'refunded', refund_id = $2, refunded_at = now(), updated_at = now()
     WHERE booking_id = $1 AND status = 'refunding'
     RETURNING *
  ), ob AS (${outbox('refund.succeeded', `jsonb_build_object('bookingId', p.booking_id, 'userId', p.user_id, 'paymentId', p.intent_id, 'refundId', p.refund_id, 'amountCents', p.amount_cents, 'reason', p.refund_reason)`, '$3')})
  SELECT count(*)::int AS n FROM p`;

export class PostgresPaymentStore implements PaymentStore {
  constructor(private readonly pool: Pool) {}

  async seen(messageId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM payments.inbox WHERE message_id = $1', [messageId]);
    return (rowCount ?? 0) > 0;
  }

  async remember(messageId: string, source: 'broker' | 'webhook', type: string): Promise<void> {
    await this.pool.query('INSERT INTO payments.inbox (message_id, source, type) VALUES ($1, $2, $3) ON CONFLICT (message_id) DO NOTHING', [
      messageId,
      source,
      type.slice(0, 100),
    ]);
  }

  async open(request: ChargeRequest & { userId: string }): Promise<PaymentRecord> {
    const { rows } = await this.pool.query<Row>(
      `WITH ins AS (
         INSERT INTO payments.payments (booking_id, user_id, amount_cents, currency, payment_method)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (booking_id) DO NOTHING RETURNING ${COLUMNS}
       ) SELECT * FROM ins UNION ALL SELECT ${COLUMNS} FROM payments.payments WHERE booking_id = $1 AND NOT EXISTS (SELECT FROM ins)`,
      [request.bookingId, request.userId, request.amountCents, request.currency, request.paymentMethod],
    );
    if (rows[0]) return toRecord(rows[0]);
    // inserted concurrently by another delivery and not yet visible to this snapshot: read it again
    const again = await this.get(request.bookingId);
    if (!again) throw new Error(`payment of booking ${request.bookingId} neither created nor found`);
    return again;
  }

  async get(bookingId: string): Promise<PaymentRecord | null> {
    const { rows } = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM payments.payments WHERE booking_id = $1`, [bookingId]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async byIntent(intentId: string): Promise<PaymentRecord | null> {
    const { rows } = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM payments.payments WHERE intent_id = $1`, [intentId]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async recordIntent(bookingId: string, intentId: string): Promise<void> {
    await this.pool.query(
      `UPDATE payments.payments SET intent_id = $2, updated_at = now() WHERE booking_id = $1 AND status = 'processing'`,
      [bookingId, intentId],
    );
  }

  async succeed(bookingId: string, intent: ProviderIntent): Promise<boolean> {
    return this.count(SUCCEED_SQL, [bookingId, intent.id]);
  }

  async fail(bookingId: string, reason: string, intentId: string | null): Promise<boolean> {
    return this.count(FAIL_SQL, [bookingId, intentId, reason]);
  }

  async startRefund(bookingId: string, reason: string): Promise<PaymentRecord | null> {
    await this.pool.query(
      `UPDATE payments.payments SET status = 'refunding', refund_reason = $2, updated_at = now() WHERE booking_id = $1 AND status = 'succeeded'`,
      [bookingId, reason],
    );
    return this.get(bookingId);
  }

  async refunded(bookingId: string, refundId: string): Promise<boolean> {
    return this.count(REFUNDED_SQL, [bookingId, refundId]);
  }

  async unsettled(olderThanMs: number, limit: number): Promise<PaymentRecord[]> {
    const { rows } = await this.pool.query<Row>(
      `SELECT ${COLUMNS} FROM payments.payments
        WHERE status IN ('processing', 'refunding') AND updated_at <= now() - make_interval(secs => $1::double precision / 1000)
        ORDER BY updated_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map(toRecord);
  }

  async touch(bookingId: string): Promise<void> {
    await this.pool.query('UPDATE payments.payments SET attempts = attempts + 1, updated_at = now() WHERE booking_id = $1', [bookingId]);
  }

  /** Payments in processing/refunding, and those older than `stuckAfterMs` (the gauge). */
  async inFlight(stuckAfterMs: number): Promise<{ processing: number; refunding: number; stuck: number }> {
    const { rows } = await this.pool.query<{ processing: number; refunding: number; stuck: number }>(
      `SELECT count(*) FILTER (WHERE status = 'processing')::int AS processing, count(*) FILTER (WHERE status = 'refunding')::int AS refunding,
              count(*) FILTER (WHERE updated_at <= now() - make_interval(secs => $1::double precision / 1000))::int AS stuck
         FROM payments.payments WHERE status IN ('processing', 'refunding')`,
      [stuckAfterMs],
    );
    return rows[0] ?? { processing: 0, refunding: 0, stuck: 0 };
  }

  private async count(sql: string, params: unknown[]): Promise<boolean> {
    const { rows } = await this.pool.query<{ n: number }>(sql, [...params, traceHeaders()]);
    return (rows[0]?.n ?? 0) > 0;
  }
}
