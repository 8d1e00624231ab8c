/**
 * Issue 17, point 9: mail is at-least-once at the SMTP boundary (a worker killed after the server
 * accepted a mail and before the notification was marked sent sends it again once the claim's
 * lease lapses), so every attempt at one notification carries the same Message-ID: receivers
 * and relays that drop duplicates by Message-ID drop the resend. Real PostgreSQL (the claim),
 * the SMTP mailer (nodemailer) and a local SMTP server; the crash is the state it leaves in the
 * database: claimed, not sent, lease lapsed.
 */
import { randomUUID } from 'node:crypto';
import { SmtpMailer } from '../../../src/adapters/mailer/smtp-mailer';
import { MemoryEventBus } from '../../../src/adapters/memory/event-bus';
import { PostgresNotifications } from '../../../src/adapters/postgres/notifications';
import { Notifier } from '../../../src/workers/notifier';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { fakeSmtp } from '../../support/fake-smtp';
import { quietLogger } from './helpers';

let db: TestDatabase;
let smtp: Awaited<ReturnType<typeof fakeSmtp>>;
let mailer: SmtpMailer;

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await fakeSmtp();
  mailer = new SmtpMailer(`smtp://127.0.0.1:${smtp.port}`, 'GoTicket <no-reply@goticket.test>');
});

afterAll(async () => {
  await mailer?.close();
  for (const socket of smtp?.sockets ?? []) socket.destroy();
  await new Promise((resolve) => (smtp ? smtp.server.close(resolve) : resolve(undefined)));
  await db?.drop();
});

const messageIdOf = (mail: string) => /^Message-ID: (.+)$/im.exec(mail)?.[1];

test('a resend after a crash between the SMTP acceptance and markSent carries the first attempt’s Message-ID; another notification has its own', async () => {
  const { rows } = await db.pool.query<{ id: string }>(
    `INSERT INTO users (email, password_hash, role) VALUES ($1, 'x', 'user') RETURNING id`,
    [`${randomUUID()}@example.test`],
  );
  const userId = rows[0]!.id;
  const notifier = new Notifier({
    consumer: new MemoryEventBus({ logger: quietLogger, prefetch: 1, maxAttempts: 1, retryDelayMs: 10 }),
    notifications: new PostgresNotifications(db.pool),
    mailer,
    logger: quietLogger,
  });
  const message = (type: string, bookingId: string) => ({
    id: randomUUID(),
    type,
    occurredAt: new Date().toISOString(),
    aggregateId: bookingId,
    data: { bookingId, eventId: randomUUID(), userId, quantity: 2, amountCents: 5000 },
  });
  const bookingId = randomUUID();
  await notifier.handle(message('booking.confirmed', bookingId));
  // what a worker killed after the server accepted the mail leaves: claimed, not sent; the lease lapsed
  await db.pool.query(`UPDATE notifications SET sent_at = NULL, claimed_at = now() - interval '1 hour' WHERE booking_id = $1`, [bookingId]);
  await notifier.handle(message('booking.confirmed', bookingId));
  await notifier.handle(message('booking.cancelled', bookingId));

  expect(smtp.received).toHaveLength(3);
  const [first, resend, other] = smtp.received.map(messageIdOf);
  expect(first).toMatch(/^<notification\.[0-9a-f-]{36}@goticket>$/);
  expect(resend).toBe(first);
  expect(other).toMatch(/^<notification\.[0-9a-f-]{36}@goticket>$/);
  expect(other).not.toBe(first);
});
