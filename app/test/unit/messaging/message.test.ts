import {
  decodeMessage,
  describeFailure,
  encodeMessage,
  onHandlerFailure,
  UnparseableMessageError,
} from '../../../src/adapters/rabbitmq/message';
import { topologyNames } from '../../../src/adapters/rabbitmq/topology';
import { renderMail } from '../../../src/workers/notifier';
import { PermanentMessageError } from '../../../src/ports';

const message = {
  id: '6f1c3a52-0d7e-4b8e-9a43-2f1d5c7e8a90',
  type: 'booking.confirmed',
  occurredAt: '2030-01-02T03:04:05.678Z',
  aggregateId: '0b6f3c1e-9d2a-4e57-8c61-3a9f0e7d2b14',
  data: { quantity: 2 },
};

test('a domain message survives encode → decode, and only its five fields go on the wire', () => {
  const wire = encodeMessage({ ...message, headers: { traceparent: 'x' } } as typeof message);
  expect(Object.keys(JSON.parse(wire.toString()))).toEqual(['id', 'type', 'occurredAt', 'aggregateId', 'data']);
  expect(decodeMessage(wire)).toEqual(message);
});

test.each([
  ['not json', /body is not JSON/],
  ['[]', /not a domain message: body/],
  [JSON.stringify({ ...message, id: 'nope' }), /not a domain message: id/],
  [JSON.stringify({ ...message, type: 'Booking Confirmed' }), /not a domain message: type/],
  [JSON.stringify({ ...message, occurredAt: 'yesterday' }), /not a domain message: occurredAt/],
  [JSON.stringify({ ...message, data: 'x' }), /not a domain message: data/],
])('poison %s is rejected with the reason', (body, reason) => {
  expect(() => decodeMessage(body)).toThrow(UnparseableMessageError);
  expect(() => decodeMessage(body)).toThrow(reason);
});

test('failures are retried until maxAttempts; permanent and unparseable ones are dead-lettered at once', () => {
  expect(onHandlerFailure(new Error('x'), 1, 3)).toBe('retry');
  expect(onHandlerFailure(new Error('x'), 2, 3)).toBe('retry');
  expect(onHandlerFailure(new Error('x'), 3, 3)).toBe('dead_letter');
  expect(onHandlerFailure(new PermanentMessageError('x'), 1, 3)).toBe('dead_letter');
  expect(onHandlerFailure(new UnparseableMessageError('x'), 1, 3)).toBe('dead_letter');
  expect(describeFailure(new TypeError('boom'), 2)).toBe('attempt 2: TypeError: boom');
  expect(describeFailure('x'.repeat(5_000), 1)).toHaveLength(1_000);
});

test('every exchange and queue name derives from the prefix', () => {
  expect(topologyNames('goticket')).toEqual({
    events: 'goticket.events',
    dlx: 'goticket.dlx',
    notifications: 'goticket.notifications',
    retry: 'goticket.notifications.retry',
    dlq: 'goticket.notifications.dlq',
    payments: 'goticket.payments',
    paymentsRetry: 'goticket.payments.retry',
    saga: 'goticket.bookings.payments',
    sagaRetry: 'goticket.bookings.payments.retry',
  });
});

test('notification mails name the booking, the seats and the outcome', () => {
  const data = { bookingId: message.id, eventId: message.aggregateId, userId: message.aggregateId, quantity: 1, amountCents: 2500 };
  expect(renderMail('booking.confirmed', 'a@b.test', data)).toEqual({
    to: 'a@b.test',
    subject: 'Your booking is confirmed',
    text: `Booking ${message.id} is confirmed: 1 seat, 25.00 charged.`,
  });
  expect(renderMail('booking.expired', 'a@b.test', { ...data, quantity: 3 }).text).toMatch(/hold on 3 seats .* expired/);
});
