/**
 * The interfaces the services need. Adapters (postgres, redis, rabbitmq, memory) implement them;
 * main.ts picks which. Services never import a driver.
 */
import type { Booking, BookingStatus } from './domain/booking';
import type { Event, EventPatch, NewEvent } from './domain/event';
import type { OAuthProfile, OAuthProviderName } from './domain/oauth';
import type { Role, User } from './domain/user';

export interface Clock {
  now(): Date;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// ---------------------------------------------------------------- users and auth

export interface UserWithSecret extends User {
  /** Null for an account created by social sign-in (it has no password until one is set). */
  passwordHash: string | null;
  tokenVersion: number;
}

export interface UserStore {
  /** Throws EmailTakenError when the email (any case) exists. */
  create(input: { email: string; passwordHash: string; role: Role }): Promise<User>;
  findByEmail(email: string): Promise<UserWithSecret | null>;
  findById(id: string): Promise<UserWithSecret | null>;
  /**
   * Changes the role and bumps the token version (unless the role is the same); null when the
   * user does not exist. LastAdminError when it would leave no admin, also under concurrency.
   */
  setRole(id: string, role: Role): Promise<User | null>;
  /** Creates the admin unless the email exists; idempotent. */
  ensureAdmin(email: string, passwordHash: string): Promise<'created' | 'exists'>;
}

export type RotateResult =
  { kind: 'rotated'; userId: string; familyId: string } | { kind: 'reused'; userId: string; familyId: string } | { kind: 'invalid' };

export interface RefreshTokenStore {
  issue(input: { userId: string; familyId: string; tokenHash: string; expiresAt: Date }): Promise<void>;
  /**
   * Atomically retires `tokenHash` and stores `next` in the same family. A token that was
   * already rotated revokes its whole family and yields `reused`; a revoked (signed-out) or
   * expired one yields `invalid`.
   */
  rotate(tokenHash: string, next: { tokenHash: string; expiresAt: Date }): Promise<RotateResult>;
  /** Revokes the family of the token; returns its user id when the token was known. */
  revokeFamily(tokenHash: string): Promise<string | null>;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
}

// ---------------------------------------------------------------- events

export interface EventQuery {
  limit: number;
  cursor?: string;
  from?: Date;
  to?: Date;
  minPrice?: number;
  maxPrice?: number;
  q?: string;
}

export interface EventStore {
  /** Inserts the event and its `event.created` outbox row in one transaction. */
  create(input: NewEvent & { organizerId: string }): Promise<Event>;
  get(id: string): Promise<Event | null>;
  list(query: EventQuery): Promise<Page<Event>>;
  /** The live events among `ids` (any order; unknown and deleted ones left out): one query for a list's related rows. */
  getMany(ids: readonly string[]): Promise<Event[]>;
  /**
   * Applies the patch atomically against the current row (capacity keeps the seats taken:
   * CapacityBelowTakenError), writes `event.updated`; null when the event does not exist.
   */
  update(id: string, patch: EventPatch): Promise<Event | null>;
  /**
   * Soft-deletes unless active (pending, payment_pending, confirmed) bookings exist
   * (ActiveBookingsError); writes `event.deleted`. With `cancelBookings` every active booking is
   * cancelled in the same transaction (booking.cancelled each; refund.requested for paid ones).
   */
  delete(id: string, options?: { cancelBookings?: boolean }): Promise<boolean>;
}

// ---------------------------------------------------------------- bookings

export interface ReserveInput {
  eventId: string;
  userId: string;
  quantity: number;
  holdMs: number;
  idempotencyKey?: string;
  /** Fingerprint of the request the key was first used with. */
  requestHash?: string;
}

export type ReserveResult =
  | { kind: 'created'; booking: Booking }
  | { kind: 'replayed'; booking: Booking }
  | { kind: 'sold_out'; available: number }
  | { kind: 'event_not_found' }
  | { kind: 'event_ended' }
  | { kind: 'idempotency_mismatch' };

export interface BookingQuery {
  /** Only this user's bookings; all bookings when absent (admins). */
  userId?: string;
  limit: number;
  cursor?: string;
  status?: BookingStatus;
}

export type TransitionResult = { kind: 'ok'; booking: Booking } | { kind: 'not_found' } | { kind: 'refused'; booking: Booking };

export interface PayInput {
  paymentMethod: string;
  /** Fingerprint of (Idempotency-Key, payment method): the same pay request again is a replay. */
  requestHash: string | null;
  /** The payment window: the hold's expiry becomes at least now + this. */
  windowMs: number;
}

export type PayResult = TransitionResult | { kind: 'replayed'; booking: Booking };

export interface BookingStore {
  /** Reserves seats, inserts the booking and its outbox row in ONE statement. */
  reserve(input: ReserveInput): Promise<ReserveResult>;
  get(id: string): Promise<Booking | null>;
  list(query: BookingQuery): Promise<Page<Booking>>;
  /** pending and not lapsed → confirmed; `refused` carries the booking as it is. */
  confirm(id: string): Promise<TransitionResult>;
  /**
   * pending|payment_pending|confirmed → cancelled, releasing the seats in the same statement; a
   * paid (confirmed) booking also emits `refund.requested`.
   */
  cancel(id: string): Promise<TransitionResult>;
  /**
   * pending and not lapsed → payment_pending with the payment window, emitting `payment.requested`
   * (outbox) in the same statement. A booking already moved by the same request is `replayed`.
   */
  pay(id: string, input: PayInput): Promise<PayResult>;
}

/**
 * What the booking use cases count, whichever edge called them (REST, GraphQL, gRPC) and the
 * saga's confirmation: the process's counters (observability/metrics.ts `bookingCounters`).
 */
export interface BookingRecorder {
  /** A booking attempt ended: created, replayed (Idempotency-Key), sold_out, conflict (key reused), rejected (another refusal) or error. */
  attempt(outcome: 'created' | 'replayed' | 'sold_out' | 'conflict' | 'rejected' | 'error'): void;
  /** A booking entered a status through a use case or the saga. */
  entered(status: 'pending' | 'payment_pending' | 'confirmed' | 'cancelled'): void;
  /** A booking became a sale (once per booking, when it is confirmed): its seats and amount. */
  sold(quantity: number, amountCents: number): void;
}

// ---------------------------------------------------------------- payments saga (booking side)

/** What applying one of the payments service's answers did (`duplicate`: its message id was in the inbox). */
export type SagaEffect = 'confirmed' | 'payment_failed' | 'refund_requested' | 'refunded' | 'ignored' | 'duplicate';

/** What payment.succeeded did; a confirmation says what was sold (the booking's own seats and amount). */
export interface SucceededEffect {
  effect: SagaEffect;
  sold?: { quantity: number; amountCents: number };
}

/** Applies the payments service's answers, each once (inbox of processed message ids). */
export interface PaymentOutcomeStore {
  /** payment_pending → confirmed; a booking that lapsed or was cancelled meanwhile is refunded instead (refund.requested). */
  succeeded(messageId: string, input: { bookingId: string; paymentId: string }): Promise<SucceededEffect>;
  /** payment_pending → payment_failed, releasing the seats (compensation). */
  failed(messageId: string, input: { bookingId: string; reason: string }): Promise<SagaEffect>;
  /** cancelled|expired (paid) → refunded. */
  refunded(messageId: string, input: { bookingId: string; paymentId?: string }): Promise<SagaEffect>;
}

// ---------------------------------------------------------------- audit

export interface AuditEntry {
  actorId: string | null;
  action: string;
  target?: string | null;
  ip?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditLog {
  record(entry: AuditEntry): Promise<void>;
}

// ---------------------------------------------------------------- health

export type HealthStatus = 'up' | 'degraded' | 'down';

export interface HealthCheck {
  name: string;
  /** A degraded non-critical backend keeps the process ready. */
  critical: boolean;
  check(): Promise<HealthStatus>;
  /**
   * Liveness: false once the component is wedged past what its own deadlines allow (work that
   * should have ended long ago still holds what it holds), which only a restart fixes. An outage
   * of a backend is never a reason (restarting would not bring it back); absent: always alive.
   */
  alive?(): boolean;
}

/** Something main.ts must close on shutdown, in reverse order of start. */
export interface Closeable {
  close(): Promise<void>;
}

// ---------------------------------------------------------------- access tokens

export interface AccessTokenClaims {
  userId: string;
  role: Role;
  tokenVersion: number;
}

export interface AccessTokenCodec {
  /** Signs claims; `expiresIn` is in seconds. */
  sign(claims: AccessTokenClaims): { token: string; expiresIn: number };
  /** Verified claims; throws UnauthenticatedError for anything not minted by us and still valid. */
  verify(token: string): AccessTokenClaims;
}

// ---- messaging

/** A domain event on the wire: JSON, persistent, `id` = outbox row id (also the AMQP messageId). */
export interface DomainMessage<T = Record<string, unknown>> {
  id: string;
  /** Also the routing key: booking.created, booking.confirmed, event.updated, … */
  type: string;
  /** ISO-8601 instant the state change committed. */
  occurredAt: string;
  aggregateId: string;
  data: T;
}

export type PublishResult = { id: string; ok: true } | { id: string; ok: false; error: Error };

export interface EventPublisher {
  /**
   * Publishes in order and resolves once the broker has answered for every message: `ok` only
   * for messages the broker confirmed. Never rejects; an unreachable broker yields failures.
   */
  publish(messages: readonly DomainMessage[]): Promise<PublishResult[]>;
}

/** Thrown by a handler for a message that can never succeed: dead-lettered at once, no retries. */
export class PermanentMessageError extends Error {
  override readonly name = 'PermanentMessageError';
}

export interface Delivery {
  /** 1 on the first delivery, counting this one. */
  attempt: number;
  redelivered: boolean;
}

/**
 * Resolve = done (ack). Throw = try again later, dead-lettered with the reason after the
 * configured number of attempts (PermanentMessageError: at once). Messages that cannot be
 * parsed never reach the handler: they are dead-lettered with the reason.
 */
export type MessageHandler = (message: DomainMessage, delivery: Delivery) => Promise<void>;

export interface Subscription {
  /** Stops taking messages and waits for the ones in flight. */
  cancel(): Promise<void>;
}

export interface EventConsumer {
  /** Consumes the notifications queue (the NOTIFICATION_TYPES events) at least once per message. */
  consume(handler: MessageHandler): Promise<Subscription>;
}

export interface Mail {
  to: string;
  subject: string;
  text: string;
  /**
   * The Message-ID header (`<…@…>`): the same for every attempt at one notification, so a
   * receiver or relay that drops duplicates by Message-ID drops a resend after a crash.
   */
  messageId?: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
  close?(): Promise<void>;
}

// ---- workers: the outbox, hold expiry, notifications

export interface OutboxMessage extends DomainMessage {
  /** Propagation headers stored with the row (trace context), copied to the message. */
  headers: Record<string, unknown>;
}

export interface RelayBatch {
  claimed: number;
  published: number;
  failed: number;
}

/** The transactional outbox the state changes append to (in the same transaction). */
export interface Outbox {
  /**
   * One relay step: claim a batch (rows other relays hold are skipped; the events of one aggregate
   * stay in order), hand it to `publish`, mark published exactly the messages it confirmed.
   */
  relayBatch(limit: number, publish: (messages: OutboxMessage[]) => Promise<PublishResult[]>): Promise<RelayBatch>;
  backlog(): Promise<{ count: number; oldestAgeSeconds: number }>;
  /** Deletes published messages older than the retention, at most `limit` per call; returns how many. */
  prune(retentionMs: number, limit?: number): Promise<number>;
}

/** Says that work was committed (PostgreSQL: LISTEN/NOTIFY). Best effort: a worker still polls for what it misses. */
export interface WakeUps {
  /** Never rejects: a source that cannot listen now keeps trying in the background. */
  start(wake: () => void): Promise<void>;
  close(): Promise<void>;
}

export interface HoldExpiry {
  /** Expires at most `limit` lapsed holds (releasing their seats, recording booking.expired); returns how many. */
  expireDue(limit: number): Promise<number>;
}

/** The booking events a user is mailed about (the notifier's queue is bound to exactly these). */
export const NOTIFICATION_TYPES = [
  'booking.confirmed',
  'booking.cancelled',
  'booking.expired',
  'booking.payment_failed',
  'booking.refunded',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export interface NotificationInput {
  bookingId: string;
  type: NotificationType;
  messageId: string;
  userId: string;
  payload: Record<string, unknown>;
}

export interface ClaimedNotification {
  id: string;
  recipient: string | null;
}

/**
 * `claimed`: this delivery sends it. `sent`: done already, nothing to do. `busy`: another delivery
 * holds the lease and has not sent it yet; it may still be sending, or it may have died mid-send,
 * in which case the lease lapses after `leaseLeftMs` and the notification can be claimed again.
 */
export type ClaimResult = ({ kind: 'claimed' } & ClaimedNotification) | { kind: 'sent' } | { kind: 'busy'; leaseLeftMs: number };

/** One notification per booking and type, sent at most once (a lease guards the send). */
export interface NotificationLog {
  /** Records the notification (first time) and takes the right to send it, or says why not. */
  claim(input: NotificationInput): Promise<ClaimResult>;
  markSent(id: string): Promise<void>;
  /** Gives the lease back after a failed send so the retry can take it at once. */
  release(id: string): Promise<void>;
}

// ---- cache, rate limits, revocation

/** What `Cache.get` found, with the stamp `Cache.set` needs to store a value read after it. */
export interface CacheLookup {
  value: string | null;
  /** Opaque generation of the namespace when read. */
  stamp: string;
}

/**
 * A namespaced cache with race-free invalidation. A value is stored only if its namespace was
 * not invalidated since the stamp was read, so a slow reader can never put back what a writer
 * just invalidated. Never throws: a backend that cannot answer makes `get` return null
 * (read the source, store nothing) and makes `set` a no-op.
 */
export interface Cache {
  get(namespace: string, key: string): Promise<CacheLookup | null>;
  set(namespace: string, key: string, value: string, ttlMs: number, stamp: string): Promise<void>;
  /** Makes every key of these namespaces unreachable; retried in the background until the backend confirms. */
  invalidate(namespaces: readonly string[]): Promise<void>;
}

export interface RateLimitPolicy {
  /** Requests (points) allowed per window; 0 disables the limit. */
  points: number;
  windowMs: number;
}

export interface RateLimitVerdict {
  allowed: boolean;
  limit: number;
  /** Points taken in the current window, this request included. */
  consumed: number;
  remaining: number;
  /** Until the window of this key resets. */
  resetMs: number;
}

export interface RateLimiter {
  readonly policy: RateLimitPolicy;
  /** Takes `points` (default 1) from the key's budget; `allowed` is false once it is exhausted. */
  consume(key: string, points?: number): Promise<RateLimitVerdict>;
  /** Gives points back (a request that turned out not to count). */
  refund(key: string, points?: number): Promise<void>;
  /** Forgets the key (e.g. failed logins after a successful one). */
  reset(key: string): Promise<void>;
}

export interface RateLimiterFactory {
  create(name: string, policy: RateLimitPolicy): RateLimiter;
}

export interface SessionStore {
  /** Bumps the user's token version and revokes every refresh token; the new version, null when no such user. */
  revokeAll(userId: string): Promise<number | null>;
}

export interface HoldSchedule {
  /** Milliseconds until the earliest pending hold on the event lapses; null when it has none. */
  msUntilNextExpiry(eventId: string): Promise<number | null>;
}

export interface AuditRecord {
  id: string;
  at: Date;
  actorId: string | null;
  action: string;
  target: string | null;
  ip: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  limit: number;
  cursor?: string;
  action?: string;
  actorId?: string;
}

export interface AuditReader {
  /** Newest first. */
  list(query: AuditQuery): Promise<Page<AuditRecord>>;
}

// ---- social sign-in (OAuth 2.0 / OpenID Connect)

/** What the authorization request carries; the verifier and nonce stay server-side. */
export interface AuthorizationRequest {
  state: string;
  /** PKCE verifier kept in the transaction; the URL carries only its S256 challenge. */
  codeVerifier: string;
  /** OpenID providers only. */
  nonce: string | null;
  redirectUri: string;
}

export interface AuthorizationChecks {
  state: string;
  codeVerifier: string;
  nonce: string | null;
  redirectUri: string;
}

/**
 * One external identity provider, spoken to through a maintained client library. Both methods
 * honour the provider deadline. Failures: OAuthFailedError (the provider refused, or what it
 * sent does not validate), ServiceUnavailableError (unreachable or too slow), ProviderFailedError
 * (it answered outside its protocol).
 */
export interface IdentityProvider {
  readonly name: OAuthProviderName;
  /** Issues ID tokens (and so gets a nonce). */
  readonly openId: boolean;
  authorizationUrl(request: AuthorizationRequest): Promise<URL>;
  /**
   * Completes the authorization response that reached `callbackUrl`: checks it, redeems the code
   * (with the PKCE verifier), validates the ID token (issuer, audience, signature by the
   * provider's keys, expiry, nonce) or reads the provider's user API; who signed in.
   */
  complete(callbackUrl: URL, checks: AuthorizationChecks): Promise<OAuthProfile>;
}

/**
 * Short-lived single-use values (OAuth transactions, one-time login codes): `take` returns a
 * value at most once, atomically, and never after its TTL. Keys are secrets' digests, never the
 * secrets. A backend that cannot answer throws ServiceUnavailableError.
 */
export interface OneTimeStore {
  put(namespace: string, key: string, value: string, ttlMs: number): Promise<void>;
  take(namespace: string, key: string): Promise<string | null>;
}

export interface IdentityLink {
  provider: OAuthProviderName;
  subject: string;
  userId: string;
}

/**
 * What linking a provider-verified identity cleared on an account whose address was never proven
 * (no earlier verified identity): its password and every session (refresh tokens revoked, token
 * version bumped). `null` when the account was proven already and nothing was cleared.
 */
export interface ClearedCredentials {
  passwordRemoved: boolean;
  refreshTokensRevoked: number;
  tokenVersion: number;
}

export interface IdentityStore {
  find(provider: OAuthProviderName, subject: string): Promise<IdentityLink | null>;
  /**
   * Adds the identity to an existing account, in one transaction. When the identity's address is
   * provider-verified and the account has no earlier verified identity (a password registration
   * proves no address), the provider's proof wins: the password and every session are cleared
   * (pre-account takeover). `null` when the identity exists already (a concurrent first sign-in
   * won); throws NotFoundError when the account is gone.
   */
  link(profile: OAuthProfile, userId: string): Promise<{ cleared: ClearedCredentials | null } | null>;
  /**
   * Creates an account (role user, no password) with the identity, in one transaction. EmailTakenError
   * when the address is an account's; `null` when the identity exists already.
   */
  createAccount(profile: OAuthProfile, email: string): Promise<User | null>;
  /** Records a sign-in (last_sign_in_at, the provider's current address and its verification). */
  touch(profile: OAuthProfile): Promise<void>;
}
