import nodemailer, { type Transporter } from 'nodemailer';
import type { Mail, Mailer } from '../../ports';

/**
 * A send never takes longer than about these together (nodemailer's defaults are 2 min, 30 s and
 * 10 min): a hanging mail server must not hold a notifier slot, nor outlive the notification's
 * 30 s claim lease (another delivery would then send the mail a second time), nor the shutdown.
 */
export const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 15_000 } as const;

/** Sends through the SMTP server in SMTP_URL (smtp:// or smtps://, credentials in the URL). */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(
    smtpUrl: string,
    private readonly from: string,
  ) {
    this.transport = nodemailer.createTransport({ url: smtpUrl, ...SMTP_TIMEOUTS });
  }

  async send(mail: Mail): Promise<void> {
    await this.transport.sendMail({ from: this.from, to: mail.to, subject: mail.subject, text: mail.text, messageId: mail.messageId });
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
