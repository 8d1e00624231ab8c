import type { EventService } from '../../services/events';
import { route, type RouteSpec } from '../route';
import { EventCreateBody, EventDeleteQuery, EventJson, EventListQuery, EventPatchBody, IdParams, pageOf } from '../schemas';
import { callContext } from './context';

const problem = (description: string) => ({ description });

export function eventRoutes(events: EventService): RouteSpec[] {
  return [
    route({
      method: 'get',
      path: '/events',
      summary: 'List events by start time (keyset pagination, filters)',
      tags: ['events'],
      auth: 'public',
      conditional: true,
      query: EventListQuery,
      responses: { 200: { description: 'A page of events', schema: pageOf(EventJson) }, 400: problem('Invalid query') },
      async handler({ query }) {
        return { status: 200, json: await events.listJson(query) };
      },
    }),
    route({
      method: 'get',
      path: '/events/:id',
      summary: 'One event',
      tags: ['events'],
      auth: 'public',
      conditional: true,
      params: IdParams,
      responses: { 200: { description: 'The event', schema: EventJson }, 400: problem('Malformed id'), 404: problem('No such event') },
      async handler({ params }) {
        return { status: 200, json: await events.getJson(params.id) };
      },
    }),
    route({
      method: 'post',
      path: '/events',
      summary: 'Create an event',
      tags: ['events'],
      auth: 'user',
      roles: ['organizer', 'admin'],
      body: EventCreateBody,
      responses: { 201: { description: 'Created', schema: EventJson }, 400: problem('Invalid body'), 403: problem('Not an organizer') },
      async handler({ actor, body, res }) {
        const event = await events.create(actor, body);
        res.location(`${res.req.baseUrl}/events/${event.id}`);
        return { status: 201, body: event };
      },
    }),
    route({
      method: 'patch',
      path: '/events/:id',
      summary: 'Change an event (its organizer or an admin)',
      tags: ['events'],
      auth: 'user',
      roles: ['organizer', 'admin'],
      params: IdParams,
      body: EventPatchBody,
      responses: {
        200: { description: 'Updated', schema: EventJson },
        403: problem('Not the organizer'),
        404: problem('No such event'),
        409: problem('Capacity below seats taken'),
      },
      async handler({ actor, params, body, req }) {
        return { status: 200, body: await events.update(actor, params.id, body, callContext(req)) };
      },
    }),
    route({
      method: 'delete',
      path: '/events/:id',
      summary:
        'Delete an event without active bookings (its organizer or an admin); an admin may cancel them with it (cancelBookings=true: paid ones are refunded)',
      tags: ['events'],
      auth: 'user',
      roles: ['organizer', 'admin'],
      params: IdParams,
      query: EventDeleteQuery,
      responses: {
        204: { description: 'Deleted' },
        403: problem('Not allowed'),
        404: problem('No such event'),
        409: problem('Active bookings exist'),
      },
      async handler({ actor, params, query, req }) {
        await events.delete(actor, params.id, callContext(req), { cancelBookings: query.cancelBookings === 'true' });
        return { status: 204 };
      },
    }),
  ];
}
