import { ForbiddenError } from '../domain/errors';
import { isAdmin, type Actor, type Role } from '../domain/user';

export function assertAdmin(actor: Actor, reason: string): void {
  if (!isAdmin(actor)) throw new ForbiddenError(reason);
}

export function assertRole(actor: Actor, roles: readonly Role[], reason: string): void {
  if (!roles.includes(actor.role)) throw new ForbiddenError(reason);
}
