import { NotFoundError } from '../domain/errors';
import { assertAdmin } from './guards';
import type { Actor, Role, User } from '../domain/user';
import type { AuditLog, UserStore } from '../ports';
import type { CallContext } from './context';
import type { TokenVersions } from './token-versions';

export class UserService {
  constructor(private readonly deps: { users: UserStore; audit: AuditLog; tokenVersions?: TokenVersions }) {}

  async me(actor: Actor): Promise<User> {
    const user = await this.deps.users.findById(actor.userId);
    if (!user) throw new NotFoundError('user');
    return { id: user.id, email: user.email, role: user.role, createdAt: user.createdAt, updatedAt: user.updatedAt };
  }

  async setRole(actor: Actor, userId: string, role: Role, context: CallContext): Promise<User> {
    assertAdmin(actor, 'only admins may change roles');
    const before = await this.deps.users.findById(userId);
    if (!before) throw new NotFoundError('user');
    const user = await this.deps.users.setRole(userId, role);
    if (!user) throw new NotFoundError('user');
    // A new role bumped the token version: the user's access tokens stop working now, not at expiry.
    await this.deps.tokenVersions?.changed(userId);
    await this.deps.audit.record({
      actorId: actor.userId,
      action: 'user.role_changed',
      target: userId,
      details: { from: before.role, to: role },
      ...context,
    });
    return user;
  }
}
