/**
 * THE error table: one row per kind of failure (domain/errors.ts `ErrorKind`), saying what every
 * edge answers for it. REST reads `http` (http/problem.ts builds the problem+json from it); the
 * GraphQL and gRPC edges add their column here, beside it, never a mapping of their own. The
 * compiler keeps it complete: a kind without a row does not build.
 */
import {
  DomainError,
  RateLimitedError,
  ServiceUnavailableError,
  SoldOutError,
  ValidationError,
  type ErrorKind,
  type FieldError,
} from './domain/errors';

export interface ErrorRow {
  http: {
    status: number;
    /** Problem `title`: the same for every occurrence of the kind (RFC 9457). */
    title: string;
  };
  /** GraphQL `extensions.code` (stable; clients switch on it). */
  graphql: GraphqlCode;
  /** gRPC status (google.rpc.Code name; the edge turns it into @grpc/grpc-js's number). */
  grpc: GrpcCode;
  /**
   * Temporary: the same request may succeed later. Such errors carry `retryAfterSeconds`
   * (Retry-After), are not counted as bugs and are never sent to error tracking one by one.
   */
  transient?: true;
}

export const GRAPHQL_CODES = [
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'SOLD_OUT',
  'PAYMENT_REQUIRED',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
] as const;
export type GraphqlCode = (typeof GRAPHQL_CODES)[number];
export type GrpcCode =
  | 'INVALID_ARGUMENT'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED';

export const ERROR_TABLE: { readonly [K in ErrorKind]: ErrorRow } = {
  validation: { http: { status: 400, title: 'Invalid request' }, graphql: 'BAD_USER_INPUT', grpc: 'INVALID_ARGUMENT' },
  unauthenticated: { http: { status: 401, title: 'Unauthenticated' }, graphql: 'UNAUTHENTICATED', grpc: 'UNAUTHENTICATED' },
  'invalid-credentials': { http: { status: 401, title: 'Invalid credentials' }, graphql: 'UNAUTHENTICATED', grpc: 'UNAUTHENTICATED' },
  'refresh-token-reused': { http: { status: 401, title: 'Refresh token reused' }, graphql: 'UNAUTHENTICATED', grpc: 'UNAUTHENTICATED' },
  forbidden: { http: { status: 403, title: 'Forbidden' }, graphql: 'FORBIDDEN', grpc: 'PERMISSION_DENIED' },
  'last-admin': { http: { status: 403, title: 'Forbidden' }, graphql: 'FORBIDDEN', grpc: 'PERMISSION_DENIED' },
  'not-found': { http: { status: 404, title: 'Not found' }, graphql: 'NOT_FOUND', grpc: 'NOT_FOUND' },
  'email-taken': { http: { status: 409, title: 'Email already registered' }, graphql: 'CONFLICT', grpc: 'ALREADY_EXISTS' },
  'sold-out': { http: { status: 409, title: 'Sold out' }, graphql: 'SOLD_OUT', grpc: 'FAILED_PRECONDITION' },
  'event-ended': { http: { status: 409, title: 'Event ended' }, graphql: 'CONFLICT', grpc: 'FAILED_PRECONDITION' },
  'capacity-below-taken': { http: { status: 409, title: 'Capacity below seats taken' }, graphql: 'CONFLICT', grpc: 'FAILED_PRECONDITION' },
  'active-bookings': { http: { status: 409, title: 'Event has active bookings' }, graphql: 'CONFLICT', grpc: 'FAILED_PRECONDITION' },
  'invalid-transition': { http: { status: 409, title: 'Invalid booking transition' }, graphql: 'CONFLICT', grpc: 'FAILED_PRECONDITION' },
  'hold-expired': { http: { status: 409, title: 'Hold expired' }, graphql: 'CONFLICT', grpc: 'FAILED_PRECONDITION' },
  'idempotency-key-reused': { http: { status: 422, title: 'Idempotency key reused' }, graphql: 'CONFLICT', grpc: 'ALREADY_EXISTS' },
  // A paid hold confirmed without paying: the client is to pay (REST 402; gRPC has no 402, its ErrorInfo reason is PAYMENT_REQUIRED).
  'payment-required': { http: { status: 402, title: 'Payment required' }, graphql: 'PAYMENT_REQUIRED', grpc: 'FAILED_PRECONDITION' },
  'payment-not-required': { http: { status: 409, title: 'Nothing to pay' }, graphql: 'CONFLICT', grpc: 'FAILED_PRECONDITION' },
  'rate-limited': {
    http: { status: 429, title: 'Too many requests' },
    graphql: 'RATE_LIMITED',
    grpc: 'RESOURCE_EXHAUSTED',
    transient: true,
  },
  unavailable: { http: { status: 503, title: 'Service unavailable' }, graphql: 'UNAVAILABLE', grpc: 'UNAVAILABLE', transient: true },
  'deadline-exceeded': { http: { status: 504, title: 'Deadline exceeded' }, graphql: 'DEADLINE_EXCEEDED', grpc: 'DEADLINE_EXCEEDED' },
  'oauth-failed': { http: { status: 401, title: 'Sign-in failed' }, graphql: 'UNAUTHENTICATED', grpc: 'UNAUTHENTICATED' },
  'provider-failed': { http: { status: 502, title: 'Sign-in provider failed' }, graphql: 'UNAVAILABLE', grpc: 'UNAVAILABLE' },
};

/**
 * The row of a domain error; undefined for anything else (a bug, or a framework's error). For the
 * edges that map errors themselves (GraphQL codes, gRPC statuses).
 * @public
 */
export function errorRowOf(error: unknown): ErrorRow | undefined {
  return error instanceof DomainError ? ERROR_TABLE[error.code] : undefined;
}

/** What a client may act on beyond the kind, the same on every edge (REST puts it in the problem). */
export interface ErrorDetails {
  /** Field violations (validation). */
  fields?: FieldError[];
  /** Seats still available (sold out). */
  seatsLeft?: number;
  /** When the same request may succeed (transient kinds). */
  retryAfterSeconds?: number;
}

export function detailsOf(error: DomainError): ErrorDetails {
  if (error instanceof ValidationError) return error.fields.length > 0 ? { fields: error.fields } : {};
  if (error instanceof SoldOutError) return { seatsLeft: error.available };
  if (error instanceof RateLimitedError || error instanceof ServiceUnavailableError) return { retryAfterSeconds: error.retryAfterSeconds };
  return {};
}
