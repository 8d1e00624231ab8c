import type { Pool } from 'pg';
import { EmailTakenError, LastAdminError } from '../../domain/errors';
import { type Role, type User } from '../../domain/user';
import type { UserStore, UserWithSecret } from '../../ports';
import { inTransaction, isUniqueViolation } from './pool';
import { toUser, type UserRow } from './rows';

const COLUMNS = 'id, email, password_hash, role, token_version, created_at, updated_at';

function publicUser(user: UserWithSecret): User {
  return { id: user.id, email: user.email, role: user.role, createdAt: user.createdAt, updatedAt: user.updatedAt };
}

export class PostgresUserStore implements UserStore {
  constructor(private readonly pool: Pool) {}

  async create(input: { email: string; passwordHash: string; role: Role }): Promise<User> {
    try {
      const { rows } = await this.pool.query<UserRow>(
        `INSERT INTO users (email, password_hash, role) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
        [input.email, input.passwordHash, input.role],
      );
      return publicUser(toUser(rows[0]!));
    } catch (error) {
      if (isUniqueViolation(error, 'users_email_lower_key')) throw new EmailTakenError();
      throw error;
    }
  }

  async findByEmail(email: string): Promise<UserWithSecret | null> {
    const { rows } = await this.pool.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE lower(email) = lower($1)`, [email]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async findById(id: string): Promise<UserWithSecret | null> {
    const { rows } = await this.pool.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  setRole(id: string, role: Role): Promise<User | null> {
    return inTransaction(this.pool, async (client) => {
      if (role !== 'admin') {
        // Every admin row locked, in id order: two admins demoting each other at once queue here,
        // and the second sees the first one's change (its row no longer matches) and is refused.
        const { rows: admins } = await client.query<{ id: string }>(`SELECT id FROM users WHERE role = 'admin' ORDER BY id FOR UPDATE`);
        if (admins.length === 1 && admins[0]!.id === id) throw new LastAdminError();
      }
      // Same role: nothing changes, and the user's tokens stay valid.
      const { rows } = await client.query<UserRow>(
        `UPDATE users SET role = $2, token_version = token_version + CASE WHEN role = $2 THEN 0 ELSE 1 END, updated_at = now()
          WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, role],
      );
      return rows[0] ? publicUser(toUser(rows[0])) : null;
    });
  }

  async ensureAdmin(email: string, passwordHash: string): Promise<'created' | 'exists'> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO users (email, password_hash, role) VALUES ($1, $2, 'admin') ON CONFLICT ((lower(email))) DO NOTHING`,
      [email, passwordHash],
    );
    return rowCount === 1 ? 'created' : 'exists';
  }
}
