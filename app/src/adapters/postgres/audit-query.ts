import type { Pool } from 'pg';
import { ValidationError } from '../../domain/errors';
import type { AuditQuery, AuditReader, AuditRecord, Page } from '../../ports';

interface AuditRow {
  id: string;
  at: Date;
  actor_id: string | null;
  action: string;
  target: string | null;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

/** Opaque cursor: base64url of the last row's id (ids grow with time). */
function encodeAuditCursor(id: string): string {
  return Buffer.from(`a:${id}`).toString('base64url');
}

/** audit_log.id is a bigint: a larger number would fail in PostgreSQL (a 500), not here. */
const MAX_BIGINT = 2n ** 63n - 1n;

function decodeAuditCursor(cursor: string): string {
  const match = /^a:(\d{1,19})$/.exec(/^[A-Za-z0-9_-]{1,40}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '');
  if (!match || BigInt(match[1]!) > MAX_BIGINT)
    throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'is not a cursor returned by this API' }]);
  return match[1]!;
}

export class PostgresAuditReader implements AuditReader {
  constructor(private readonly pool: Pool) {}

  async list(query: AuditQuery): Promise<Page<AuditRecord>> {
    const params: unknown[] = [];
    const bind = (value: unknown) => `$${params.push(value)}`;
    const where: string[] = [];
    if (query.cursor) where.push(`id < ${bind(decodeAuditCursor(query.cursor))}::bigint`);
    if (query.action) where.push(`action = ${bind(query.action)}`);
    if (query.actorId) where.push(`actor_id = ${bind(query.actorId)}::uuid`);
    const { rows } = await this.pool.query<AuditRow>(
      `SELECT id::text AS id, at, actor_id, action, target, ip, request_id, details FROM audit_log
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY audit_log.id DESC LIMIT ${bind(query.limit + 1)}`,
      params,
    );
    const items = rows.slice(0, query.limit).map((row): AuditRecord => ({
      id: row.id,
      at: row.at,
      actorId: row.actor_id,
      action: row.action,
      target: row.target,
      ip: row.ip,
      requestId: row.request_id,
      details: row.details,
    }));
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > query.limit && last ? encodeAuditCursor(last.id) : null };
  }
}
