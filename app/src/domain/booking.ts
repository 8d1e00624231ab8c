import { InvalidTransitionError } from './errors';
import { type Actor, isAdmin } from './user';

export const BOOKING_STATUSES = ['pending', 'confirmed', 'cancelled', 'expired'] as const;
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
 * The whole state machine, and its one source of truth: pending → confirmed | cancelled | expired;
 * confirmed → cancelled. The SQL that moves a booking guards each move with `sourcesOf` (see
 * adapters/postgres/transitions.ts), so a status or a move added here is enforced there too.
 */
export const TRANSITIONS: Readonly<Record<BookingStatus, readonly BookingStatus[]>> = {
  pending: ['confirmed', 'cancelled', 'expired'],
  confirmed: ['cancelled'],
  cancelled: [],
  expired: [],
};

export function canTransition(from: BookingStatus, to: BookingStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The statuses a booking may move to `to` from, in BOOKING_STATUSES order. */
export function sourcesOf(to: BookingStatus): BookingStatus[] {
  return BOOKING_STATUSES.filter((from) => canTransition(from, to));
}

export function assertTransition(from: BookingStatus, to: BookingStatus): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to);
}

export function isHoldLapsed(booking: Pick<Booking, 'status' | 'expiresAt'>, now: Date): boolean {
  return booking.status === 'pending' && booking.expiresAt.getTime() <= now.getTime();
}

/** Others' bookings are invisible (404, not 403) so ids cannot be probed. */
export function canSeeBooking(actor: Actor, booking: Pick<Booking, 'userId'>): boolean {
  return isAdmin(actor) || booking.userId === actor.userId;
}

export function canCancelBooking(actor: Actor, booking: Pick<Booking, 'userId'>): boolean {
  return canSeeBooking(actor, booking);
}

export function canConfirmBooking(actor: Actor, booking: Pick<Booking, 'userId'>): boolean {
  return booking.userId === actor.userId;
}
