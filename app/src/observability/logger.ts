import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';
import { redactFields, redactText, redactValue } from './redact';

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

export interface LoggerOptions {
  level: string;
  pretty?: boolean;
  name?: string;
  /**
   * Write stdout asynchronously (sonic-boom), in chunks of at least 4 KiB and at least every
   * `ASYNC_FLUSH_MS`: one write per line was a tenth of the api's CPU under load. pino flushes
   * what is buffered synchronously when the process exits; a process killed outright (SIGKILL,
   * OOM) loses at most that last chunk.
   */
  asyncStdout?: boolean;
  /** Lines go here instead of stdout (tests). */
  destination?: pino.DestinationStream;
}

/** Longest a log line waits in the buffer of an async stdout. */
const ASYNC_FLUSH_MS = 250;

export function createLogger(options: LoggerOptions): Logger {
  const settings: pino.LoggerOptions = {
    name: options.name ?? 'goticket',
    level: options.level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Secrets never reach a line (redact.ts): by key in the fields, by pattern in the text.
    formatters: { level: (label) => ({ level: label }), log: redactFields, bindings: redactFields },
    serializers: { err: redactValue },
    hooks: { logMethod: messageOfError, streamWrite: redactText },
    mixin: () => Object.assign({}, ...mixins.map((mixin) => mixin())) as object,
  };
  const logger = open(options, settings);
  // pino formats a child's own bindings with an identity formatter: redact them on the way in
  // (children inherit this child(), so grandchildren too).
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with its receiver below
  const child = logger.child;
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, redactFields(bindings), childOptions);
  } as typeof logger.child;
  return logger;
}

function open(options: LoggerOptions, settings: pino.LoggerOptions): Logger {
  if (options.pretty)
    return pino({ ...settings, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid' } } });
  if (options.destination) return pino(settings, options.destination);
  if (!options.asyncStdout) return pino(settings);
  return pino(settings, pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: ASYNC_FLUSH_MS }));
}

/**
 * pino takes the message of a line logged with an error and no message from the error itself,
 * after the fields are redacted: give it one here (the text pass redacts it like the rest).
 */
function messageOfError(this: Logger, args: Parameters<pino.LogFn>, method: pino.LogFn): void {
  const [first] = args as unknown[];
  if (args.length === 1 && typeof first === 'object' && first !== null) {
    const error = first instanceof Error ? first : (first as { err?: unknown }).err;
    if (error instanceof Error && !('msg' in first)) return method.call(this, first, error.message);
  }
  return method.apply(this, args);
}
