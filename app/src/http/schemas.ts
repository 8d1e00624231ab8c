/**
 * Request and response shapes. The same zod schemas validate requests at the edge and
 * describe them in the OpenAPI document.
 */
import { z } from 'zod';
import { MAX_QUANTITY, MIN_QUANTITY, BOOKING_STATUSES, PAYMENT_METHOD_PATTERN } from '../domain/booking';
import { MAX_CAPACITY, MAX_PRICE_CENTS } from '../domain/event';
import { MIN_PASSWORD_LENGTH, ROLES } from '../domain/user';

/** Dates the service accepts: ISO 8601 with an offset, years 2000..2199. */
const MIN_DATE = Date.UTC(2000, 0, 1);
const MAX_DATE = Date.UTC(2200, 0, 1);
/** Longest ISO 8601 instant accepted: nanoseconds and an offset (`2026-12-01T20:00:00.123456789+01:00` is 35). */
const MAX_DATE_LENGTH = 40;
export const isoDate = z.iso
  .datetime({ offset: true })
  .max(MAX_DATE_LENGTH)
  .transform((text) => new Date(text))
  .refine((date) => date.getTime() >= MIN_DATE && date.getTime() < MAX_DATE, 'must be between 2000-01-01 and 2199-12-31');

const text = (max: number) => z.string().trim().max(max);
/** OpenAPI integer formats: what a generated client's type must hold. */
const int32 = (min: number, max: number) => z.int().min(min).max(max).meta({ format: 'int32' });
const cents = int32(0, MAX_PRICE_CENTS);
const uuid = (message?: string) => z.uuid(message).max(36);
/** The instants the service writes (Date#toISOString). */
const timestamp = z.iso.datetime().max(MAX_DATE_LENGTH);
const currency = z
  .string()
  .length(3)
  .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code like EUR');

export const IdParams = z.strictObject({ id: uuid('must be a UUID') });

export const RegisterBody = z
  .strictObject({
    email: z.email('must be an email address').max(254),
    password: z
      .string()
      .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
      .max(1024)
      .meta({ format: 'password' }),
  })
  .meta({ example: { email: 'ada@example.com', password: 'correct horse battery staple' } });

export const LoginBody = z
  .strictObject({
    email: z.string().min(1).max(254),
    password: z.string().min(1).max(1024).meta({ format: 'password' }),
  })
  .meta({ example: { email: 'ada@example.com', password: 'correct horse battery staple' } });

export const RefreshBody = z
  .strictObject({ refreshToken: z.string().min(1).max(512) })
  .meta({ example: { refreshToken: 'Xq3kD9sV-7l0mB2pQe1tYwQjM2aZk0f8NnRr3xWcT6u' } });

export const RoleBody = z.strictObject({ role: z.enum(ROLES) }).meta({ example: { role: 'organizer' } });

export const EventCreateBody = z
  .strictObject({
    name: text(200).min(1),
    description: text(5000).default(''),
    venue: text(200).default(''),
    startsAt: isoDate,
    endsAt: isoDate,
    priceCents: cents,
    currency: currency.default('EUR'),
    capacity: int32(1, MAX_CAPACITY),
  })
  .meta({
    example: {
      name: 'Kraftwerk live',
      description: 'The 3-D concert.',
      venue: 'Philharmonie, Berlin',
      startsAt: '2099-06-01T19:00:00.000Z',
      endsAt: '2099-06-01T22:00:00.000Z',
      priceCents: 4500,
      currency: 'EUR',
      capacity: 2000,
    },
  });

export const EventPatchBody = z
  .strictObject({
    name: text(200).min(1),
    description: text(5000),
    venue: text(200),
    startsAt: isoDate,
    endsAt: isoDate,
    priceCents: cents,
    currency,
    capacity: int32(1, MAX_CAPACITY),
  })
  .partial()
  .refine((patch) => Object.keys(patch).length > 0, 'must change at least one field')
  .meta({ example: { capacity: 2500, priceCents: 3900 } });

/**
 * A whole number in a query string. Validated from the text (no exponents, signs or blanks), and
 * documented as the integer it is, so generated clients take a number.
 */
const integerParam = (min: number, max: number, fallback?: number) => {
  const parsed = z
    .string()
    .regex(/^\d{1,12}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min).max(max));
  const documented = {
    type: 'integer',
    format: 'int32',
    minimum: min,
    maximum: max,
    ...(fallback === undefined ? {} : { default: fallback }),
  };
  return (fallback === undefined ? parsed : parsed.default(fallback)).meta(documented as never);
};

/** An opaque `nextCursor` handed back by a list (base64url). */
const cursorParam = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9_-]+$/, 'is not a cursor returned by this API');

export const EventListQuery = z.strictObject({
  limit: integerParam(1, 100, 20),
  cursor: cursorParam.optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  minPrice: integerParam(0, MAX_PRICE_CENTS).optional(),
  maxPrice: integerParam(0, MAX_PRICE_CENTS).optional(),
  q: z.string().trim().min(1).max(100).optional(),
});

