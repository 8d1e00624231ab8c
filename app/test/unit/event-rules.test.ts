import { CapacityBelowTakenError, ForbiddenError, ValidationError } from '../../src/domain/errors';
import { applyPatch, assertCanManageEvent, assertNotOver, seatsTaken, type Event } from '../../src/domain/event';

const event: Event = {
  id: 'e1',
  name: 'Gig',
  description: '',
  venue: '',
  startsAt: new Date('2030-05-01T20:00:00Z'),
  endsAt: new Date('2030-05-01T23:00:00Z'),
  priceCents: 1000,
  currency: 'EUR',
  capacity: 100,
  available: 30,
  organizerId: 'org',
  createdAt: new Date(),
  updatedAt: new Date(),
};

describe('event rules', () => {
  it('keeps the seats taken when capacity changes', () => {
    expect(seatsTaken(event)).toBe(70);
    expect(applyPatch(event, { capacity: 150 }).available).toBe(80);
    expect(applyPatch(event, { capacity: 70 }).available).toBe(0);
  });

  it('refuses an end that is not in the future', () => {
    const now = new Date('2030-05-01T23:00:00Z');
    expect(() => assertNotOver(event.endsAt, now)).toThrow(ValidationError);
    expect(() => assertNotOver(new Date(now.getTime() - 1), now)).toThrow(ValidationError);
    expect(() => assertNotOver(new Date(now.getTime() + 1), now)).not.toThrow();
  });

  it('refuses a capacity below the seats taken', () => {
    expect(() => applyPatch(event, { capacity: 69 })).toThrow(CapacityBelowTakenError);
  });

  it('refuses a schedule that ends before it starts, also when only one side changes', () => {
    expect(() => applyPatch(event, { endsAt: new Date('2030-05-01T19:00:00Z') })).toThrow(ValidationError);
    expect(() => applyPatch(event, { startsAt: new Date('2030-05-02T00:00:00Z') })).toThrow(ValidationError);
    expect(applyPatch(event, { name: 'Renamed' }).name).toBe('Renamed');
  });

  it('lets only the owning organizer or an admin manage an event', () => {
    expect(() => assertCanManageEvent({ userId: 'org', role: 'organizer' }, event)).not.toThrow();
    expect(() => assertCanManageEvent({ userId: 'boss', role: 'admin' }, event)).not.toThrow();
    expect(() => assertCanManageEvent({ userId: 'other', role: 'organizer' }, event)).toThrow(ForbiddenError);
    // a demoted organizer keeps no rights over the event through its id alone
    expect(() => assertCanManageEvent({ userId: 'org', role: 'user' }, event)).toThrow(ForbiddenError);
  });
});
