import type { Booking, BookingStatus } from '../../domain/booking';
import type { Event } from '../../domain/event';
import type { Role } from '../../domain/user';
import type { UserWithSecret } from '../../ports';

export const EVENT_COLUMNS = `id, organizer_id, name, description, venue, starts_at, ends_at, price_cents, currency,
  capacity, available, created_at, updated_at`;

export interface EventRow {
  id: string;
  organizer_id: string;
  name: string;
  description: string;
  venue: string;
  starts_at: Date;
  ends_at: Date;
  price_cents: number;
  currency: string;
  capacity: number;
  available: number;
  created_at: Date;
  updated_at: Date;
}

export function toEvent(row: EventRow): Event {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    venue: row.venue,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    priceCents: row.price_cents,
    currency: row.currency,
    capacity: row.capacity,
    available: row.available,
    organizerId: row.organizer_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export const BOOKING_COLUMNS = 'id, event_id, user_id, quantity, amount_cents, status, expires_at, created_at, updated_at';

export interface BookingRow {
  id: string;
  event_id: string;
  user_id: string;
  quantity: number;
  amount_cents: number;
  status: BookingStatus;
  expires_at: Date;
  created_at: Date;
  updated_at: Date;
}

export function toBooking(row: BookingRow): Booking {
  return {
    id: row.id,
    eventId: row.event_id,
    userId: row.user_id,
    quantity: row.quantity,
    amountCents: row.amount_cents,
    status: row.status,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface UserRow {
  id: string;
  email: string;
  password_hash: string | null;
  role: Role;
  token_version: number;
  created_at: Date;
  updated_at: Date;
}

export function toUser(row: UserRow): UserWithSecret {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    passwordHash: row.password_hash,
    tokenVersion: row.token_version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Payload of booking.* domain events: what consumers need without reading our tables. */
export const BOOKING_EVENT_PAYLOAD = (alias: string) => `jsonb_build_object(
  'bookingId', ${alias}.id, 'eventId', ${alias}.event_id, 'userId', ${alias}.user_id,
  'quantity', ${alias}.quantity, 'amountCents', ${alias}.amount_cents, 'status', ${alias}.status,
  'expiresAt', ${alias}.expires_at)`;
