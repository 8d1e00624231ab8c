import { ForbiddenError, NotFoundError } from '../domain/errors';
import {
  applyPatch,
  assertCanDeleteEvent,
  assertCanManageEvent,
  assertNotOver,
  assertValidSchedule,
  type Event,
  type EventPatch,
  type NewEvent,
} from '../domain/event';
import { isAdmin, type Actor } from '../domain/user';
import type { AuditLog, Clock, EventQuery, EventStore } from '../ports';
import type { CallContext } from './context';
import type { EventCache } from './event-cache';
import { assertRole } from './guards';

export class EventService {
  constructor(private readonly deps: { events: EventStore; audit: AuditLog; cache?: EventCache; clock?: Clock }) {}

  async create(actor: Actor, input: NewEvent): Promise<Event> {
    assertRole(actor, ['organizer', 'admin'], 'only organizers and admins may create events');
    assertValidSchedule(input.startsAt, input.endsAt);
    assertNotOver(input.endsAt, this.now());
    const event = await this.deps.events.create({ ...input, organizerId: actor.userId });
    await this.deps.cache?.eventCreated();
    return event;
  }

  /** The event as the JSON text the API sends, straight from the cache when it holds it. */
  async getJson(id: string): Promise<string> {
    const load = () => this.deps.events.get(id);
    const json = this.deps.cache ? await this.deps.cache.eventJson(id, load) : toJson(await load());
    if (json === null) throw new NotFoundError('event');
    return json;
  }

  /** Events by id, in the order asked (null where none): the batch behind the edges' loaders. */
  async getMany(ids: readonly string[]): Promise<Array<Event | null>> {
    const found = new Map((await this.deps.events.getMany(ids)).map((event) => [event.id, event]));
    return ids.map((id) => found.get(id) ?? null);
  }

  /** The event's JSON (UTF-8) if this process holds a fresh copy, without waiting for anything. */
  peekJsonBytes(id: string): Buffer | undefined {
    return this.deps.cache?.peekEventBytes(id);
  }

  /**
   * A reader of the fresh copies this process holds in another encoding (the gRPC edge's
   * protobuf answer): `encode` turns the copy's JSON bytes into it once, and the result is kept
   * beside those bytes, keyed by them. Each fresh copy has its own bytes (EventCache makes them
   * once per stored copy), so the encoding lives exactly as long as the JSON copy does: whatever
   * drops or refuses that (an update, a delete, a booking, its TTL, the generation guard) takes
   * this with it, and the next copy is encoded anew. Never waits; undefined when no fresh copy.
   */
  encodedPeek(encode: (json: Buffer) => Buffer): (id: string) => Buffer | undefined {
    const encoded = new WeakMap<Buffer, Buffer>();
    return (id) => {
      const json = this.peekJsonBytes(id);
      if (json === undefined) return undefined;
      let bytes = encoded.get(json);
      if (bytes === undefined) encoded.set(json, (bytes = encode(json)));
      return bytes;
    };
  }

  /** A page as the JSON text the API sends. */
  async listJson(query: EventQuery): Promise<string> {
    const load = () => this.deps.events.list(query);
    return this.deps.cache ? this.deps.cache.listJson(query, load) : JSON.stringify(await load());
  }

  async update(actor: Actor, id: string, patch: EventPatch, context: CallContext = {}): Promise<Event> {
    // Authorization and the early checks read PostgreSQL: never decide on a cached copy.
    const current = await this.load(id);
    assertCanManageEvent(actor, current);
    // Early, readable refusal; the store re-checks against the locked row.
    applyPatch(current, patch);
    if (patch.endsAt !== undefined) assertNotOver(patch.endsAt, this.now());
    const updated = await this.deps.events.update(id, patch);
    if (!updated) throw new NotFoundError('event');
    await this.deps.cache?.eventChanged(id);
    const fields = Object.keys(patch).filter((field) => patch[field as keyof EventPatch] !== undefined);
    await this.deps.audit.record({
      actorId: actor.userId,
      action: 'event.updated',
      target: id,
      details: { fields, byAdmin: actor.userId !== current.organizerId },
      ...context,
    });
    return updated;
  }

  /** `cancelBookings` (admins only): the event's active bookings are cancelled with it, paid ones refunded (payments saga). */
  async delete(actor: Actor, id: string, context: CallContext, options: { cancelBookings?: boolean } = {}): Promise<void> {
    const current = await this.load(id);
    assertCanDeleteEvent(actor, current);
    if (options.cancelBookings && !isAdmin(actor)) throw new ForbiddenError('only an admin may cancel the bookings of an event');
    if (!(await this.deps.events.delete(id, { cancelBookings: options.cancelBookings === true }))) throw new NotFoundError('event');
    await this.deps.cache?.eventChanged(id);
    await this.deps.audit.record({
      actorId: actor.userId,
      action: 'event.deleted',
      target: id,
      details: { name: current.name, ...(options.cancelBookings ? { cancelBookings: true } : {}) },
      ...context,
    });
  }

  private now(): Date {
    return this.deps.clock?.now() ?? new Date();
  }

  private async load(id: string): Promise<Event> {
    const event = await this.deps.events.get(id);
    if (!event) throw new NotFoundError('event');
    return event;
  }
}

function toJson(event: Event | null): string | null {
  return event === null ? null : JSON.stringify(event);
}
