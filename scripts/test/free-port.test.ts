import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ephemeralRangeStart, freePort } from '../lib/free-port';

it('hands out ports below the range the kernel picks from itself, free to bind', async () => {
  const start = ephemeralRangeStart();
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  for (const port of ports) {
    expect(port).toBeGreaterThanOrEqual(20_000);
    expect(port).toBeLessThan(start);
  }
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(ports[0], '127.0.0.1', resolve));
  await new Promise((resolve) => server.close(resolve));
});

it('passes over a port something listens on', async () => {
  const taken = createServer();
  const port = await freePort();
  await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
  // The first pick lands on the taken port; the ones after it are random again.
  const random = Math.random.bind(Math);
  const span = ephemeralRangeStart() - 20_000;
  const picks = jest.spyOn(Math, 'random').mockImplementationOnce(() => (port - 20_000 + 0.5) / span);
  picks.mockImplementation(random);
  try {
    const next = await freePort();
    expect(next).not.toBe(port);
    expect(picks.mock.calls.length).toBeGreaterThanOrEqual(2);
  } finally {
    picks.mockRestore();
    await new Promise((resolve) => taken.close(resolve));
  }
});

it('reads the range start from the kernel setting, with a default when it cannot', () => {
  const dir = mkdtempSync(join(tmpdir(), 'port-range-'));
  try {
    writeFileSync(join(dir, 'range'), '40000\t60999\n');
    expect(ephemeralRangeStart(join(dir, 'range'))).toBe(40_000);
    writeFileSync(join(dir, 'garbage'), 'none\n');
    expect(ephemeralRangeStart(join(dir, 'garbage'))).toBe(32_768);
    expect(ephemeralRangeStart(join(dir, 'missing'))).toBe(32_768);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
