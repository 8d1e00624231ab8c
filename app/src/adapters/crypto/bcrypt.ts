import { hash, verify } from '@node-rs/bcrypt';
import type { PasswordHasher } from '../../ports';

/** bcrypt on libuv's thread pool (native), so hashing never blocks the event loop. */
export class BcryptPasswordHasher implements PasswordHasher {
  constructor(private readonly cost: number) {}

  hash(password: string): Promise<string> {
    return hash(password, this.cost);
  }

  async verify(password: string, passwordHash: string): Promise<boolean> {
    try {
      return await verify(password, passwordHash);
    } catch {
      return false;
    }
  }
}
