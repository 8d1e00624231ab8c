import type { Pool } from 'pg';
import type { RefreshTokenStore, RotateResult } from '../../ports';
import { inTransaction } from './pool';

export class PostgresRefreshTokenStore implements RefreshTokenStore {
  constructor(private readonly pool: Pool) {}

  async issue(input: { userId: string; familyId: string; tokenHash: string; expiresAt: Date }): Promise<void> {
    await this.pool.query('INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)', [
      input.userId,
      input.familyId,
      input.tokenHash,
      input.expiresAt,
    ]);
  }

  rotate(tokenHash: string, next: { tokenHash: string; expiresAt: Date }): Promise<RotateResult> {
    return inTransaction(this.pool, async (client) => {
      // The row lock makes two concurrent uses of one token rotate once and flag the other as reuse.
      const { rows } = await client.query<{ user_id: string; family_id: string; expired: boolean; rotated: boolean; revoked: boolean }>(
        `SELECT user_id, family_id, expires_at <= now() AS expired, rotated_at IS NOT NULL AS rotated, revoked_at IS NOT NULL AS revoked
           FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`,
        [tokenHash],
      );
      const row = rows[0];
      if (!row) return { kind: 'invalid' };
      // Only a token that was already exchanged proves a copy exists: someone else holds its successor.
      if (row.rotated) {
        await client.query('UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL', [row.family_id]);
        return { kind: 'reused', userId: row.user_id, familyId: row.family_id };
      }
      // Signed out (or its family ended): dead, but presenting it again is no sign of theft.
      if (row.revoked || row.expired) return { kind: 'invalid' };
      await client.query('UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = $1', [tokenHash]);
      await client.query('INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)', [
        row.user_id,
        row.family_id,
        next.tokenHash,
        next.expiresAt,
      ]);
      return { kind: 'rotated', userId: row.user_id, familyId: row.family_id };
    });
  }

  async revokeFamily(tokenHash: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ user_id: string }>(
      `UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now())
        WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)
        RETURNING user_id`,
      [tokenHash],
    );
    return rows[0]?.user_id ?? null;
  }
}
