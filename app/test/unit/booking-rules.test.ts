import {
  BOOKING_STATUSES,
  LAPSING_STATUSES,
  SEAT_HOLDING_STATUSES,
  TERMINAL_STATUSES,
  assertTransition,
  canCancelBooking,
  canConfirmBooking,
  canPayBooking,
  canSeeBooking,
  canTransition,
  isHoldLapsed,
  needsPayment,
  paymentDeadline,
  sourcesOf,
  type BookingStatus,
} from '../../src/domain/booking';
import { InvalidTransitionError } from '../../src/domain/errors';
import { sqlStatuses, transitionGuard } from '../../src/adapters/postgres/transitions';

describe('booking state machine', () => {
  // Written out by hand from the issue (the saga), not derived from the table under test.
  const allowed = new Set([
    'pending>payment_pending',
    'pending>confirmed',
    'pending>cancelled',
    'pending>expired',
    'payment_pending>confirmed',
    'payment_pending>payment_failed',
    'payment_pending>cancelled',
    'payment_pending>expired',
    'confirmed>cancelled',
    'cancelled>refunded',
    'expired>refunded',
  ]);
  const pairs = BOOKING_STATUSES.flatMap((from) => BOOKING_STATUSES.map((to) => [from, to] as [BookingStatus, BookingStatus]));

  it.each(pairs)('%s → %s follows the table', (from, to) => {
    const expected = allowed.has(`${from}>${to}`);
    expect(canTransition(from, to)).toBe(expected);
    if (expected) expect(() => assertTransition(from, to)).not.toThrow();
    else expect(() => assertTransition(from, to)).toThrow(InvalidTransitionError);
  });

  it('names the statuses as the API does', () => {
    expect([...BOOKING_STATUSES]).toEqual([
      'pending',
      'payment_pending',
      'confirmed',
      'payment_failed',
      'cancelled',
      'expired',
      'refunded',
    ]);
  });

  it('has exactly the terminal states of the saga; seats are held by pending, payment_pending and confirmed only', () => {
    expect([...TERMINAL_STATUSES].sort()).toEqual(['payment_failed', 'refunded']);
    expect([...SEAT_HOLDING_STATUSES].sort()).toEqual(['confirmed', 'payment_pending', 'pending']);
    // every status is reachable from pending
    const reached = new Set<BookingStatus>(['pending']);
    for (let grew = true; grew;) {
      grew = false;
      for (const from of [...reached])
        for (const to of BOOKING_STATUSES) if (canTransition(from, to) && !reached.has(to)) grew = reached.add(to) !== null;
    }
    expect([...reached].sort()).toEqual([...BOOKING_STATUSES].sort());
  });

  it.each([...BOOKING_STATUSES])('sourcesOf(%s) lists exactly the statuses allowed to move there', (to) => {
    expect(sourcesOf(to).sort()).toEqual(BOOKING_STATUSES.filter((from) => allowed.has(`${from}>${to}`)).sort());
  });

  it.each(pairs)('a SQL guard for %s → %s exists only when the domain allows it', (from, to) => {
    if (allowed.has(`${from}>${to}`)) expect(transitionGuard(to, [from])).toBe(`status IN ('${from}')`);
    else expect(() => transitionGuard(to, [from])).toThrow(`no transition ${from} → ${to}`);
  });

  it('SQL status lists refuse anything that is not a status, and an empty list', () => {
    expect(sqlStatuses(['pending', 'payment_pending'])).toBe(`'pending', 'payment_pending'`);
    expect(() => sqlStatuses(["pending') OR true --" as BookingStatus])).toThrow('unknown booking status');
    expect(() => sqlStatuses([])).toThrow('at least one status');
    expect(transitionGuard('expired', LAPSING_STATUSES, 'b.status')).toBe(`b.status IN ('pending', 'payment_pending')`);
  });

  it('extends a hold by the payment window, never shortens it', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    expect(paymentDeadline(new Date('2030-01-01T00:00:30Z'), now, 300_000).toISOString()).toBe('2030-01-01T00:05:00.000Z');
    expect(paymentDeadline(new Date('2030-01-01T00:09:00Z'), now, 300_000).toISOString()).toBe('2030-01-01T00:09:00.000Z');
  });

  it('treats a payment in flight as lapsing at its (extended) expiry like a pending hold', () => {
    const expiresAt = new Date('2030-01-01T00:00:00Z');
    expect(isHoldLapsed({ status: 'payment_pending', expiresAt }, expiresAt)).toBe(true);
    expect(isHoldLapsed({ status: 'payment_pending', expiresAt }, new Date('2029-12-31T23:59:59.999Z'))).toBe(false);
    for (const status of ['confirmed', 'payment_failed', 'cancelled', 'expired', 'refunded'] as const) {
      expect(isHoldLapsed({ status, expiresAt }, new Date('2031-01-01T00:00:00Z'))).toBe(false);
    }
  });

  it('lets only the owner pay', () => {
    expect(canPayBooking({ userId: 'owner', role: 'user' }, { userId: 'owner' })).toBe(true);
    expect(canPayBooking({ userId: 'root', role: 'admin' }, { userId: 'owner' })).toBe(false);
    expect(canPayBooking({ userId: 'other', role: 'user' }, { userId: 'owner' })).toBe(false);
  });

  it('treats a pending hold as lapsed exactly at expiresAt, never a confirmed one', () => {
    const expiresAt = new Date('2030-01-01T00:00:00Z');
    expect(isHoldLapsed({ status: 'pending', expiresAt }, new Date('2029-12-31T23:59:59.999Z'))).toBe(false);
    expect(isHoldLapsed({ status: 'pending', expiresAt }, expiresAt)).toBe(true);
    expect(isHoldLapsed({ status: 'confirmed', expiresAt }, new Date('2031-01-01T00:00:00Z'))).toBe(false);
  });

  it('a bare confirm of a paid hold needs payment unless an admin overrides; a free hold needs none', () => {
    expect(needsPayment({ userId: 'owner', role: 'user' }, { amountCents: 2500 })).toBe(true);
    expect(needsPayment({ userId: 'owner', role: 'organizer' }, { amountCents: 1 })).toBe(true);
    expect(needsPayment({ userId: 'owner', role: 'user' }, { amountCents: 0 })).toBe(false);
    expect(needsPayment({ userId: 'root', role: 'admin' }, { amountCents: 2500 })).toBe(false);
  });

  it('lets owners see, confirm and cancel; admins see, cancel and confirm (override); others nothing', () => {
    const booking = { userId: 'owner' };
    expect(canSeeBooking({ userId: 'owner', role: 'user' }, booking)).toBe(true);
    expect(canConfirmBooking({ userId: 'owner', role: 'user' }, booking)).toBe(true);
    expect(canSeeBooking({ userId: 'other', role: 'organizer' }, booking)).toBe(false);
    expect(canCancelBooking({ userId: 'other', role: 'user' }, booking)).toBe(false);
    expect(canCancelBooking({ userId: 'root', role: 'admin' }, booking)).toBe(true);
    expect(canConfirmBooking({ userId: 'root', role: 'admin' }, booking)).toBe(true);
    expect(canConfirmBooking({ userId: 'other', role: 'organizer' }, booking)).toBe(false);
  });
});
