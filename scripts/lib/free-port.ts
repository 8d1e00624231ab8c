import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Where ports are looked for: above the well-known and common service ports, below the kernel's own. */
const LOWEST = 20_000;
const ATTEMPTS = 50;

/** The first port the kernel hands out by itself (listen on 0, an outgoing connection's local port). */
export function ephemeralRangeStart(file = '/proc/sys/net/ipv4/ip_local_port_range'): number {
  try {
    const start = Number(readFileSync(file, 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > 0 ? start : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port free on 127.0.0.1 right now, for a process that must be told a port number
 * (PostgreSQL, Prometheus). It is taken below the kernel's ephemeral range: a port the kernel
 * chose (`listen(0)` or a connection's local end, of which parallel test files open thousands)
 * was seen taken between this check and the process binding it (EADDRINUSE in CI); outside that
 * range only another caller's random pick can collide.
 */
export async function freePort(): Promise<number> {
  const end = ephemeralRangeStart();
  if (end - LOWEST >= ATTEMPTS) {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const port = LOWEST + Math.floor(Math.random() * (end - LOWEST));
      if (await bindable(port)) return port;
    }
  }
  // A machine whose ephemeral range starts low: the kernel's choice.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
