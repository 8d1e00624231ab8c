import { SmtpMailer } from '../../../src/adapters/mailer/smtp-mailer';
import { fakeSmtp } from '../../support/fake-smtp';

test('SMTP_URL: a mail reaches the server with sender, recipient, subject and text', async () => {
  const smtp = await fakeSmtp();
  const mailer = new SmtpMailer(`smtp://127.0.0.1:${smtp.port}`, 'GoTicket <no-reply@goticket.test>');
  try {
    await mailer.send({ to: 'buyer@example.test', subject: 'Your booking is confirmed', text: 'Booking b-1 is confirmed: 2 seats.' });
    expect(smtp.received).toHaveLength(1);
    const mail = smtp.received[0]!;
    expect(mail).toMatch(/^From: GoTicket <no-reply@goticket\.test>$/m);
    expect(mail).toMatch(/^To: buyer@example\.test$/m);
    expect(mail).toMatch(/^Subject: Your booking is confirmed$/m);
    expect(mail).toContain('Booking b-1 is confirmed: 2 seats.');
  } finally {
    await mailer.close();
    for (const socket of smtp.sockets) socket.destroy();
    await new Promise((resolve) => smtp.server.close(resolve));
  }
});
