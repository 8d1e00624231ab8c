import { NotFoundError } from '../domain/errors';
import { applyPatch, assertCanDeleteEvent, assertCanManageEvent, assertValidSchedule, type Event, type EventPatch, type NewEvent } from '../domain/event';
import type { Actor } from '../domain/user';
import type { AuditLog, EventQuery, EventStore, Page } from '../ports';
import type { CallContext } from './context';
import { assertRole } from './guards';

export class EventService {
  constructor(private readonly deps: { events: EventStore; audit: AuditLog }) {}

  async create(actor: Actor, input: NewEvent): Promise<Event> {
    assertRole(actor, ['organizer', 'admin'], 'only organizers and admins may create events');
    assertValidSchedule(input.startsAt, input.endsAt);
    return this.deps.events.create({ ...input, organizerId: actor.userId });
  }

  async get(id: string): Promise<Event> {
    const event = await this.deps.events.get(id);
    if (!event) throw new NotFoundError('event');
    return event;
  }

  list(query: EventQuery): Promise<Page<Event>> {
    return this.deps.events.list(query);
  }

  async update(actor: Actor, id: string, patch: EventPatch): Promise<Event> {
    const current = await this.get(id);
    assertCanManageEvent(actor, current);
    // Early, readable refusal; the store re-checks against the locked row.
    applyPatch(current, patch);
    const updated = await this.deps.events.update(id, patch);
    if (!updated) throw new NotFoundError('event');
    return updated;
  }

  async delete(actor: Actor, id: string, context: CallContext): Promise<void> {
    const current = await this.get(id);
    assertCanDeleteEvent(actor, current);
    if (!(await this.deps.events.delete(id))) throw new NotFoundError('event');
    await this.deps.audit.record({ actorId: actor.userId, action: 'event.deleted', target: id, details: { name: current.name }, ...context });
  }
}
