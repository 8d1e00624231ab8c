import { z } from 'zod';
import { NOTIFICATION_TYPES, type NotificationType, type PostgresNotifications } from '../adapters/postgres/notifications';
import type { Logger } from '../observability/logger';
import { notificationsSent } from '../observability/metrics';
import { PermanentMessageError, type DomainMessage, type EventConsumer, type Mail, type Mailer, type Subscription } from '../ports';

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
};

export function renderMail(type: NotificationType, to: string, data: BookingEventData): Mail {
  const seats = `${data.quantity} seat${data.quantity === 1 ? '' : 's'}`;
  const body: Record<NotificationType, string> = {
    'booking.confirmed': `Booking ${data.bookingId} is confirmed: ${seats}, ${(data.amountCents / 100).toFixed(2)} charged.`,
    'booking.cancelled': `Booking ${data.bookingId} was cancelled and its ${seats} released.`,
    'booking.expired': `The hold on ${seats} (booking ${data.bookingId}) expired before it was confirmed; the seats were released.`,
  };
  return { to, subject: SUBJECTS[type], text: body[type] };
}

export interface NotifierOptions {
  consumer: EventConsumer;
  notifications: PostgresNotifications;
  mailer: Mailer;
  logger: Logger;
}

/**
 * Consumes booking events: for confirmed, cancelled and expired it records one notification per
 * booking and type (redeliveries find it recorded and do nothing) and mails it. Other types
 * (booking.created) are acknowledged and ignored.
 */
export class Notifier {
  private subscription: Subscription | null = null;
  private readonly log: Logger;

  constructor(private readonly options: NotifierOptions) {
    this.log = options.logger.child({ component: 'notifier' });
  }

  async start(): Promise<void> {
    this.subscription = await this.options.consumer.consume((message) => this.handle(message));
  }

  /** Stops consuming and waits for the messages in flight. */
  async close(): Promise<void> {
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
    const claimed = await this.options.notifications.claim({
      bookingId: data.bookingId,
      type: message.type,
      messageId: message.id,
      userId: data.userId,
      payload: message.data,
    });
    if (!claimed) return; // already sent, or another delivery of it is sending right now
    if (claimed.recipient) {
      try {
        await this.options.mailer.send(renderMail(message.type, claimed.recipient, data));
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
}
