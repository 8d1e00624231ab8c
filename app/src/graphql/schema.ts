/**
 * The GraphQL schema, code first with Pothos: every field's TypeScript type is checked against
 * its resolver at compile time, with no generated code to keep in step. The printed SDL is
 * committed as app/src/graphql/schema.graphql (`npm run graphql:schema`; a test fails when the
 * two differ). Resolvers only validate with the REST edge's zod schemas and call services.
 */
import SchemaBuilder from '@pothos/core';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import type { z } from 'zod';
import { BOOKING_STATUSES, type Booking, type BookingStatus } from '../domain/booking';
import { ValidationError } from '../domain/errors';
import type { Event } from '../domain/event';
import type { User } from '../domain/user';
import { parseInput } from '../http/route';
import {
  BookingCreateBody,
  BookingListQuery,
  BookingPayBody,
  EventCreateBody,
  EventListQuery,
  EventPatchBody,
  IdempotencyHeaders,
  IdParams,
} from '../http/schemas';
import type { GraphqlContext } from './context';
import { traced } from './tracing';

/** Dates arrive as Date (from a store) or as ISO text (from the cached JSON). */
type Dated<T> = { [K in keyof T]: T[K] extends Date ? Date | string : T[K] };
type EventShape = Dated<Event>;

const builder = new SchemaBuilder<{
  Context: GraphqlContext;
  DefaultFieldNullability: false;
  Scalars: { DateTime: { Input: string; Output: Date | string } };
}>({ defaultFieldNullability: false });

builder.scalarType('DateTime', {
  description: 'An instant as ISO 8601 text with an offset (`2026-12-01T20:00:00.000Z`); the service writes UTC with milliseconds.',
  serialize: (value) => (value instanceof Date ? value.toISOString() : String(value)),
  parseValue: (value) => {
    if (typeof value !== 'string') throw new ValidationError('invalid DateTime', [{ path: 'DateTime', message: 'must be ISO 8601 text' }]);
    return value;
  },
});

/** REST's query parameter names → the GraphQL arguments they come from. */
const ARGUMENT_OF: Record<string, string> = { limit: 'first', cursor: 'after', 'idempotency-key': 'idempotencyKey' };

/** Validates with the REST edge's schema; field paths name the argument (`input.name`, `quantity`, `first`). */
function valid<T extends z.ZodType>(schema: T, value: Record<string, unknown>, where?: string): z.output<T> {
  const present = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null));
  try {
    return parseInput(schema, present, where ?? 'args')!;
  } catch (error) {
    if (error instanceof ValidationError && where === undefined) {
      const argument = (path: string) => {
        const name = path.replace(/^args\./, '');
        return ARGUMENT_OF[name] ?? name;
      };
      throw new ValidationError(
        error.message,
        error.fields.map((field) => ({ ...field, path: argument(field.path) })),
      );
    }
    throw error;
  }
}

const asId = (id: string) => valid(IdParams, { id }).id;

/** What each status means (the proto's BookingStatus says the same). */
const STATUS_MEANING: Record<BookingStatus, string> = {
  pending: 'Seats held until paid (or, on a free event, confirmed), cancelled or expired.',
  payment_pending: 'Payment started; the seats stay held until it settles.',
  confirmed: 'Paid, or confirmed without payment (a free event, an admin override).',
  payment_failed: 'The payment failed; the seats were released.',
  cancelled: 'Cancelled; its seats were released (a paid booking is refunded).',
  expired: 'The hold lapsed; its seats were released.',
  refunded: 'Paid, then refunded; the seats were released.',
};

const BookingStatusEnum = builder.enumType('BookingStatus', {
  description: 'Where a booking is in its life: pending holds seats until paid or confirmed, cancelled or expired.',
  values: Object.fromEntries(
    BOOKING_STATUSES.map((status) => [status.toUpperCase(), { value: status, description: STATUS_MEANING[status] }]),
  ) as Record<Uppercase<BookingStatus>, { value: BookingStatus; description: string }>,
});

const UserType = builder.objectRef<User>('User').implement({
  description: 'A signed-in account (never its password or tokens).',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The user id (UUID).' }),
    email: t.exposeString('email', { description: 'The normalized email address.' }),
    role: t.exposeString('role', { description: 'user, organizer or admin.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the account was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the account last changed.' }),
  }),
});

