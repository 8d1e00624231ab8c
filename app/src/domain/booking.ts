import { InvalidTransitionError } from './errors';
import { type Actor, isAdmin } from './user';

/** Every status a booking can have, as the API names them (keep these names). */
export const BOOKING_STATUSES = ['pending', 'payment_pending', 'confirmed', 'payment_failed', 'cancelled', 'expired', 'refunded'] as const;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];

export interface Booking {
  id: string;
  eventId: string;
  userId: string;
  quantity: number;
  amountCents: number;
  status: BookingStatus;
  expiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

export const MIN_QUANTITY = 1;
export const MAX_QUANTITY = 10;

/**
 * The whole state machine, the one source of truth: the SQL guards of the stores are built from
 * it (adapters/postgres/transitions.ts) and the migrations' CHECK is tested against it.
 *
 *   pending ──pay──▶ payment_pending ──payment.succeeded──▶ confirmed ──cancel──▶ cancelled ──refund.succeeded──▶ refunded
 *      │                  │  │  └─payment.failed──▶ payment_failed (seats released)
 *      │                  │  └─hold lapses──▶ expired ──late payment.succeeded, refund.succeeded──▶ refunded
 *      │                  └─cancel (admin, event deleted)──▶ cancelled
 *      ├─confirm (free event, admin override)──▶ confirmed
 *      └─cancel / hold lapses──▶ cancelled / expired
 *
 * `cancelled` and `expired` reach `refunded` only when money was captured for them (a confirmed
 * booking cancelled, or a payment that succeeded after the hold had lapsed or was cancelled).
 */
export const BOOKING_TRANSITIONS: Readonly<Record<BookingStatus, readonly BookingStatus[]>> = {
  pending: ['payment_pending', 'confirmed', 'cancelled', 'expired'],
  payment_pending: ['confirmed', 'payment_failed', 'cancelled', 'expired'],
  confirmed: ['cancelled'],
  payment_failed: [],
  cancelled: ['refunded'],
  expired: ['refunded'],
  refunded: [],
};

export function canTransition(from: BookingStatus, to: BookingStatus): boolean {
  return BOOKING_TRANSITIONS[from].includes(to);
}

export function assertTransition(from: BookingStatus, to: BookingStatus): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to);
}

/** The statuses a booking may be in to move to `to` (what a store's `WHERE status IN (…)` guard says). */
export function sourcesOf(to: BookingStatus): BookingStatus[] {
  return BOOKING_STATUSES.filter((from) => canTransition(from, to));
}

/** Statuses no transition leaves. */
export const TERMINAL_STATUSES: readonly BookingStatus[] = BOOKING_STATUSES.filter((s) => BOOKING_TRANSITIONS[s].length === 0);

/** Statuses that hold seats: seats taken = sum of their quantities. */
export const SEAT_HOLDING_STATUSES: readonly BookingStatus[] = ['pending', 'payment_pending', 'confirmed'];

/** Statuses whose hold lapses at `expiresAt` (a payment in flight has its own, bounded, window). */
export const LAPSING_STATUSES: readonly BookingStatus[] = ['pending', 'payment_pending'];

export function isHoldLapsed(booking: Pick<Booking, 'status' | 'expiresAt'>, now: Date): boolean {
  return LAPSING_STATUSES.includes(booking.status) && booking.expiresAt.getTime() <= now.getTime();
}

/** Others' bookings are invisible (404, not 403) so ids cannot be probed. */
export function canSeeBooking(actor: Actor, booking: Pick<Booking, 'userId'>): boolean {
  return isAdmin(actor) || booking.userId === actor.userId;
}

export function canCancelBooking(actor: Actor, booking: Pick<Booking, 'userId'>): boolean {
  return canSeeBooking(actor, booking);
}

/** Only the owner pays for a hold. */
export function canPayBooking(actor: Actor, booking: Pick<Booking, 'userId'>): boolean {
  return booking.userId === actor.userId;
}

export function canConfirmBooking(actor: Actor, booking: Pick<Booking, 'userId'>): boolean {
  return booking.userId === actor.userId;
}

/**
 * The payment window: a hold moved to payment_pending keeps its seats until the later of its own
 * expiry and now + window (PAYMENT_WINDOW, bounded by config), so a payment started in the last
 * second of a hold has the whole window to complete and one started early loses nothing.
 */
export function paymentDeadline(expiresAt: Date, now: Date, windowMs: number): Date {
  return new Date(Math.max(expiresAt.getTime(), now.getTime() + windowMs));
}

/** `pm_…`: a Stripe payment method id (test methods such as pm_card_visa included). @public (the pay request's schema, issue 20) */
export const PAYMENT_METHOD_PATTERN = /^pm_[A-Za-z0-9_]{1,120}$/;
