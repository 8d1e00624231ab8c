import { type Actor, isAdmin } from './user';
import { CapacityBelowTakenError, ForbiddenError, ValidationError, type FieldError } from './errors';

export interface NewEvent {
  name: string;
  description: string;
  venue: string;
  startsAt: Date;
  endsAt: Date;
  priceCents: number;
  currency: string;
  capacity: number;
}

export interface Event extends NewEvent {
  id: string;
  /** Seats not held by a pending or confirmed booking. */
  available: number;
  organizerId: string;
  createdAt: Date;
  updatedAt: Date;
}

export type EventPatch = Partial<NewEvent>;

export const MAX_CAPACITY = 1_000_000;
export const MAX_PRICE_CENTS = 100_000_000;

export function seatsTaken(event: Pick<Event, 'capacity' | 'available'>): number {
  return event.capacity - event.available;
}

/** Rules that span fields; single-field shapes are checked at the edge. */
export function assertValidSchedule(startsAt: Date, endsAt: Date): void {
  const fields: FieldError[] = [];
  if (endsAt.getTime() <= startsAt.getTime()) fields.push({ path: 'endsAt', message: 'must be after startsAt' });
  if (fields.length > 0) throw new ValidationError('invalid schedule', fields);
}

/**
 * An event is created (or moved) to end in the future: one that is already over could never be
 * booked (bookings need ends_at > now()) and would only clutter listings.
 */
export function assertNotOver(endsAt: Date, now: Date): void {
  if (endsAt.getTime() <= now.getTime())
    throw new ValidationError('invalid schedule', [{ path: 'endsAt', message: 'must be in the future' }]);
}

/** The event after a patch, keeping 0 <= available <= capacity and the seats already taken. */
export function applyPatch(event: Event, patch: EventPatch): Event {
  const next: Event = { ...event, ...definedOnly(patch) };
  assertValidSchedule(next.startsAt, next.endsAt);
  if (patch.capacity !== undefined) {
    const taken = seatsTaken(event);
    if (patch.capacity < taken) throw new CapacityBelowTakenError(taken);
    next.available = patch.capacity - taken;
  }
  return next;
}

export function canManageEvent(actor: Actor, event: Pick<Event, 'organizerId'>): boolean {
  return isAdmin(actor) || (actor.role === 'organizer' && event.organizerId === actor.userId);
}

export function assertCanManageEvent(actor: Actor, event: Pick<Event, 'organizerId'>): void {
  if (!canManageEvent(actor, event)) throw new ForbiddenError('only the organizer of this event or an admin may change it');
}

/** Admins delete any event; organizers only their own; always refused while bookings are active (checked by the store). */
export function assertCanDeleteEvent(actor: Actor, event: Pick<Event, 'organizerId'>): void {
  assertCanManageEvent(actor, event);
}

function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<T>;
}
