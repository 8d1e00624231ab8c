import { ServiceUnavailableError } from '../../domain/errors';
import type { OneTimeStore } from '../../ports';
import type { RedisConnection } from './connection';

/**
 * Single-use values in Redis: SET … PX on `put`, GETDEL on `take` (one atomic command, so two
 * replicas racing for the same code or state can never both get it). Shared by every replica, so
 * a sign-in started on one pod completes on another. No fallback while Redis cannot answer: a
 * transaction kept in one pod's memory would fail on the next pod anyway; 503 says so honestly.
 */
export class RedisOneTimeStore implements OneTimeStore {
  constructor(private readonly connection: RedisConnection) {}

  private key(namespace: string, key: string): string {
    return `${this.connection.prefix}once:${namespace}:${key}`;
  }

  async put(namespace: string, key: string, value: string, ttlMs: number): Promise<void> {
    try {
      await this.connection.run((client) => client.set(this.key(namespace, key), value, 'PX', Math.max(1, Math.ceil(ttlMs))));
    } catch (error) {
      throw new ServiceUnavailableError('redis', 'one-time store write failed', 5, { cause: error });
    }
  }

  async take(namespace: string, key: string): Promise<string | null> {
    try {
      return await this.connection.run((client) => client.getdel(this.key(namespace, key)));
    } catch (error) {
      throw new ServiceUnavailableError('redis', 'one-time store read failed', 5, { cause: error });
    }
  }
}
