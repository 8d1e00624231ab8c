import type { BookingService } from '../../services/bookings';
import { route, type RouteSpec } from '../route';
import { BookingCreateBody, BookingJson, BookingListQuery, BookingPayBody, IdempotencyHeaders, IdParams, pageOf } from '../schemas';
import { bookingJson, callContext } from './context';

const problem = (description: string) => ({ description });

export function bookingRoutes(bookings: BookingService): RouteSpec[] {
  return [
    route({
      method: 'post',
      path: '/events/:id/bookings',
      summary: 'Hold seats (pending until confirmed or expired); Idempotency-Key makes retries safe',
      tags: ['bookings'],
      auth: 'user',
      params: IdParams,
      headers: IdempotencyHeaders,
      body: BookingCreateBody,
      responses: {
        200: { description: 'Replay of an earlier request with the same Idempotency-Key', schema: BookingJson },
        201: { description: 'Seats held', schema: BookingJson },
        404: problem('No such event'),
        409: problem('Sold out (type …/sold-out) or event ended'),
        422: problem('Idempotency-Key reused with a different body'),
      },
      async handler({ actor, params, body, headers, res }) {
        const { booking, replayed } = await bookings.book(actor, params.id, body.quantity, headers['idempotency-key']);
        res.location(`${res.req.baseUrl}/bookings/${booking.id}`);
        const replyHeaders: Record<string, string> = replayed ? { 'Idempotent-Replayed': 'true' } : {};
        return { status: replayed ? 200 : 201, body: bookingJson(booking), headers: replyHeaders };
      },
    }),
    route({
      method: 'get',
      path: '/bookings',
      summary: 'Your bookings, newest first (admins: all)',
      tags: ['bookings'],
      auth: 'user',
      query: BookingListQuery,
      responses: { 200: { description: 'A page of bookings', schema: pageOf(BookingJson) } },
      async handler({ actor, query }) {
        const page = await bookings.list(actor, query);
        return { status: 200, body: { items: page.items.map(bookingJson), nextCursor: page.nextCursor } };
      },
    }),
    route({
      method: 'get',
      path: '/bookings/:id',
      summary: 'One of your bookings (others are 404)',
      tags: ['bookings'],
      auth: 'user',
      params: IdParams,
      responses: { 200: { description: 'The booking', schema: BookingJson }, 404: problem('No such booking') },
      async handler({ actor, params }) {
        return { status: 200, body: bookingJson(await bookings.get(actor, params.id)) };
      },
    }),
    route({
      method: 'post',
      path: '/bookings/:id/confirm',
      summary:
        'Confirm a pending hold without payment: holds on free events (owner), or an admin override (audited); paid holds are paid with /pay',
      tags: ['bookings'],
      auth: 'user',
      params: IdParams,
      responses: {
        200: { description: 'Confirmed', schema: BookingJson },
        402: problem('A paid hold: pay it (POST /bookings/{id}/pay)'),
        404: problem('No such booking'),
        409: problem('Expired or not pending'),
      },
      async handler({ actor, params, req }) {
        const booking = await bookings.confirm(actor, params.id, callContext(req));
        return { status: 200, body: bookingJson(booking) };
      },
    }),
    route({
      method: 'post',
      path: '/bookings/:id/pay',
      summary:
        'Pay a pending hold (owner): payment_pending until the payments service answers (confirmed or payment_failed); Idempotency-Key makes retries safe',
      tags: ['bookings'],
      auth: 'user',
      params: IdParams,
      headers: IdempotencyHeaders,
      body: BookingPayBody,
      responses: {
        200: {
          description: 'Replay of an earlier pay request with the same Idempotency-Key: the booking as it is now',
          schema: BookingJson,
        },
        202: {
          description: 'Payment requested: the booking is payment_pending, its hold extended by the payment window',
          schema: BookingJson,
        },
        404: problem('No such booking'),
        409: problem('Expired, not pending, or a free event (nothing to pay: confirm it)'),
      },
      async handler({ actor, params, body, headers }) {
        const { booking, replayed } = await bookings.pay(actor, params.id, body.paymentMethod, headers['idempotency-key']);
        const replyHeaders: Record<string, string> = replayed ? { 'Idempotent-Replayed': 'true' } : {};
        return { status: replayed ? 200 : 202, body: bookingJson(booking), headers: replyHeaders };
      },
    }),
    route({
      method: 'post',
      path: '/bookings/:id/cancel',
      summary: 'Cancel a booking and release its seats (owner or admin)',
      tags: ['bookings'],
      auth: 'user',
      params: IdParams,
      responses: {
        200: { description: 'Cancelled', schema: BookingJson },
        404: problem('No such booking'),
        409: problem('Already cancelled or expired'),
      },
      async handler({ actor, params, req }) {
        const booking = await bookings.cancel(actor, params.id, callContext(req));
        return { status: 200, body: bookingJson(booking) };
      },
    }),
  ];
}
