import type { Pool } from 'pg';

export const NOTIFICATION_TYPES = ['booking.confirmed', 'booking.cancelled', 'booking.expired'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export interface NotificationInput {
  bookingId: string;
  type: NotificationType;
  messageId: string;
  userId: string;
  payload: Record<string, unknown>;
}

export interface ClaimedNotification {
  id: string;
  recipient: string | null;
}

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

export class PostgresNotifications {
  constructor(
    private readonly pool: Pool,
    private readonly leaseMs = 30_000,
  ) {}

  /** null: already sent, or another delivery is sending it right now. */
  async claim(input: NotificationInput): Promise<ClaimedNotification | null> {
    const { rows } = await this.pool.query<ClaimedNotification>(CLAIM_SQL, [
      input.bookingId,
      input.type,
      input.messageId,
      input.userId,
      JSON.stringify(input.payload),
      this.leaseMs,
    ]);
    return rows[0] ?? null;
  }

  async markSent(id: string): Promise<void> {
    await this.pool.query('UPDATE notifications SET sent_at = now(), claimed_at = NULL WHERE id = $1', [id]);
  }

  /** Gives the lease back after a failed send so the retry can take it at once. */
  async release(id: string): Promise<void> {
    await this.pool.query('UPDATE notifications SET claimed_at = NULL WHERE id = $1 AND sent_at IS NULL', [id]);
  }
}
