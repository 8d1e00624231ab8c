import { createHash } from 'node:crypto';
import {
  canCancelBooking,
  canConfirmBooking,
  canPayBooking,
  canSeeBooking,
  isHoldLapsed,
  needsPayment,
  type Booking,
  type BookingStatus,
} from '../domain/booking';
import {
  DomainError,
  EventEndedError,
  HoldExpiredError,
  IdempotencyKeyReusedError,
  InvalidTransitionError,
  NotFoundError,
  PaymentNotRequiredError,
  PaymentRequiredError,
  SoldOutError,
} from '../domain/errors';
import { isAdmin, type Actor } from '../domain/user';
import type { AuditLog, BookingRecorder, BookingStore, Clock, HoldSchedule, Page, TransitionResult } from '../ports';
import type { CallContext } from './context';
import type { EventCache, SeatProbe } from './event-cache';

export interface BookResult {
  booking: Booking;
  /** True when an Idempotency-Key replay returned the original booking. */
  replayed: boolean;
}

export interface BookingServiceDeps {
  bookings: BookingStore;
  clock: Clock;
  holdMs: number;
  /** Sold-out fast path and invalidation of the cached event after seat changes. */
  cache?: EventCache;
  /** Caps the seat marker's life at the next hold expiry (seats the sweeper will release). */
  holds?: HoldSchedule;
  audit?: AuditLog;
  /** The payment window (PAYMENT_WINDOW): a hold being paid keeps its seats at least this long. */
  paymentWindowMs?: number;
  /** The booking counters (observability): counted here, so every edge counts the same. */
  recorder?: BookingRecorder;
}

export interface PayOutcome {
  booking: Booking;
  replayed: boolean;
}

/**
 * The sold-out rule of a seat marker, in one place (`book` with the shared marker, the
 * hot-request stage through `refusalFromMarker` with this process's copy; PostgreSQL decides
 * everything else): a request for more seats than the marker's bound is refused, unless it
 * carries an Idempotency-Key (it may be the replay of a booking made earlier).
 */
/** The attempt outcome a failed `book` is counted under. */
function outcomeOf(error: unknown): Parameters<BookingRecorder['attempt']>[0] {
  if (error instanceof SoldOutError) return 'sold_out';
  if (error instanceof IdempotencyKeyReusedError) return 'conflict';
  if (error instanceof DomainError) return 'rejected';
  return 'error';
}

function markerRefuses(bound: number | null | undefined, quantity: number, idempotencyKey: string | undefined): bound is number {
  return bound !== null && bound !== undefined && quantity > bound && idempotencyKey === undefined;
}

export class BookingService {
  constructor(private readonly deps: BookingServiceDeps) {}

  /** Holds seats; every attempt is counted once under its outcome (the hot-request stage counts its own refusals). */
  async book(actor: Actor, eventId: string, quantity: number, idempotencyKey?: string): Promise<BookResult> {
    const recorder = this.deps.recorder;
    try {
      const result = await this.reserve(actor, eventId, quantity, idempotencyKey);
      recorder?.attempt(result.replayed ? 'replayed' : 'created');
      if (!result.replayed) recorder?.entered('pending');
      return result;
    } catch (error) {
      recorder?.attempt(outcomeOf(error));
      throw error;
    }
  }

  private async reserve(actor: Actor, eventId: string, quantity: number, idempotencyKey?: string): Promise<BookResult> {
    // Sold-out fast path: a remembered upper bound of the seats left turns larger requests away
    // without the booking statement (no row lock). It can only refuse; PostgreSQL alone books.
    // A request with an Idempotency-Key may be a replay of a booking made earlier: it always asks the store.
    let probe = await this.deps.cache?.seats(eventId);
    if (probe && markerRefuses(probe.bound, quantity, idempotencyKey)) throw new SoldOutError(probe.bound);
    const request = {
      eventId,
      userId: actor.userId,
      quantity,
      holdMs: this.deps.holdMs,
      idempotencyKey,
      requestHash: idempotencyKey ? createHash('sha256').update(`${eventId}:${quantity}`).digest('hex') : undefined,
    };
    let result = await this.deps.bookings.reserve(request);
    if (result.kind === 'sold_out' && probe?.remembered) {
      // The marker is stored only under a stamp read before the statement that learnt the seats
      // left, and a remembered probe's may be older than a change since: probe again, ask again
      // (once per sell-out and process: the marker answers the next ones).
      probe = await this.deps.cache!.seats(eventId, { fresh: true });
      if (markerRefuses(probe.bound, quantity, idempotencyKey)) throw new SoldOutError(probe.bound);
      result = await this.deps.bookings.reserve(request);
    }
    switch (result.kind) {
      case 'created':
        await this.deps.cache?.eventChanged(eventId);
        return { booking: result.booking, replayed: false };
      case 'replayed':
        return { booking: result.booking, replayed: true };
      case 'sold_out':
        if (probe?.stamp) await this.rememberSeats(eventId, result.available, { ...probe, stamp: probe.stamp });
        throw new SoldOutError(result.available);
      case 'event_not_found':
        throw new NotFoundError('event');
      case 'event_ended':
        throw new EventEndedError();
      case 'idempotency_mismatch':
        throw new IdempotencyKeyReusedError();
    }
  }

