/**
 * What every resolver gets: the services (use cases), the caller (authenticated at most once per
 * request, with the parser and check REST uses), the shared rate limits and the per-request
 * loaders. Resolvers are thin: validate with the REST schemas, call a service, shape the answer.
 */
import DataLoader from 'dataloader';
import type { Event } from '../domain/event';
import type { Actor } from '../domain/user';
import { isFreeRefusal } from '../http/rate-limit';
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
  writeCall(userId: string): Promise<{ giveBack(): Promise<void> }>;
}

export interface GraphqlContext {
  services: GraphqlServices;
  /** The caller; rejects with UnauthenticatedError. Authenticates once, on first use. */
  actor(): Promise<Actor>;
  /**
   * Runs a mutation's use case for the caller, charged one point of their write budget (what its
   * REST twin costs), given back when the answer is a free refusal (http/rate-limit.ts).
   */
  write<T>(work: (actor: Actor) => Promise<T>): Promise<T>;
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
    write: async (work) => {
      const who = await (actor ??= options.authenticate());
      const charge = await options.limits?.writeCall(who.userId);
      try {
        return await work(who);
      } catch (error) {
        if (charge && isFreeRefusal(error)) await charge.giveBack();
        throw error;
      }
    },
    eventLoader: new DataLoader((ids) => options.services.events.getMany(ids), { maxBatchSize: 100 }),
    call: options.call,
  };
}
