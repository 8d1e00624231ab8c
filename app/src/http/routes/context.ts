import type { Request } from 'express';
import type { Booking } from '../../domain/booking';
import type { User } from '../../domain/user';
import type { CallContext } from '../../services/context';

export function callContext(req: Request): CallContext {
  return { ip: req.ip ?? null, requestId: (req.res?.locals.requestId as string | undefined) ?? null };
}

/** Explicit allow-list: a stored user carries its password hash, which must never leave. */
export function userJson(user: User) {
  return { id: user.id, email: user.email, role: user.role, createdAt: user.createdAt, updatedAt: user.updatedAt };
}

export function bookingJson(booking: Booking) {
  return {
    id: booking.id,
    eventId: booking.eventId,
    userId: booking.userId,
    quantity: booking.quantity,
    amountCents: booking.amountCents,
    status: booking.status,
    expiresAt: booking.expiresAt,
    createdAt: booking.createdAt,
    updatedAt: booking.updatedAt,
  };
}