  /**
   * The refusal `book` would answer from this process's copy of the seat marker, decided without
   * waiting for anything: the seats left at most (the SoldOutError's `available`) when `quantity`
   * cannot be served, else null. A request with an Idempotency-Key is never refused here (it may
   * be a replay). Counts the marker hit, and the attempt as sold_out, when it refuses.
   */
  refusalFromMarker(eventId: string, quantity: number, idempotencyKey?: string): number | null {
    if (!this.deps.cache) return null;
    const bound = this.deps.cache.peekSeats(eventId);
    if (!markerRefuses(bound, quantity, idempotencyKey)) return null;
    this.deps.cache.countSeatHit();
    this.deps.recorder?.attempt('sold_out');
    return bound;
  }

  /** Whether this process holds a seat marker for the event (a refusal may be answered early). */
  mayRefuseEarly(eventId: string): boolean {
    return this.deps.cache?.peekSeats(eventId) !== undefined;
  }

  async get(actor: Actor, id: string): Promise<Booking> {
    const booking = await this.deps.bookings.get(id);
    if (!booking || !canSeeBooking(actor, booking)) throw new NotFoundError('booking');
    return booking;
  }

  list(actor: Actor, query: { limit: number; cursor?: string; status?: BookingStatus }): Promise<Page<Booking>> {
    return this.deps.bookings.list({ ...query, userId: isAdmin(actor) ? undefined : actor.userId });
  }

  /**
   * A bare confirm (no money moves): the owner's hold on a free event, or an admin override of any
   * pending hold (audited). A paid hold's owner is told to pay (402) once the hold could be confirmed at all.
   */
  async confirm(actor: Actor, id: string, context: CallContext = {}): Promise<Booking> {
    const booking = await this.get(actor, id);
    if (!canConfirmBooking(actor, booking)) throw new NotFoundError('booking');
    if (needsPayment(actor, booking)) {
      // What the hold is matters first: an expired or settled booking is a 409 whoever asks.
      if (booking.status !== 'pending' || isHoldLapsed(booking, this.deps.clock.now()))
        this.settle({ kind: 'refused', booking }, 'confirmed');
      throw new PaymentRequiredError();
    }
    const confirmed = this.settle(await this.deps.bookings.confirm(id), 'confirmed');
    this.deps.recorder?.entered('confirmed');
    this.deps.recorder?.sold(confirmed.quantity, confirmed.amountCents);
    if (booking.amountCents > 0 || booking.userId !== actor.userId) {
      await this.deps.audit?.record({
        actorId: actor.userId,
        action: 'booking.confirmed_by_admin',
        target: id,
        details: { owner: booking.userId, amountCents: booking.amountCents, unpaid: booking.amountCents > 0 },
        ...context,
      });
    }
    return confirmed;
  }

  /**
   * The owner pays a pending hold: payment_pending, `payment.requested` to the payments service,
   * the hold extended by the payment window. The same Idempotency-Key (and method) again returns
   * the booking as it is now.
   */
  async pay(actor: Actor, id: string, paymentMethod: string, idempotencyKey?: string): Promise<PayOutcome> {
    const booking = await this.get(actor, id);
    if (!canPayBooking(actor, booking)) throw new NotFoundError('booking');
    if (booking.amountCents === 0 && booking.status === 'pending') throw new PaymentNotRequiredError();
    const requestHash = idempotencyKey ? createHash('sha256').update(`${idempotencyKey}:${paymentMethod}`).digest('hex') : null;
    const result = await this.deps.bookings.pay(id, { paymentMethod, requestHash, windowMs: this.deps.paymentWindowMs ?? 5 * 60_000 });
    if (result.kind === 'replayed') return { booking: result.booking, replayed: true };
    const pending = this.settle(result, 'payment_pending');
    // Not a sale yet: the saga counts the seats and the money when the payment confirms it.
    this.deps.recorder?.entered('payment_pending');
    return { booking: pending, replayed: false };
  }

  async cancel(actor: Actor, id: string, context: CallContext = {}): Promise<Booking> {
    const booking = await this.get(actor, id);
    if (!canCancelBooking(actor, booking)) throw new NotFoundError('booking');
    const cancelled = this.settle(await this.deps.bookings.cancel(id), 'cancelled');
    this.deps.recorder?.entered('cancelled');
    // The seats are back: the event's cached copy and its seat marker go.
    await this.deps.cache?.eventChanged(cancelled.eventId);
    if (booking.userId !== actor.userId) {
      await this.deps.audit?.record({
        actorId: actor.userId,
        action: 'booking.cancelled_by_admin',
        target: id,
        details: { owner: booking.userId },
        ...context,
      });
    }
    return cancelled;
  }

  /** The marker lives until the earliest pending hold lapses at the latest (its seats may come back then). */
  private async rememberSeats(eventId: string, available: number, probe: SeatProbe & { stamp: string }): Promise<void> {
    const cache = this.deps.cache;
    if (!cache) return;
    const untilNextExpiry = this.deps.holds ? await this.deps.holds.msUntilNextExpiry(eventId) : null;
    const ttlMs = untilNextExpiry === null ? Number.POSITIVE_INFINITY : untilNextExpiry;
    if (ttlMs > 0) await cache.rememberSeats(eventId, available, probe, ttlMs);
  }

  private settle(result: TransitionResult, to: BookingStatus): Booking {
    if (result.kind === 'ok') return result.booking;
    if (result.kind === 'not_found') throw new NotFoundError('booking');
    const { booking } = result;
    if (booking.status === 'expired' || isHoldLapsed(booking, this.deps.clock.now())) throw new HoldExpiredError();
    throw new InvalidTransitionError(booking.status, to);
  }
}
