import { DelegateBackoff, handleWhenResult, retry, type IRetryBackoffContext } from 'cockatiel';
import { z } from 'zod';
import type { Logger } from '../observability/logger';
import { notificationsSent } from '../observability/metrics';
import {
  NOTIFICATION_TYPES,
  PermanentMessageError,
  type ClaimedNotification,
  type ClaimResult,
  type DomainMessage,
  type EventConsumer,
  type Mail,
  type Mailer,
  type NotificationInput,
  type NotificationLog,
  type NotificationType,
  type Subscription,
} from '../ports';

const BOOKING_EVENT = z.object({
  bookingId: z.uuid(),
  eventId: z.uuid(),
  userId: z.uuid(),
  quantity: z.number().int(),
  amountCents: z.number().int(),
});
type BookingEventData = z.infer<typeof BOOKING_EVENT>;

const isNotificationType = (type: string): type is NotificationType => (NOTIFICATION_TYPES as readonly string[]).includes(type);

const SUBJECTS: Record<NotificationType, string> = {
  'booking.confirmed': 'Your booking is confirmed',
  'booking.cancelled': 'Your booking was cancelled',
  'booking.expired': 'Your seat hold expired',
  'booking.payment_failed': 'Your payment failed',
  'booking.refunded': 'Your payment was refunded',
};

/**
 * One notification's Message-ID: its row (unique per booking and type) never changes, so every
 * attempt at it, a resend after a crash between the SMTP server's acceptance and markSent
 * included, carries the same one.
 */
export function notificationMessageId(notificationId: string): string {
  return `<notification.${notificationId}@goticket>`;
}

export function renderMail(type: NotificationType, to: string, data: BookingEventData, notificationId?: string): Mail {
  const seats = `${data.quantity} seat${data.quantity === 1 ? '' : 's'}`;
  const body: Record<NotificationType, string> = {
    'booking.confirmed': `Booking ${data.bookingId} is confirmed: ${seats}, ${(data.amountCents / 100).toFixed(2)} charged.`,
    'booking.cancelled': `Booking ${data.bookingId} was cancelled and its ${seats} released.`,
    'booking.expired': `The hold on ${seats} (booking ${data.bookingId}) expired before it was confirmed; the seats were released.`,
    'booking.payment_failed': `The payment for booking ${data.bookingId} failed; the ${seats} were released and nothing was charged.`,
    'booking.refunded': `Booking ${data.bookingId}: ${(data.amountCents / 100).toFixed(2)} was refunded to your payment method.`,
  };
  return { to, subject: SUBJECTS[type], text: body[type], ...(notificationId ? { messageId: notificationMessageId(notificationId) } : {}) };
}

export interface NotifierOptions {
  consumer: EventConsumer;
  notifications: NotificationLog;
  mailer: Mailer;
  logger: Logger;
  /** How often a delivery that found the send claimed by another one looks again (default 200 ms). */
  busyPollMs?: number;
}

/** The notification is being sent by another delivery; thrown only when the notifier stops while waiting on it (retried later). */
export class NotificationBusyError extends Error {
  override readonly name = 'NotificationBusyError';
}

/**
 * Consumes booking events: for confirmed, cancelled and expired it records one notification per
 * booking and type (redeliveries find it recorded and do nothing) and mails it. The queue is bound
 * to those types only; any other that arrives anyway is acknowledged and ignored.
 */
export class Notifier {
  private subscription: Subscription | null = null;
  private readonly log: Logger;
  /** Aborted on close: deliveries waiting on another's lease give up (and are retried later). */
  private readonly closing = new AbortController();

  constructor(private readonly options: NotifierOptions) {
    this.log = options.logger.child({ component: 'notifier' });
  }

  async start(): Promise<void> {
    this.subscription = await this.options.consumer.consume((message) => this.handle(message));
  }

  /** Stops consuming and waits for the messages in flight. */
  async close(): Promise<void> {
    this.closing.abort();
    await this.subscription?.cancel();
    this.subscription = null;
  }

  readonly handle = async (message: DomainMessage): Promise<void> => {
    if (!isNotificationType(message.type)) return;
    const parsed = BOOKING_EVENT.safeParse(message.data);
    if (!parsed.success) {
      throw new PermanentMessageError(`${message.type} data: ${parsed.error.issues[0]!.path.join('.')} ${parsed.error.issues[0]!.message}`);
    }
    const data = parsed.data;
    const claimed = await this.claim({
      bookingId: data.bookingId,
      type: message.type,
      messageId: message.id,
      userId: data.userId,
      payload: message.data,
    });
    if (!claimed) return; // already sent: a redelivery has no second effect
    if (claimed.recipient) {
      try {
        await this.options.mailer.send(renderMail(message.type, claimed.recipient, data, claimed.id));
      } catch (error) {
        await this.options.notifications.release(claimed.id).catch(() => undefined);
        throw error;
      }
    } else {
      this.log.warn({ bookingId: data.bookingId, type: message.type }, 'user has no email address; notification recorded, not mailed');
    }
    await this.options.notifications.markSent(claimed.id);
    notificationsSent.inc({ type: message.type });
  };

  /**
   * The right to send, or null when it was sent already. Another delivery holding the lease may be
   * sending right now (a duplicate) or may have died mid-send (its message was redelivered here):
   * acknowledging now would lose the notification in the second case, so this delivery asks again
   * (a cockatiel policy, every `busyPollMs` or when the lease lapses if sooner) until the other one
   * marks it sent or its lease lapses, and then takes over.
   */
  private async claim(input: NotificationInput): Promise<ClaimedNotification | null> {
    const result = await this.whileBusy.execute(
      ({ signal }) => (signal.aborted ? STOPPED : this.options.notifications.claim(input)),
      this.closing.signal,
    );
    if (result.kind === 'claimed') return result;
    if (result.kind === 'sent') return null;
    throw new NotificationBusyError(
      `${input.type} of booking ${input.bookingId} is claimed by another delivery; stopping before it was sent`,
    );
  }

  private readonly whileBusy = retry(
    handleWhenResult((result) => (result as ClaimResult).kind === 'busy'),
    {
      maxAttempts: Number.POSITIVE_INFINITY,
      backoff: new DelegateBackoff<IRetryBackoffContext<ClaimResult>>(({ result }) => {
        const leaseLeftMs = 'value' in result && result.value.kind === 'busy' ? result.value.leaseLeftMs : Number.POSITIVE_INFINITY;
        return Math.max(10, Math.min(this.options.busyPollMs ?? 200, leaseLeftMs));
      }),
    },
  ).dangerouslyUnref();
}

/** What an attempt answers once the notifier is closing: still busy, so the message goes back for a retry. */
const STOPPED: ClaimResult = { kind: 'busy', leaseLeftMs: 0 };
