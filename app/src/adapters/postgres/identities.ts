import type { Pool } from 'pg';
import { EmailTakenError, NotFoundError } from '../../domain/errors';
import type { OAuthProfile, OAuthProviderName } from '../../domain/oauth';
import type { User } from '../../domain/user';
import type { ClearedCredentials, IdentityLink, IdentityStore } from '../../ports';
import { inTransaction, isUniqueViolation } from './pool';
import { toUser, type UserRow } from './rows';

const USER_COLUMNS = 'id, email, password_hash, role, token_version, created_at, updated_at';

/** Rolls the account back when a concurrent first sign-in of the same identity won. */
class IdentityExists extends Error {}

/** External identities in `user_identities` (migration 006), joined to `users`. */
export class PostgresIdentityStore implements IdentityStore {
  constructor(private readonly pool: Pool) {}

  async find(provider: OAuthProviderName, subject: string): Promise<IdentityLink | null> {
    const { rows } = await this.pool.query<{ user_id: string }>(
      'SELECT user_id FROM user_identities WHERE provider = $1 AND subject = $2',
      [provider, subject],
    );
    return rows[0] ? { provider, subject, userId: rows[0].user_id } : null;
  }

  async link(profile: OAuthProfile, userId: string): Promise<{ cleared: ClearedCredentials | null } | null> {
    return inTransaction(this.pool, async (client) => {
      // The account row locked: a concurrent link of another identity waits and then finds this one.
      const { rows } = await client.query<{ has_password: boolean; proven: boolean }>(
        `SELECT password_hash IS NOT NULL AS has_password,
                EXISTS (SELECT 1 FROM user_identities i WHERE i.user_id = u.id AND i.email_verified) AS proven
           FROM users u WHERE u.id = $1 FOR UPDATE`,
        [userId],
      );
      const account = rows[0];
      if (!account) throw new NotFoundError('user');
      const { rowCount } = await client.query(
        `INSERT INTO user_identities (provider, subject, user_id, email, email_verified) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (provider, subject) DO NOTHING`,
        [profile.provider, profile.subject, userId, profile.email, profile.emailVerified],
      );
      if (rowCount !== 1) return null;
      if (account.proven || !profile.emailVerified) return { cleared: null };
      // Whoever registered the address first proved nothing: the password and sessions go (as on logout-all).
      const bumped = await client.query<{ token_version: number }>(
        'UPDATE users SET password_hash = NULL, token_version = token_version + 1, updated_at = now() WHERE id = $1 RETURNING token_version',
        [userId],
      );
      const revoked = await client.query('UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [
        userId,
      ]);
      return {
        cleared: {
          passwordRemoved: account.has_password,
          refreshTokensRevoked: revoked.rowCount ?? 0,
          tokenVersion: bumped.rows[0]!.token_version,
        },
      };
    });
  }

  async createAccount(profile: OAuthProfile, email: string): Promise<User | null> {
    try {
      return await inTransaction(this.pool, async (client) => {
        const { rows } = await client.query<UserRow>(
          `INSERT INTO users (email, password_hash, role) VALUES ($1, NULL, 'user') RETURNING ${USER_COLUMNS}`,
          [email],
        );
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
