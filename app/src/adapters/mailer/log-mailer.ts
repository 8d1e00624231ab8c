import type { Logger } from '../../observability/logger';
import type { Mail, Mailer } from '../../ports';

/** The default mailer: writes each mail to the log (recipient and subject, not the body). */
export class LogMailer implements Mailer {
  constructor(private readonly logger: Logger) {}

  async send(mail: Mail): Promise<void> {
    this.logger.info(
      { component: 'mailer', to: mail.to, subject: mail.subject, message_id: mail.messageId },
      'mail (log mailer: not sent)',
    );
  }
}
