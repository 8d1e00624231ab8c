/**
 * The notifier's claim lease against the real PostgreSQL: a delivery that finds the send claimed
 * by another one must not be acknowledged while the mail is unsent (the other one may have died
 * mid-send, and its message was redelivered here).
 */
import { randomUUID } from 'node:crypto';
import { PostgresNotifications } from '../../../src/adapters/postgres/notifications';
import { PermanentMessageError, type DomainMessage, type EventConsumer, type Mail } from '../../../src/ports';
import { NotificationBusyError, Notifier } from '../../../src/workers/notifier';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { quietLogger, RecordingMailer, reserveMany, seed, type Fixture } from './helpers';

let db: TestDatabase;
let fixture: Fixture;

beforeAll(async () => {
  db = await createTestDatabase();
  fixture = await seed(db.pool, { users: 5, events: 1, capacity: 100 });
});
afterAll(() => db?.drop());

/** A consumer that never delivers: the tests call `handle` themselves. */
const idleConsumer: EventConsumer = { consume: async () => ({ cancel: async () => undefined }) };

async function confirmedMessage(): Promise<DomainMessage> {
  const [bookingId] = await reserveMany(fixture, 1);
  const booking = (await fixture.bookings.get(bookingId!))!;
  return {
    id: randomUUID(),
    type: 'booking.confirmed',
    occurredAt: new Date().toISOString(),
    aggregateId: booking.id,
    data: { bookingId: booking.id, eventId: booking.eventId, userId: booking.userId, quantity: 1, amountCents: 2500, status: 'confirmed' },
  };
}

/** What a sender that claimed the notification and then died leaves behind. */
async function claimAndDie(message: DomainMessage): Promise<void> {
  const data = message.data as { bookingId: string; userId: string };
  await db.pool.query(
    `INSERT INTO notifications (booking_id, type, message_id, user_id, recipient, payload, claimed_at)
     VALUES ($1, $2, $3, $4, (SELECT email FROM users WHERE id = $4), $5, now())`,
    [data.bookingId, message.type, message.id, data.userId, JSON.stringify(message.data)],
  );
}

const sentAt = async (bookingId: string) =>
  (await db.pool.query<{ sent_at: Date | null }>(`SELECT sent_at FROM notifications WHERE booking_id = $1`, [bookingId])).rows.map(
    (r) => r.sent_at,
  );

function notifier(leaseMs: number, mailer = new RecordingMailer()) {
  return {
    mailer,
    notifier: new Notifier({
      consumer: idleConsumer,
      notifications: new PostgresNotifications(db.pool, leaseMs),
      mailer,
      logger: quietLogger,
      busyPollMs: 50,
    }),
  };
}

test('a redelivery behind a sender that died mid-send is not acknowledged until it has sent the mail itself', async () => {
  const message = await confirmedMessage();
  await claimAndDie(message);
  const { mailer, notifier: n } = notifier(600);
  const started = Date.now();
  await n.handle(message);
  // it waited for the dead sender's lease to lapse, then took over
  expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  expect(mailer.countsByBooking().get(message.aggregateId)).toBe(1);
  expect(await sentAt(message.aggregateId)).toEqual([expect.any(Date)]);
  // and a later redelivery has no effect
  await n.handle(message);
  expect(mailer.countsByBooking().get(message.aggregateId)).toBe(1);
});

test('a duplicate delivered while the first delivery is sending waits for it and sends nothing', async () => {
  const message = await confirmedMessage();
  const slow = new (class extends RecordingMailer {
    override async send(mail: Mail): Promise<void> {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await super.send(mail);
    }
  })();
  const { mailer, notifier: n } = notifier(30_000, slow);
  await Promise.all([n.handle(message), n.handle({ ...message }), n.handle({ ...message, id: randomUUID() })]);
  expect(mailer.countsByBooking().get(message.aggregateId)).toBe(1);
  expect(await sentAt(message.aggregateId)).toEqual([expect.any(Date)]);
});

test('stopping while a delivery waits on another one’s lease hands the message back for a retry, never acknowledges it', async () => {
  const message = await confirmedMessage();
  await claimAndDie(message);
  const { mailer, notifier: n } = notifier(30_000);
  await n.start();
  const waiting = n.handle(message);
  const outcome = waiting.then(
    () => 'acknowledged',
    (error: unknown) => error,
  );
  await new Promise((resolve) => setTimeout(resolve, 150));
  await n.close();
  const error = await outcome;
  // a retryable failure: the consumer republishes it to the retry queue
  expect(error).toBeInstanceOf(NotificationBusyError);
  expect(error).not.toBeInstanceOf(PermanentMessageError);
  expect(mailer.sent).toHaveLength(0);
  expect(await sentAt(message.aggregateId)).toEqual([null]);
});
