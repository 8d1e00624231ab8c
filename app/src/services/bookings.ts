import { createHash } from 'node:crypto';
import { canCancelBooking, canConfirmBooking, canSeeBooking, isHoldLapsed, type Booking, type BookingStatus } from '../domain/booking';
import { EventEndedError, HoldExpiredError, IdempotencyKeyReusedError, InvalidTransitionError, NotFoundError, SoldOutError } from '../domain/errors';
import { isAdmin, type Actor } from '../domain/user';
import type { BookingStore, Clock, Page, TransitionResult } from '../ports';

export interface BookResult {
  booking: Booking;
  /** True when an Idempotency-Key replay returned the original booking. */
  replayed: boolean;
}

export class BookingService {
  constructor(private readonly deps: { bookings: BookingStore; clock: Clock; holdMs: number }) {}

  async book(actor: Actor, eventId: string, quantity: number, idempotencyKey?: string): Promise<BookResult> {
    const result = await this.deps.bookings.reserve({
      eventId,
      userId: actor.userId,
      quantity,
      holdMs: this.deps.holdMs,
      idempotencyKey,
      requestHash: idempotencyKey ? createHash('sha256').update(`${eventId}:${quantity}`).digest('hex') : undefined,
    });
    switch (result.kind) {
      case 'created':
        return { booking: result.booking, replayed: false };
      case 'replayed':
        return { booking: result.booking, replayed: true };
      case 'sold_out':
        throw new SoldOutError(result.available);
      case 'event_not_found':
        throw new NotFoundError('event');
      case 'event_ended':
        throw new EventEndedError();
      case 'idempotency_mismatch':
        throw new IdempotencyKeyReusedError();
    }
  }

  async get(actor: Actor, id: string): Promise<Booking> {
    const booking = await this.deps.bookings.get(id);
    if (!booking || !canSeeBooking(actor, booking)) throw new NotFoundError('booking');
    return booking;
  }

  list(actor: Actor, query: { limit: number; cursor?: string; status?: BookingStatus }): Promise<Page<Booking>> {
    return this.deps.bookings.list({ ...query, userId: isAdmin(actor) ? undefined : actor.userId });
  }

  async confirm(actor: Actor, id: string): Promise<Booking> {
    const booking = await this.get(actor, id);
    if (!canConfirmBooking(actor, booking)) throw new NotFoundError('booking');
    return this.settle(await this.deps.bookings.confirm(id), 'confirmed');
  }

  async cancel(actor: Actor, id: string): Promise<Booking> {
    const booking = await this.get(actor, id);
    if (!canCancelBooking(actor, booking)) throw new NotFoundError('booking');
    return this.settle(await this.deps.bookings.cancel(id), 'cancelled');
  }

  private settle(result: TransitionResult, to: BookingStatus): Booking {
    if (result.kind === 'ok') return result.booking;
    if (result.kind === 'not_found') throw new NotFoundError('booking');
    const { booking } = result;
    if (booking.status === 'expired' || isHoldLapsed(booking, this.deps.clock.now())) throw new HoldExpiredError();
    throw new InvalidTransitionError(booking.status, to);
  }
}
