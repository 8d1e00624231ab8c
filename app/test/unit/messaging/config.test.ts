import { ConfigError, loadConfig } from '../../../src/config';

test('messaging defaults', () => {
  expect(loadConfig({}).messaging).toEqual({
    amqpPrefix: 'goticket',
    reconnectMaxDelayMs: 15_000,
    smtpUrl: undefined,
    mailFrom: 'GoTicket <no-reply@goticket.local>',
    outboxPollIntervalMs: 1_000,
    outboxBatchSize: 100,
    outboxRetentionMs: 7 * 86_400_000,
    notifierPrefetch: 20,
    notifierMaxAttempts: 5,
    notifierRetryDelayMs: 5_000,
    expirySweepIntervalMs: 5_000,
    expiryBatchSize: 500,
  });
});

test('messaging variables are parsed', () => {
  const m = loadConfig({
    AMQP_PREFIX: 'gt-test_1',
    SMTP_URL: 'smtps://user:pw@mail.example.test:465',
    OUTBOX_POLL_INTERVAL: '250ms',
    OUTBOX_BATCH_SIZE: '500',
    OUTBOX_RETENTION: '1d',
    NOTIFIER_PREFETCH: '50',
    NOTIFIER_MAX_ATTEMPTS: '8',
    EXPIRY_SWEEP_INTERVAL: '2s',
  }).messaging;
  expect(m).toMatchObject({
    amqpPrefix: 'gt-test_1',
    smtpUrl: 'smtps://user:pw@mail.example.test:465',
    outboxPollIntervalMs: 250,
    outboxBatchSize: 500,
    outboxRetentionMs: 86_400_000,
    notifierPrefetch: 50,
    notifierMaxAttempts: 8,
    expirySweepIntervalMs: 2_000,
  });
});

test.each([
  ['AMQP_PREFIX', 'has spaces'],
  ['SMTP_URL', 'http://mail.example.test'],
  ['OUTBOX_POLL_INTERVAL', 'soon'],
  ['OUTBOX_BATCH_SIZE', '0'],
  ['NOTIFIER_PREFETCH', '-1'],
  ['NOTIFIER_MAX_ATTEMPTS', '1000'],
  ['EXPIRY_SWEEP_INTERVAL', '5ms'],
])('a bad %s stops startup with one line naming it', (variable, value) => {
  let error: unknown;
  try {
    loadConfig({ [variable]: value });
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).variable).toBe(variable);
  expect((error as Error).message).toMatch(new RegExp(`^invalid configuration: ${variable} [^\\n]+$`));
});
