import type { Pool } from 'pg';
import type { ClaimedNotification, ClaimResult, NotificationInput, NotificationLog } from '../../ports';

/**
 * Records the notification (unique per booking and type) and takes the right to send it in one
 * statement: a row comes back only on the first record, or when an earlier attempt neither sent
 * it nor still holds its lease. A redelivery of a sent notification returns nothing.
 */
const CLAIM_SQL = `INSERT INTO notifications (booking_id, type, message_id, user_id, recipient, payload, claimed_at)
  VALUES ($1, $2, $3, $4, (SELECT email FROM users WHERE id = $4), $5, now())
  ON CONFLICT ON CONSTRAINT notifications_booking_type DO UPDATE
     SET claimed_at = now(), attempts = notifications.attempts + 1
   WHERE notifications.sent_at IS NULL
     AND (notifications.claimed_at IS NULL OR notifications.claimed_at < now() - make_interval(secs => $6::double precision / 1000))
  RETURNING id, recipient`;

const STATE_SQL = `SELECT sent_at IS NOT NULL AS sent,
    (extract(epoch FROM claimed_at + make_interval(secs => $3::double precision / 1000) - now()) * 1000)::float8 AS lease_left_ms
  FROM notifications WHERE booking_id = $1 AND type = $2`;

export class PostgresNotifications implements NotificationLog {
  constructor(
    private readonly pool: Pool,
    private readonly leaseMs = 30_000,
  ) {}

  async claim(input: NotificationInput): Promise<ClaimResult> {
    const { rows } = await this.pool.query<ClaimedNotification>(CLAIM_SQL, [
      input.bookingId,
      input.type,
      input.messageId,
      input.userId,
      JSON.stringify(input.payload),
      this.leaseMs,
    ]);
    if (rows[0]) return { kind: 'claimed', ...rows[0] };
    // Not ours: a second look (a fresh snapshot, which sees the row the conflict was on) says why.
    const { rows: state } = await this.pool.query<{ sent: boolean; lease_left_ms: number | null }>(STATE_SQL, [
      input.bookingId,
      input.type,
      this.leaseMs,
    ]);
    if (state[0]?.sent) return { kind: 'sent' };
    return { kind: 'busy', leaseLeftMs: Math.max(0, state[0]?.lease_left_ms ?? 0) };
  }

  async markSent(id: string): Promise<void> {
    await this.pool.query('UPDATE notifications SET sent_at = now(), claimed_at = NULL WHERE id = $1', [id]);
  }

  async release(id: string): Promise<void> {
    await this.pool.query('UPDATE notifications SET claimed_at = NULL WHERE id = $1 AND sent_at IS NULL', [id]);
  }
}
