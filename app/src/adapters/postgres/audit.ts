import type { Pool } from 'pg';
import type { AuditEntry, AuditLog } from '../../ports';

export class PostgresAuditLog implements AuditLog {
  constructor(private readonly pool: Pool) {}

  async record(entry: AuditEntry): Promise<void> {
    await this.pool.query('INSERT INTO audit_log (actor_id, action, target, ip, request_id, details) VALUES ($1, $2, $3, $4, $5, $6)', [
      entry.actorId,
      entry.action,
      entry.target ?? null,
      entry.ip ?? null,
      entry.requestId ?? null,
      entry.details ?? {},
    ]);
  }
}
