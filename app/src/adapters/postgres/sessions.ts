import type { Pool } from 'pg';
import type { SessionStore } from '../../ports';

/** Logout everywhere in one statement: access tokens die with the old version, refresh tokens are revoked. */
const REVOKE_ALL_SQL = `WITH u AS (
    UPDATE users SET token_version = token_version + 1, updated_at = now() WHERE id = $1 RETURNING id, token_version
  ), r AS (
    UPDATE refresh_tokens t SET revoked_at = now() FROM u WHERE t.user_id = u.id AND t.revoked_at IS NULL
  )
  SELECT token_version FROM u`;

export class PostgresSessionStore implements SessionStore {
  constructor(private readonly pool: Pool) {}

  async revokeAll(userId: string): Promise<number | null> {
    const { rows } = await this.pool.query<{ token_version: number }>(REVOKE_ALL_SQL, [userId]);
    return rows[0]?.token_version ?? null;
  }
}
