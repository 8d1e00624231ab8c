import { BOOKING_STATUSES, assertTransition, canCancelBooking, canConfirmBooking, canSeeBooking, canTransition, isHoldLapsed, type BookingStatus } from '../../src/domain/booking';
import { InvalidTransitionError } from '../../src/domain/errors';

describe('booking state machine', () => {
  const allowed = new Set(['pending>confirmed', 'pending>cancelled', 'pending>expired', 'confirmed>cancelled']);
  const pairs = BOOKING_STATUSES.flatMap((from) => BOOKING_STATUSES.map((to) => [from, to] as [BookingStatus, BookingStatus]));

  it.each(pairs)('%s → %s follows the table', (from, to) => {
    const expected = allowed.has(`${from}>${to}`);
    expect(canTransition(from, to)).toBe(expected);
    if (expected) expect(() => assertTransition(from, to)).not.toThrow();
    else expect(() => assertTransition(from, to)).toThrow(InvalidTransitionError);
  });

  it('treats a pending hold as lapsed exactly at expiresAt, never a confirmed one', () => {
    const expiresAt = new Date('2030-01-01T00:00:00Z');
    expect(isHoldLapsed({ status: 'pending', expiresAt }, new Date('2029-12-31T23:59:59.999Z'))).toBe(false);
    expect(isHoldLapsed({ status: 'pending', expiresAt }, expiresAt)).toBe(true);
    expect(isHoldLapsed({ status: 'confirmed', expiresAt }, new Date('2031-01-01T00:00:00Z'))).toBe(false);
  });

  it('lets owners see, confirm and cancel; admins see and cancel but not confirm; others nothing', () => {
    const booking = { userId: 'owner' };
    expect(canSeeBooking({ userId: 'owner', role: 'user' }, booking)).toBe(true);
    expect(canConfirmBooking({ userId: 'owner', role: 'user' }, booking)).toBe(true);
    expect(canSeeBooking({ userId: 'other', role: 'organizer' }, booking)).toBe(false);
    expect(canCancelBooking({ userId: 'other', role: 'user' }, booking)).toBe(false);
    expect(canCancelBooking({ userId: 'root', role: 'admin' }, booking)).toBe(true);
    expect(canConfirmBooking({ userId: 'root', role: 'admin' }, booking)).toBe(false);
  });
});