const EventType = builder.objectRef<EventShape>('Event').implement({
  description: 'Something to book seats for, with the seats still available.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The event id (UUID).' }),
    name: t.exposeString('name', { description: 'The name shown to buyers.' }),
    description: t.exposeString('description', { description: 'Free text about the event (may be empty).' }),
    venue: t.exposeString('venue', { description: 'Where it takes place (may be empty).' }),
    startsAt: t.expose('startsAt', { type: 'DateTime', description: 'When it starts.' }),
    endsAt: t.expose('endsAt', { type: 'DateTime', description: 'When it ends; it cannot be booked after.' }),
    priceCents: t.exposeInt('priceCents', { description: 'Price of one seat in minor units of the currency.' }),
    currency: t.exposeString('currency', { description: 'ISO 4217 currency code.' }),
    capacity: t.exposeInt('capacity', { description: 'Seats in total.' }),
    available: t.exposeInt('available', { description: 'Seats not held by a pending or confirmed booking.' }),
    organizerId: t.exposeID('organizerId', { description: 'The organizer who owns the event.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the event was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the event last changed (seats included).' }),
  }),
});

const BookingType = builder.objectRef<Booking>('Booking').implement({
  description: 'Seats held or bought by one user for one event.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The booking id (UUID).' }),
    eventId: t.exposeID('eventId', { description: 'The event booked.' }),
    event: t.field({
      type: EventType,
      nullable: true,
      description: 'The event booked (null once deleted); loaded in one query for a whole list.',
      resolve: (booking, _args, context) => context.eventLoader.load(booking.eventId),
    }),
    userId: t.exposeID('userId', { description: 'The user who booked.' }),
    quantity: t.exposeInt('quantity', { description: 'Seats booked (1 to 10).' }),
    amountCents: t.exposeInt('amountCents', { description: 'Price of all seats in minor units.' }),
    status: t.field({ type: BookingStatusEnum, description: 'Where the booking is in its life.', resolve: (booking) => booking.status }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'When a pending hold lapses.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the seats were held.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the booking last changed.' }),
  }),
});

interface PageShape<T> {
  items: T[];
  nextCursor: string | null;
}

const PageInfo = builder.objectRef<PageShape<unknown>>('PageInfo').implement({
  description: 'Where a page ends (Relay connection page info, forward only).',
  fields: (t) => ({
    hasNextPage: t.boolean({ description: 'Whether a next page exists.', resolve: (page) => page.nextCursor !== null }),
    endCursor: t.string({
      nullable: true,
      description: 'Pass as `after` for the next page; null on the last page.',
      resolve: (page) => page.nextCursor,
    }),
  }),
});

/** A Relay-style connection over the keyset pagination REST uses (the same cursors). */
function connection<T>(name: string, node: typeof EventType | typeof BookingType, what: string) {
  const Edge = builder.objectRef<{ node: T; cursor: string | null }>(`${name}Edge`).implement({
    description: `One ${what} of a page.`,
    fields: (t) => ({
      node: t.field({ type: node as never, description: `The ${what}.`, resolve: (edge) => edge.node as never }),
      cursor: t.string({
        nullable: true,
        description:
          'The keyset cursor after this edge: set on the last edge of a page that has a next one (pages resume after a page, not mid-page).',
        resolve: (edge) => edge.cursor,
      }),
    }),
  });
  return builder.objectRef<PageShape<T>>(`${name}Connection`).implement({
    description: `A page of ${what}s.`,
    fields: (t) => ({
      edges: t.field({
        type: [Edge],
        description: `The ${what}s of this page, in order.`,
        resolve: (page) => page.items.map((item, i) => ({ node: item, cursor: i === page.items.length - 1 ? page.nextCursor : null })),
      }),
      pageInfo: t.field({ type: PageInfo, description: 'Where the page ends.', resolve: (page) => page }),
    }),
  });
}

const EventConnection = connection<EventShape>('Event', EventType, 'event');
const BookingConnection = connection<Booking>('Booking', BookingType, 'booking');

const EventFilter = builder.inputType('EventFilter', {
  description: 'Narrows an event list (every field optional; all given must hold).',
  fields: (t) => ({
    from: t.field({ type: 'DateTime', required: false, description: 'Events starting at or after this instant.' }),
    to: t.field({ type: 'DateTime', required: false, description: 'Events starting before this instant.' }),
    minPrice: t.int({ required: false, description: 'Lowest seat price in minor units.' }),
    maxPrice: t.int({ required: false, description: 'Highest seat price in minor units.' }),
    q: t.string({ required: false, description: 'Text the event name contains (case-insensitive).' }),
  }),
});

const eventFields =
  (required: boolean) =>
  (
    t: PothosSchemaTypes.InputFieldBuilder<
      PothosSchemaTypes.ExtendDefaultTypes<{
        Context: GraphqlContext;
        DefaultFieldNullability: false;
        Scalars: { DateTime: { Input: string; Output: Date | string } };
      }>,
      'InputObject'
    >,
  ) => ({
    name: t.string({ required, description: 'The name shown to buyers (1 to 200 characters).' }),
    description: t.string({ required: false, description: 'Free text (up to 5000 characters).' }),
    venue: t.string({ required: false, description: 'Where it takes place (up to 200 characters).' }),
    startsAt: t.field({ type: 'DateTime', required, description: 'When it starts.' }),
    endsAt: t.field({ type: 'DateTime', required, description: 'When it ends (after startsAt, in the future).' }),
    priceCents: t.int({ required, description: 'Price of one seat in minor units.' }),
    currency: t.string({ required: false, description: 'ISO 4217 code (default EUR).' }),
    capacity: t.int({ required, description: 'Seats in total (at least the seats already taken).' }),
  });

