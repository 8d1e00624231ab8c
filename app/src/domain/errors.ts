/**
 * One error type per domain failure, each with a stable kind (`code`). One table
 * (app/src/error-table.ts) maps every kind to what each edge answers; nothing here knows about
 * HTTP or any other protocol.
 */
export type ErrorKind =
  | 'validation'
  | 'not-found'
  | 'email-taken'
  | 'invalid-credentials'
  | 'unauthenticated'
  | 'forbidden'
  | 'last-admin'
  | 'refresh-token-reused'
  | 'sold-out'
  | 'event-ended'
  | 'capacity-below-taken'
  | 'active-bookings'
  | 'invalid-transition'
  | 'hold-expired'
  | 'idempotency-key-reused'
  | 'payment-required'
  | 'payment-not-required'
  | 'rate-limited'
  | 'unavailable'
  | 'deadline-exceeded'
  | 'oauth-failed'
  | 'provider-failed';

export interface FieldError {
  path: string;
  message: string;
}

export abstract class DomainError extends Error {
  /** Stable slug, also the last segment of the problem `type` URI. */
  abstract readonly code: ErrorKind;
  /**
   * Whether the error records where it was raised. A refusal that floods in (sold out, rate
   * limited: thousands a second in a stampede) is an answer, not a fault: its kind and message say
   * all there is, and capturing its stack was a measurable share of a refusal's CPU.
   */
  protected static readonly capturesStack: boolean = true;
  constructor(message: string) {
    const limit = Error.stackTraceLimit;
    if (!new.target.capturesStack) Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = new.target.name;
  }
}

export class ValidationError extends DomainError {
  readonly code = 'validation';
  constructor(
    message: string,
    readonly fields: FieldError[] = [],
  ) {
    super(message);
  }
}

export class NotFoundError extends DomainError {
  readonly code = 'not-found';
  constructor(readonly resource: string) {
    super(`${resource} not found`);
  }
}

export class EmailTakenError extends DomainError {
  readonly code = 'email-taken';
  constructor() {
    super('an account with this email already exists');
  }
}

export class InvalidCredentialsError extends DomainError {
  readonly code = 'invalid-credentials';
  constructor() {
    super('email or password is wrong');
  }
}

export class UnauthenticatedError extends DomainError {
  readonly code = 'unauthenticated';
}

export class ForbiddenError extends DomainError {
  readonly code: ErrorKind = 'forbidden';
}

/** Demoting the only admin would leave nobody able to manage roles (the bootstrap never re-promotes). */
export class LastAdminError extends ForbiddenError {
  override readonly code: ErrorKind = 'last-admin';
  constructor() {
    super('this is the only admin: promote another user to admin first');
  }
}

export class RefreshTokenReusedError extends DomainError {
  readonly code = 'refresh-token-reused';
  constructor() {
    super('refresh token was already used; every session of its login has been revoked');
  }
}

export class SoldOutError extends DomainError {
  protected static override readonly capturesStack = false;
  readonly code = 'sold-out';
  constructor(readonly available: number) {
    super(available === 0 ? 'the event is sold out' : `only ${available} seat(s) left`);
  }
}

export class EventEndedError extends DomainError {
  readonly code = 'event-ended';
  constructor() {
    super('the event has ended; it can no longer be booked');
  }
}

export class CapacityBelowTakenError extends DomainError {
  readonly code = 'capacity-below-taken';
  constructor(readonly taken: number) {
    super(`capacity cannot go below the ${taken} seat(s) already taken`);
  }
}

export class ActiveBookingsError extends DomainError {
  readonly code = 'active-bookings';
  constructor() {
    super('the event has pending or confirmed bookings');
  }
}

export class InvalidTransitionError extends DomainError {
  readonly code = 'invalid-transition';
  constructor(
    readonly from: string,
    readonly to: string,
  ) {
    super(`a ${from} booking cannot become ${to}`);
  }
}

export class HoldExpiredError extends DomainError {
  readonly code = 'hold-expired';
  constructor() {
    super('the hold on these seats has expired');
  }
}

export class IdempotencyKeyReusedError extends DomainError {
  readonly code = 'idempotency-key-reused';
  constructor() {
    super('this Idempotency-Key was already used with a different request');
  }
}

/** A paid hold is confirmed by paying it (POST /bookings/{id}/pay), not by a bare confirm. */
export class PaymentRequiredError extends DomainError {
  readonly code = 'payment-required';
  constructor() {
    super('this hold is for a paid event: pay it (POST /bookings/{id}/pay) to confirm it');
  }
}

/** A hold on a free event has nothing to pay: confirm it. */
export class PaymentNotRequiredError extends DomainError {
  readonly code = 'payment-not-required';
  constructor() {
    super('this hold is for a free event: confirm it (POST /bookings/{id}/confirm)');
  }
}

export class RateLimitedError extends DomainError {
  protected static override readonly capturesStack = false;
  readonly code = 'rate-limited';
  constructor(readonly retryAfterSeconds: number) {
    super('too many requests; retry later');
  }
}

/**
 * A backend the use case needs cannot answer now: its connection was refused, reset or timed
 * out, it is shutting down, failing over or out of connections. Not a bug and not the caller's
 * fault: the same request is expected to work after `retryAfterSeconds`.
 */
export class ServiceUnavailableError extends DomainError {
  readonly code = 'unavailable';
  constructor(
    /** What could not answer, as operators name it (`database`). */
    readonly dependency: string,
    /** Why, in a few words for logs and metrics (`connection refused`, `timeout`); never sent to clients. */
    readonly reason: string,
    readonly retryAfterSeconds = 5,
    options?: { cause?: unknown },
  ) {
    super(`the service cannot reach its ${dependency} right now; retry in a few seconds`);
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

/** The caller's deadline passed (or the caller went away) before the work was done; it was stopped. */
export class DeadlineExceededError extends DomainError {
  readonly code = 'deadline-exceeded';
  constructor() {
    super('the deadline passed before the work was done; it was cancelled');
  }
}

/**
 * A social sign-in that cannot be trusted or did not happen: state missing, mismatched or replayed,
 * the code refused by the provider (replayed, wrong PKCE verifier), an ID token that fails
 * validation, the user denied consent, a one-time login code unknown, used or expired. `reason`
 * is for logs and the audit log; the client learns only that the sign-in failed.
 */
export class OAuthFailedError extends DomainError {
  readonly code = 'oauth-failed';
  constructor(
    readonly reason: string,
    message = 'the sign-in could not be completed; start it again',
  ) {
    super(message);
  }
}

/** An external provider answered, but not as its protocol says (5xx, a body that is not its format). */
export class ProviderFailedError extends DomainError {
  readonly code = 'provider-failed';
  constructor(
    readonly provider: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`the sign-in provider ${provider} answered with an error; retry later`);
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

/**
 * A startup failure that is not a bug (a port in use, another instance on the data folder, a
 * folder the embedded PostgreSQL cannot reach): main.ts prints its message as one line, without a
 * stack, and stops. Not a DomainError: no request ever answers with it.
 */
export class StartupError extends Error {
  constructor(
    message: string,
    /** A few words for the log line's `reason` field. */
    readonly reason: string,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}
