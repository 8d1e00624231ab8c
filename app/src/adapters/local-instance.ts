import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { StartupError } from '../domain/errors';

/** `<dataDir>/goticket.pid`: the pid of the local instance (make run) that holds the data folder. */
export function lockFile(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'goticket.pid');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is someone else's
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of a running instance holding `dataDir`, or null (no lock, or one left by a process that is gone). */
export function holderOf(dataDir: string): number | null {
  let text: string;
  try {
    text = readFileSync(lockFile(dataDir), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : null;
}

export function inUseMessage(dataDir: string, pid: number): string {
  return `another instance is using ${dataDir} (pid ${pid}): stop it first, or set DATA_DIR to another folder`;
}

/**
 * Takes `dataDir` for this process (the embedded PostgreSQL's cluster and the local signing key
 * live there): a second `make run` stops with one line naming the first one's pid instead of
 * failing inside the embedded PostgreSQL. A lock left by a process that died is taken over.
 */
export function lockDataDir(dataDir: string): { release(): void } {
  mkdirSync(path.resolve(dataDir), { recursive: true });
  const file = lockFile(dataDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return {
        release() {
          if (holderOf(dataDir) === null) rmSync(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = holderOf(dataDir);
      if (holder !== null) throw new StartupError(inUseMessage(dataDir, holder), 'data folder in use');
      rmSync(file, { force: true });
    }
  }
  throw new StartupError(`could not take ${file}: another instance is starting on ${dataDir}`, 'data folder in use');
}
