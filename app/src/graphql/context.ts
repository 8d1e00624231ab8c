/**
 * What every resolver gets: the services (use cases), the caller (authenticated at most once per
 * request, with the parser and check REST uses), the shared rate limits and the per-request
 * loaders. Resolvers are thin: validate with the REST schemas, call a service, shape the answer.
 */
import DataLoader from 'dataloader';
import type { Event } from '../domain/event';
import type { Actor } from '../domain/user';
import type { AuthService } from '../services/auth';
import type { BookingService } from '../services/bookings';
import type { CallContext } from '../services/context';
import type { EventService } from '../services/events';
import type { UserService } from '../services/users';

export interface GraphqlServices {
  auth: AuthService;
  users: UserService;
  events: EventService;
  bookings: BookingService;
}

/** The REST limits, shared (http/rate-limit.ts); absent: no limits. */
export interface GraphqlLimits {
  writeCall(userId: string): Promise<void>;
}

export interface GraphqlContext {
  services: GraphqlServices;
  /** The caller; rejects with UnauthenticatedError. Authenticates once, on first use. */
  actor(): Promise<Actor>;
  /** Takes one point of the caller's write budget (what the mutation's REST twin costs). */
  write(actor: Actor): Promise<void>;
  /** Events by id, batched per tick and remembered for the request (Booking.event). */
  eventLoader: DataLoader<string, Event | null>;
  call: CallContext;
}

export function graphqlContext(options: {
  services: GraphqlServices;
  limits?: GraphqlLimits;
  authenticate: () => Promise<Actor>;
  call: CallContext;
}): GraphqlContext {
  let actor: Promise<Actor> | undefined;
  return {
    services: options.services,
    actor: () => (actor ??= options.authenticate()),
    write: async (who) => options.limits?.writeCall(who.userId),
    eventLoader: new DataLoader((ids) => options.services.events.getMany(ids), { maxBatchSize: 100 }),
    call: options.call,
  };
}
