import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';

export type { Logger };

/** Per-request context: every log line written while serving a request carries its id. */
export interface LogContext {
  request_id?: string;
  [key: string]: unknown;
}

export const logContext = new AsyncLocalStorage<LogContext>();

/** Extra fields merged into every line (the observability layer adds trace_id here). */
const mixins: Array<() => Record<string, unknown>> = [() => logContext.getStore() ?? {}];

export function addLogMixin(mixin: () => Record<string, unknown>): void {
  mixins.push(mixin);
}

/** Never log secrets, wherever they appear in a logged object. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'passwordHash',
  '*.passwordHash',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'token',
  '*.token',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'res.headers["set-cookie"]',
];

export function createLogger(options: { level: string; pretty?: boolean; name?: string }): Logger {
  return pino({
    name: options.name ?? 'goticket',
    level: options.level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => Object.assign({}, ...mixins.map((mixin) => mixin())),
    transport: options.pretty ? { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid' } } : undefined,
  });
}