const CreateEventInput = builder.inputType('CreateEventInput', { description: 'A new event.', fields: eventFields(true) });
const UpdateEventInput = builder.inputType('UpdateEventInput', {
  description: 'The fields of an event to change (at least one).',
  fields: eventFields(false),
});

const BookSeatsPayload = builder.objectRef<{ booking: Booking; replayed: boolean }>('BookSeatsPayload').implement({
  description: 'The seats held.',
  fields: (t) => ({
    booking: t.field({ type: BookingType, description: 'The booking (pending until confirmed).', resolve: (result) => result.booking }),
    replayed: t.exposeBoolean('replayed', { description: 'True when the idempotency key replayed an earlier booking.' }),
  }),
});

const PayBookingPayload = builder.objectRef<{ booking: Booking; replayed: boolean }>('PayBookingPayload').implement({
  description: 'The booking being paid.',
  fields: (t) => ({
    booking: t.field({
      type: BookingType,
      description: 'The booking: PAYMENT_PENDING until the payments service answers (CONFIRMED or PAYMENT_FAILED); a replay: as it is now.',
      resolve: (result) => result.booking,
    }),
    replayed: t.exposeBoolean('replayed', { description: 'True when the idempotency key replayed an earlier pay request.' }),
  }),
});

/** The cached JSON of an event, as the object it describes (dates stay ISO text). */
const fromJson = (json: string) => JSON.parse(json) as EventShape;

builder.queryType({
  description: 'Reads.',
  fields: (t) => ({
    event: t.field({
      type: EventType,
      nullable: true,
      description: 'One event (NOT_FOUND when there is none).',
      args: { id: t.arg.id({ required: true, description: 'The event id.' }) },
      resolve: traced('Query.event', async (_root, args, context) =>
        fromJson(await context.services.events.getJson(asId(String(args.id)))),
      ),
    }),
    events: t.field({
      type: EventConnection,
      nullable: true,
      description: 'Events by start time, a page at a time (public).',
      args: {
        filter: t.arg({ type: EventFilter, required: false, description: 'What to list.' }),
        first: t.arg.int({ required: false, defaultValue: 20, description: 'Page size (1 to 100).' }),
        after: t.arg.string({ required: false, description: 'The endCursor of the previous page.' }),
      },
      resolve: traced('Query.events', async (_root, args, context) => {
        const filter = args.filter ?? {};
        const number = (value: number | null | undefined) => (value === null || value === undefined ? undefined : String(value));
        const query = valid(EventListQuery, {
          limit: number(args.first),
          cursor: args.after,
          from: filter.from,
          to: filter.to,
          minPrice: number(filter.minPrice),
          maxPrice: number(filter.maxPrice),
          q: filter.q,
        });
        return JSON.parse(await context.services.events.listJson(query)) as PageShape<EventShape>;
      }),
    }),
    me: t.field({
      type: UserType,
      nullable: true,
      description: 'The signed-in user.',
      resolve: traced('Query.me', async (_root, _args, context) => context.services.users.me(await context.actor())),
    }),
    myBookings: t.field({
      type: BookingConnection,
      nullable: true,
      description: 'Your bookings, newest first (admins: everyone’s).',
      args: {
        first: t.arg.int({ required: false, defaultValue: 20, description: 'Page size (1 to 100).' }),
        after: t.arg.string({ required: false, description: 'The endCursor of the previous page.' }),
        status: t.arg({ type: BookingStatusEnum, required: false, description: 'Only bookings in this status.' }),
      },
      resolve: traced('Query.myBookings', async (_root, args, context) => {
        const actor = await context.actor();
        const query = valid(BookingListQuery, {
          limit: args.first === null || args.first === undefined ? undefined : String(args.first),
          cursor: args.after,
          status: args.status,
        });
        return context.services.bookings.list(actor, query);
      }),
    }),
    booking: t.field({
      type: BookingType,
      nullable: true,
      description: 'One of your bookings (others’ are NOT_FOUND).',
      args: { id: t.arg.id({ required: true, description: 'The booking id.' }) },
      resolve: traced('Query.booking', async (_root, args, context) => {
        const actor = await context.actor();
        return context.services.bookings.get(actor, asId(String(args.id)));
      }),
    }),
  }),
});

