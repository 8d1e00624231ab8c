import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** What config.ts demands of JWT_SECRET too. */
const MIN_BYTES = 32;

export interface LocalJwtSecret {
  secret: string;
  file: string;
  /** True when this call generated the key (first run, or the file held no usable key). */
  created: boolean;
}

/**
 * The signing key of local runs without JWT_SECRET: generated once into `<dataDir>/jwt.secret`
 * (mode 0600, beside the embedded database, git-ignored) and reused, so restarting `make run`
 * keeps everyone signed in. Production never gets here: it refuses to start without JWT_SECRET.
 */
export function localJwtSecret(dataDir: string): LocalJwtSecret {
  const file = path.resolve(dataDir, 'jwt.secret');
  mkdirSync(path.dirname(file), { recursive: true });
  const existing = readKey(file);
  if (existing !== null) return { secret: existing, file, created: false };
  const secret = randomBytes(48).toString('base64url');
  if (existsSync(file)) {
    // a truncated or hand-edited file: replace it
    writeFileSync(file, `${secret}\n`);
    chmodSync(file, 0o600);
    return { secret, file, created: true };
  }
  try {
    // 'wx': of two processes starting at once, one creates the key and the other reads it
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return { secret, file, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const winner = readKey(file);
    if (winner === null) throw new Error(`${file} holds no usable key: delete it and start again`, { cause: error });
    return { secret: winner, file, created: false };
  }
}

/** The key in `file`, or null when there is no file or no usable key in it. */
function readKey(file: string): string | null {
  try {
    const key = readFileSync(file, 'utf8').trim();
    return Buffer.byteLength(key) >= MIN_BYTES ? key : null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
