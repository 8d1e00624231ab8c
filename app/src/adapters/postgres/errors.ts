import { ServiceUnavailableError } from '../../domain/errors';

/**
 * SQLSTATEs that mean "PostgreSQL cannot serve this now" rather than "this statement is wrong":
 * connection exceptions (08), the server shutting down, crashed or still starting (57P01-03),
 * out of connections or resources (53), a read-only server (25006: a primary demoted during
 * failover, or a replica behind the writer endpoint) and a statement cancelled by
 * statement_timeout (57014: the server is too busy or a lock is held too long).
 */
const UNAVAILABLE_SQLSTATES: ReadonlyArray<[RegExp, string]> = [
  [/^08/, 'connection failure'],
  [/^57P0[1-3]$/, 'server shutting down or starting'],
  [/^53300$/, 'too many connections'],
  [/^53/, 'server out of resources'],
  [/^25006$/, 'server is read-only (failover)'],
  [/^57014$/, 'statement timeout'],
];

/** Socket errors on the way to the server. */
const UNAVAILABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** node-postgres and pg-pool's own errors (they carry no code): the connection broke, or a deadline passed. */
const UNAVAILABLE_MESSAGES: ReadonlyArray<[RegExp, string]> = [
  [/^Connection terminated/, 'connection lost'],
  [/^Query read timeout$/, 'query timeout'],
  [/^timeout exceeded when trying to connect$/, 'connect timeout'],
  [/^Client has encountered a connection error and is not queryable$/, 'connection lost'],
  [/^Client was closed and is not queryable$/, 'connection lost'],
  [/^Cannot use a pool after calling end on the pool$/, 'shutting down'],
];

/** Why `error` means the database is unavailable (a few words for logs and metrics), or null when it does not. */
export function unavailableReason(error: unknown): string | null {
  if (error instanceof ServiceUnavailableError) return error.reason;
  // By shape, not instanceof Error: Node's socket errors may come from another realm (vm contexts, test runners).
  if (typeof error !== 'object' || error === null) return null;
  const { code, message, errors } = error as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof code === 'string') {
    if (UNAVAILABLE_SOCKET_CODES.has(code))
      return code === 'ECONNREFUSED' ? 'connection refused' : code === 'ETIMEDOUT' ? 'connect timeout' : 'connection lost';
    if (/^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_SQLSTATES.find(([pattern]) => pattern.test(code))?.[1] ?? null;
  }
  // a failed connect is an AggregateError when the host resolved to several addresses
  if (Array.isArray(errors) && errors.length > 0) return unavailableReason(errors[0]);
  return typeof message === 'string' ? (UNAVAILABLE_MESSAGES.find(([pattern]) => pattern.test(message))?.[1] ?? null) : null;
}

/**
 * `error` as the domain sees it: a ServiceUnavailableError (the original as its cause) when the
 * database could not serve the request, otherwise the error itself, untouched (a constraint
 * violation stays what it is, for the stores that look at it).
 */
export function asUnavailable(error: unknown): unknown {
  if (error instanceof ServiceUnavailableError) return error;
  const reason = unavailableReason(error);
  return reason === null ? error : new ServiceUnavailableError('database', reason, undefined, { cause: error });
}
