/**
 * The HTTP server's own deadlines (http/server.ts) as a slow client meets them. Node checks
 * incomplete requests against headersTimeout/requestTimeout only every connectionsCheckingInterval
 * (30 s by default), so without setting it a 10 s header deadline fired after ~30 s.
 */
import { connect } from 'node:net';
import { closeServer, listen } from '../../src/http/server';

/** Opens a connection, writes `sent` and never finishes the request; resolves with what the server answered and when it closed. */
function stall(url: string, sent: string): Promise<{ answer: string; closedAfterMs: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let answer = '';
    const socket = connect(Number(port), hostname, () => socket.write(sent));
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve({ answer, closedAfterMs: Date.now() - started }));
  });
}

test('a client that never finishes its headers is answered 408 and cut off at the 10 s header deadline, not ~30 s later', async () => {
  const { server, url } = await listen((_req, res) => res.end('ok'), '127.0.0.1', 0);
  try {
    const { answer, closedAfterMs } = await stall(url, 'GET /healthz/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    // the deadline plus at most one check interval (1 s)
    expect(closedAfterMs).toBeGreaterThanOrEqual(9_900);
    expect(closedAfterMs).toBeLessThan(12_500);
  } finally {
    await closeServer(server);
  }
}, 40_000);