builder.mutationType({
  description: 'Changes; each costs one write of the caller’s rate limit, as its REST twin does.',
  fields: (t) => ({
    createEvent: t.field({
      type: EventType,
      nullable: true,
      description: 'Creates an event (organizers and admins).',
      args: { input: t.arg({ type: CreateEventInput, required: true, description: 'The event.' }) },
      resolve: traced('Mutation.createEvent', async (_root, args, context) => {
        return context.write((actor) => context.services.events.create(actor, valid(EventCreateBody, { ...args.input }, 'input')));
      }),
    }),
    updateEvent: t.field({
      type: EventType,
      nullable: true,
      description: 'Changes an event (its organizer or an admin).',
      args: {
        id: t.arg.id({ required: true, description: 'The event id.' }),
        input: t.arg({ type: UpdateEventInput, required: true, description: 'The fields to change.' }),
      },
      resolve: traced('Mutation.updateEvent', async (_root, args, context) => {
        return context.write((actor) =>
          context.services.events.update(actor, asId(String(args.id)), valid(EventPatchBody, { ...args.input }, 'input'), context.call),
        );
      }),
    }),
    deleteEvent: t.field({
      type: 'Boolean',
      nullable: true,
      description: 'Deletes an event without active bookings (its organizer or an admin); true when deleted.',
      args: { id: t.arg.id({ required: true, description: 'The event id.' }) },
      resolve: traced('Mutation.deleteEvent', async (_root, args, context) => {
        return context.write(async (actor) => {
          await context.services.events.delete(actor, asId(String(args.id)), context.call);
          return true;
        });
      }),
    }),
    bookSeats: t.field({
      type: BookSeatsPayload,
      nullable: true,
      description: 'Holds seats (pending until confirmed or expired); the same idempotencyKey replays the first booking.',
      args: {
        eventId: t.arg.id({ required: true, description: 'The event to book.' }),
        quantity: t.arg.int({ required: true, description: 'Seats (1 to 10).' }),
        idempotencyKey: t.arg.string({ required: false, description: 'Makes a retry safe (1 to 255 visible ASCII characters).' }),
      },
      resolve: traced('Mutation.bookSeats', async (_root, args, context) => {
        return context.write((actor) => {
          const eventId = asId(String(args.eventId));
          const { quantity } = valid(BookingCreateBody, { quantity: args.quantity });
          const key = valid(IdempotencyHeaders, { 'idempotency-key': args.idempotencyKey ?? undefined })['idempotency-key'];
          return context.services.bookings.book(actor, eventId, quantity, key);
        });
      }),
    }),
    confirmBooking: t.field({
      type: BookingType,
      nullable: true,
      description:
        'Confirms a pending hold without payment: a hold on a free event (its owner), or an admin override (audited). A paid hold’s owner gets PAYMENT_REQUIRED: pay it with payBooking.',
      args: { id: t.arg.id({ required: true, description: 'The booking id.' }) },
      resolve: traced('Mutation.confirmBooking', async (_root, args, context) => {
        return context.write((actor) => context.services.bookings.confirm(actor, asId(String(args.id)), context.call));
      }),
    }),
    payBooking: t.field({
      type: PayBookingPayload,
      nullable: true,
      description:
        'Pays a pending hold (its owner): PAYMENT_PENDING, the hold extended by the payment window, until the payments service answers. The same idempotencyKey and paymentMethod again replays; another key, or a booking no longer pending, is CONFLICT.',
      args: {
        id: t.arg.id({ required: true, description: 'The booking id.' }),
        paymentMethod: t.arg.string({
          required: true,
          description:
            'The payment method to charge, a Stripe PaymentMethod id (pm_…; test methods: pm_card_visa, pm_card_chargeDeclined is declined).',
        }),
        idempotencyKey: t.arg.string({ required: false, description: 'Makes a retry safe (1 to 255 visible ASCII characters).' }),
      },
      resolve: traced('Mutation.payBooking', async (_root, args, context) => {
        return context.write((actor) => {
          const id = asId(String(args.id));
          const { paymentMethod } = valid(BookingPayBody, { paymentMethod: args.paymentMethod });
          const key = valid(IdempotencyHeaders, { 'idempotency-key': args.idempotencyKey ?? undefined })['idempotency-key'];
          return context.services.bookings.pay(actor, id, paymentMethod, key);
        });
      }),
    }),
    cancelBooking: t.field({
      type: BookingType,
      nullable: true,
      description: 'Cancels a booking and releases its seats (its owner or an admin).',
      args: { id: t.arg.id({ required: true, description: 'The booking id.' }) },
      resolve: traced('Mutation.cancelBooking', async (_root, args, context) => {
        return context.write((actor) => context.services.bookings.cancel(actor, asId(String(args.id)), context.call));
      }),
    }),
  }),
});

export const schema: GraphQLSchema = builder.toSchema();

/** The SDL committed as schema.graphql (sorted, so the file changes only when the schema does). */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
