/**
 * THE error table: one row per kind of failure (domain/errors.ts `ErrorKind`), saying what every
 * edge answers for it. REST reads `http` (http/problem.ts builds the problem+json from it); the
 * GraphQL and gRPC edges add their column here, beside it, never a mapping of their own. The
 * compiler keeps it complete: a kind without a row does not build.
 */
import { DomainError, type ErrorKind } from './domain/errors';

export interface ErrorRow {
  http: {
    status: number;
    /** Problem `title`: the same for every occurrence of the kind (RFC 9457). */
    title: string;
  };
  /**
   * Temporary: the same request may succeed later. Such errors carry `retryAfterSeconds`
   * (Retry-After), are not counted as bugs and are never sent to error tracking one by one.
   */
  transient?: true;
}

export const ERROR_TABLE: { readonly [K in ErrorKind]: ErrorRow } = {
  validation: { http: { status: 400, title: 'Invalid request' } },
  unauthenticated: { http: { status: 401, title: 'Unauthenticated' } },
  'invalid-credentials': { http: { status: 401, title: 'Invalid credentials' } },
  'refresh-token-reused': { http: { status: 401, title: 'Refresh token reused' } },
  forbidden: { http: { status: 403, title: 'Forbidden' } },
  'last-admin': { http: { status: 403, title: 'Forbidden' } },
  'not-found': { http: { status: 404, title: 'Not found' } },
  'email-taken': { http: { status: 409, title: 'Email already registered' } },
  'sold-out': { http: { status: 409, title: 'Sold out' } },
  'event-ended': { http: { status: 409, title: 'Event ended' } },
  'capacity-below-taken': { http: { status: 409, title: 'Capacity below seats taken' } },
  'active-bookings': { http: { status: 409, title: 'Event has active bookings' } },
  'invalid-transition': { http: { status: 409, title: 'Invalid booking transition' } },
  'hold-expired': { http: { status: 409, title: 'Hold expired' } },
  'idempotency-key-reused': { http: { status: 422, title: 'Idempotency key reused' } },
  'payment-required': { http: { status: 402, title: 'Payment required' } },
  'payment-not-required': { http: { status: 409, title: 'Nothing to pay' } },
  'rate-limited': { http: { status: 429, title: 'Too many requests' }, transient: true },
  unavailable: { http: { status: 503, title: 'Service unavailable' }, transient: true },
};

/** The row of a domain error; undefined for anything else (a bug, or a framework's error). */
export function errorRowOf(error: unknown): ErrorRow | undefined {
  return error instanceof DomainError ? ERROR_TABLE[error.code] : undefined;
}
