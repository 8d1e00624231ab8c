import { z } from 'zod';
import type { AuditService } from '../../services/audit';
import { route, type RouteSpec } from '../route';
import { BookingListQuery, pageOf } from '../schemas';

export const AuditListQuery = z.strictObject({
  limit: BookingListQuery.shape.limit,
  cursor: BookingListQuery.shape.cursor,
  action: z
    .string()
    .max(65)
    .regex(/^[a-z_]{1,32}\.[a-z_]{1,32}$/, 'must be an action like auth.login')
    .optional(),
  actorId: z.uuid('must be a UUID').max(36).optional(),
});

export const AuditRecordJson = z
  .object({
    id: z
      .string()
      .max(19)
      .regex(/^\d{1,19}$/),
    at: z.iso.datetime().max(40),
    actorId: z.uuid().max(36).nullable(),
    action: z
      .string()
      .max(65)
      .regex(/^[a-z_]{1,32}\.[a-z_]{1,32}$/),
    target: z.string().max(254).nullable(),
    ip: z
      .string()
      .max(45)
      .regex(/^[0-9A-Fa-f:.]{2,45}$/)
      .nullable(),
    requestId: z
      .string()
      .max(128)
      .regex(/^[A-Za-z0-9._:-]{1,128}$/)
      .nullable(),
    details: z.record(z.string().max(64), z.unknown()),
  })
  .meta({
    example: {
      id: '1042',
      at: '2026-12-01T20:00:00.000Z',
      actorId: '2b1f7c0e-9a4d-4e8b-b6f1-3c5d7e9a1b20',
      action: 'user.role_changed',
      target: '5d2e8f1a-3b4c-4d5e-8f9a-0b1c2d3e4f5a',
      ip: '203.0.113.7',
      requestId: 'b7c9e2f4-1a3d-4c5e-9f8a-2b4d6e8f0a1c',
      details: { from: 'user', to: 'organizer' },
    },
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
