import { request } from 'node:http';
import { closeServer, listen } from '../../src/http/server';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('graceful HTTP shutdown', () => {
  it('lets an in-flight request finish, then refuses new connections', async () => {
    let markStarted!: () => void;
    const started = new Promise<void>((resolve) => (markStarted = resolve));
    const { server, url } = await listen(
      (_req, res) => {
        markStarted();
        setTimeout(() => res.end('done'), 300);
      },
      '127.0.0.1',
      0,
    );
    const inFlight = get(`${url}/slow`);
    await started;
    const closed = closeServer(server);
    await expect(get(`${url}/new`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(await inFlight).toEqual({ status: 200, body: 'done' });
    await closed;
    expect(server.listening).toBe(false);
  });
});
