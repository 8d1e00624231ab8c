import { z } from 'zod';
import type { AuditService } from '../../services/audit';
import { route, type RouteSpec } from '../route';
import { BookingListQuery, pageOf } from '../schemas';

export const AuditListQuery = z.strictObject({
  limit: BookingListQuery.shape.limit,
  cursor: BookingListQuery.shape.cursor,
  action: z
    .string()
    .regex(/^[a-z_]{1,32}\.[a-z_]{1,32}$/, 'must be an action like auth.login')
    .optional(),
  actorId: z.uuid('must be a UUID').optional(),
});

export const AuditRecordJson = z.object({
  id: z.string(),
  at: z.string(),
  actorId: z.uuid().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  ip: z.string().nullable(),
  requestId: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});

export function auditRoutes(audit: AuditService): RouteSpec[] {
  return [
    route({
      method: 'get',
      path: '/audit',
      summary: 'The audit trail, newest first (admins)',
      tags: ['audit'],
      auth: 'user',
      roles: ['admin'],
      query: AuditListQuery,
      responses: {
        200: { description: 'A page of audit records', schema: pageOf(AuditRecordJson) },
        400: { description: 'Invalid query' },
        403: { description: 'Not an admin' },
      },
      async handler({ actor, query }) {
        return { status: 200, body: await audit.list(actor, query) };
      },
    }),
  ];
}
