import type { Actor } from '../domain/user';
import type { AuditQuery, AuditReader, AuditRecord, Page } from '../ports';
import { assertAdmin } from './guards';

export class AuditService {
  constructor(private readonly deps: { reader: AuditReader }) {}

  list(actor: Actor, query: AuditQuery): Promise<Page<AuditRecord>> {
    assertAdmin(actor, 'only admins may read the audit log');
    return this.deps.reader.list(query);
  }
}
