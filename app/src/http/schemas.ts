/**
 * Request and response shapes. The same zod schemas validate requests at the edge and
 * describe them in the OpenAPI document.
 */
import { z } from 'zod';
import { MAX_QUANTITY, MIN_QUANTITY, BOOKING_STATUSES } from '../domain/booking';
import { MAX_CAPACITY, MAX_PRICE_CENTS } from '../domain/event';
import { MIN_PASSWORD_LENGTH, ROLES } from '../domain/user';

/** Dates the service accepts: ISO 8601 with an offset, years 2000..2199. */
const MIN_DATE = Date.UTC(2000, 0, 1);
const MAX_DATE = Date.UTC(2200, 0, 1);
export const isoDate = z.iso
  .datetime({ offset: true })
  .transform((text) => new Date(text))
  .refine((date) => date.getTime() >= MIN_DATE && date.getTime() < MAX_DATE, 'must be between 2000-01-01 and 2199-12-31');

const text = (max: number) => z.string().trim().max(max);
const cents = z.int().min(0).max(MAX_PRICE_CENTS);

export const IdParams = z.strictObject({ id: z.uuid('must be a UUID') });

export const RegisterBody = z.strictObject({
  email: z.email('must be an email address').max(254),
  password: z.string().min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`).max(1024),
});

export const LoginBody = z.strictObject({
  email: z.string().min(1).max(254),
  password: z.string().min(1).max(1024),
});

export const RefreshBody = z.strictObject({ refreshToken: z.string().min(1).max(512) });

export const RoleBody = z.strictObject({ role: z.enum(ROLES) });

export const EventCreateBody = z.strictObject({
  name: text(200).min(1),
  description: text(5000).default(''),
  venue: text(200).default(''),
  startsAt: isoDate,
  endsAt: isoDate,
  priceCents: cents,
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code like EUR').default('EUR'),
  capacity: z.int().min(1).max(MAX_CAPACITY),
});

export const EventPatchBody = z
  .strictObject({
    name: text(200).min(1),
    description: text(5000),
    venue: text(200),
    startsAt: isoDate,
    endsAt: isoDate,
    priceCents: cents,
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code like EUR'),
    capacity: z.int().min(1).max(MAX_CAPACITY),
  })
  .partial()
  .refine((patch) => Object.keys(patch).length > 0, 'must change at least one field');

const integerParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,12}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min).max(max));

export const EventListQuery = z.strictObject({
  limit: integerParam(1, 100).default(20),
  cursor: z.string().max(200).optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  minPrice: integerParam(0, MAX_PRICE_CENTS).optional(),
  maxPrice: integerParam(0, MAX_PRICE_CENTS).optional(),
  q: z.string().trim().min(1).max(100).optional(),
});

export const BookingListQuery = z.strictObject({
  limit: integerParam(1, 100).default(20),
  cursor: z.string().max(200).optional(),
  status: z.enum(BOOKING_STATUSES).optional(),
});

export const BookingCreateBody = z.strictObject({ quantity: z.int().min(MIN_QUANTITY).max(MAX_QUANTITY) });

export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters')
    .optional(),
});

// ---------------------------------------------------------------- responses

export const UserJson = z.object({ id: z.uuid(), email: z.string(), role: z.enum(ROLES), createdAt: z.string(), updatedAt: z.string() });
export const TokenPairJson = z.object({ accessToken: z.string(), refreshToken: z.string(), tokenType: z.literal('Bearer'), expiresIn: z.int() });
export const EventJson = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string(),
  venue: z.string(),
  startsAt: z.string(),
  endsAt: z.string(),
  priceCents: z.int(),
  currency: z.string(),
  capacity: z.int(),
  available: z.int(),
  organizerId: z.uuid(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const BookingJson = z.object({
  id: z.uuid(),
  eventId: z.uuid(),
  userId: z.uuid(),
  quantity: z.int(),
  amountCents: z.int(),
  status: z.enum(BOOKING_STATUSES),
  expiresAt: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
