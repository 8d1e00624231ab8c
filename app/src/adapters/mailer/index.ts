import type { Logger } from '../../observability/logger';
import type { Mailer } from '../../ports';
import { LogMailer } from './log-mailer';
import { SmtpMailer } from './smtp-mailer';

export { LogMailer, SmtpMailer };

/** SMTP when SMTP_URL is set, otherwise the log mailer (and the log says which). */
export function createMailer(options: { smtpUrl?: string; from: string; logger: Logger }): Mailer {
  if (options.smtpUrl) {
    options.logger.info({ component: 'mailer', host: new URL(options.smtpUrl).host }, 'mailer: SMTP');
    return new SmtpMailer(options.smtpUrl, options.from);
  }
  options.logger.info({ component: 'mailer' }, 'mailer: SMTP_URL not set, mails are written to the log');
  return new LogMailer(options.logger);
}