export const BookingListQuery = z.strictObject({
  limit: integerParam(1, 100, 20),
  cursor: cursorParam.optional(),
  status: z.enum(BOOKING_STATUSES).optional(),
});

export const BookingCreateBody = z.strictObject({ quantity: int32(MIN_QUANTITY, MAX_QUANTITY) }).meta({ example: { quantity: 2 } });

export const EventDeleteQuery = z.strictObject({
  cancelBookings: z
    .enum(['true', 'false'])
    .optional()
    .describe('Admins only: cancel every active booking with the event (paid ones are refunded) instead of answering 409'),
});

export const BookingPayBody = z
  .strictObject({
    paymentMethod: z
      .string()
      .max(123)
      .regex(PAYMENT_METHOD_PATTERN, 'must be a payment method id (pm_…)')
      .describe('The payment method to charge, a Stripe PaymentMethod id (test methods: pm_card_visa; pm_card_chargeDeclined is declined)'),
  })
  .meta({ example: { paymentMethod: 'pm_card_visa' } });

export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .max(255)
    .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters')
    .optional()
    .meta({ description: 'Makes a retry safe: the same key with the same body replays the first booking', example: '7f0c2a9e-checkout-1' }),
});

// ---------------------------------------------------------------- responses

const EXAMPLE_TIME = '2026-12-01T20:00:00.000Z';
const EXAMPLE_USER_ID = '2b1f7c0e-9a4d-4e8b-b6f1-3c5d7e9a1b20';
const EXAMPLE_EVENT_ID = '6f9d3a1c-5b7e-4c2d-9e8f-1a2b3c4d5e6f';

export const UserJson = z
  .object({ id: uuid(), email: z.email().max(254), role: z.enum(ROLES), createdAt: timestamp, updatedAt: timestamp })
  .meta({ example: { id: EXAMPLE_USER_ID, email: 'ada@example.com', role: 'user', createdAt: EXAMPLE_TIME, updatedAt: EXAMPLE_TIME } });
export const TokenPairJson = z
  .object({
    accessToken: z.jwt().max(4096).meta({ pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$' }),
    /** 32 random bytes, base64url. */
    refreshToken: z
      .string()
      .length(43)
      .regex(/^[A-Za-z0-9_-]{43}$/),
    tokenType: z.literal('Bearer'),
    /** Seconds until the access token expires. */
    expiresIn: int32(1, 31 * 86_400),
  })
  .meta({
    example: {
      accessToken: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIyYjFmN2MwZSJ9.c2lnbmF0dXJl',
      refreshToken: 'Xq3kD9sV-7l0mB2pQe1tYwQjM2aZk0f8NnRr3xWcT6u',
      tokenType: 'Bearer',
      expiresIn: 900,
    },
  });
const eventExample = {
  id: EXAMPLE_EVENT_ID,
  name: 'Kraftwerk live',
  description: 'The 3-D concert.',
  venue: 'Philharmonie, Berlin',
  startsAt: '2099-06-01T19:00:00.000Z',
  endsAt: '2099-06-01T22:00:00.000Z',
  priceCents: 4500,
  currency: 'EUR',
  capacity: 2000,
  available: 1998,
  organizerId: EXAMPLE_USER_ID,
  createdAt: EXAMPLE_TIME,
  updatedAt: EXAMPLE_TIME,
};
export const EventJson = z
  .object({
    id: uuid(),
    name: z.string().max(200),
    description: z.string().max(5000),
    venue: z.string().max(200),
    startsAt: timestamp,
    endsAt: timestamp,
    priceCents: cents,
    currency,
    capacity: int32(1, MAX_CAPACITY),
    available: int32(0, MAX_CAPACITY),
    organizerId: uuid(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ example: eventExample });
const bookingExample = {
  id: '0c8e4b2a-7d1f-4a3e-8b5c-9d0e1f2a3b4c',
  eventId: EXAMPLE_EVENT_ID,
  userId: EXAMPLE_USER_ID,
  quantity: 2,
  amountCents: 9000,
  status: 'pending',
  expiresAt: '2026-12-01T20:10:00.000Z',
  createdAt: EXAMPLE_TIME,
  updatedAt: EXAMPLE_TIME,
};
export const BookingJson = z
  .object({
    id: uuid(),
    eventId: uuid(),
    userId: uuid(),
    quantity: int32(MIN_QUANTITY, MAX_QUANTITY),
    amountCents: int32(0, MAX_PRICE_CENTS * MAX_QUANTITY),
    status: z.enum(BOOKING_STATUSES),
    expiresAt: timestamp,
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ example: bookingExample });
/** Largest page a list answers (the `limit` maximum). */
export const MAX_PAGE_SIZE = 100;
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item).max(MAX_PAGE_SIZE), nextCursor: cursorParam.nullable() });
