import type { Pool } from 'pg';
import { EmailTakenError, NotFoundError } from '../../domain/errors';
import type { OAuthProfile, OAuthProviderName } from '../../domain/oauth';
import type { User } from '../../domain/user';
import type { IdentityLink, IdentityStore } from '../../ports';
import { inTransaction, isUniqueViolation } from './pool';
import { toUser, type UserRow } from './rows';

const USER_COLUMNS = 'id, email, password_hash, role, token_version, created_at, updated_at';

/** Rolls the account back when a concurrent first sign-in of the same identity won. */
class IdentityExists extends Error {}

/** External identities in `user_identities` (migration 006), joined to `users`. */
export class PostgresIdentityStore implements IdentityStore {
  constructor(private readonly pool: Pool) {}

  async find(provider: OAuthProviderName, subject: string): Promise<IdentityLink | null> {
    const { rows } = await this.pool.query<{ user_id: string }>('SELECT user_id FROM user_identities WHERE provider = $1 AND subject = $2', [provider, subject]);
    return rows[0] ? { provider, subject, userId: rows[0].user_id } : null;
  }

  async link(profile: OAuthProfile, userId: string): Promise<boolean> {
    try {
      const { rowCount } = await this.pool.query(
        `INSERT INTO user_identities (provider, subject, user_id, email, email_verified) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (provider, subject) DO NOTHING`,
        [profile.provider, profile.subject, userId, profile.email, profile.emailVerified],
      );
      return rowCount === 1;
    } catch (error) {
      if ((error as { code?: string }).code === '23503') throw new NotFoundError('user');
      throw error;
    }
  }

  async createAccount(profile: OAuthProfile, email: string): Promise<User | null> {
    try {
      return await inTransaction(this.pool, async (client) => {
        const { rows } = await client.query<UserRow>(`INSERT INTO users (email, password_hash, role) VALUES ($1, NULL, 'user') RETURNING ${USER_COLUMNS}`, [email]);
        const user = toUser(rows[0]!);
        const { rowCount } = await client.query(
          `INSERT INTO user_identities (provider, subject, user_id, email, email_verified) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (provider, subject) DO NOTHING`,
          [profile.provider, profile.subject, user.id, profile.email, profile.emailVerified],
        );
        if (rowCount !== 1) throw new IdentityExists();
        return { id: user.id, email: user.email, role: user.role, createdAt: user.createdAt, updatedAt: user.updatedAt };
      });
    } catch (error) {
      if (error instanceof IdentityExists) return null;
      if (isUniqueViolation(error, 'users_email_lower_key')) throw new EmailTakenError();
      throw error;
    }
  }

  async touch(profile: OAuthProfile): Promise<void> {
    await this.pool.query(
      'UPDATE user_identities SET last_sign_in_at = now(), email = $3, email_verified = $4 WHERE provider = $1 AND subject = $2',
      [profile.provider, profile.subject, profile.email, profile.emailVerified],
    );
  }
}
