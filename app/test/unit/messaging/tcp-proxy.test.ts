import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';

let echo: Server;
let proxy: TcpProxy;

beforeAll(async () => {
  echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  proxy = await startTcpProxy({ host: '127.0.0.1', port: (echo.address() as AddressInfo).port });
});
afterAll(async () => {
  await proxy.close();
  await new Promise((resolve) => echo.close(resolve));
});

const open = () =>
  new Promise<Socket>((resolve, reject) => {
    const socket = connect(proxy.port, proxy.host, () => resolve(socket));
    socket.once('error', reject);
  });
const roundTrip = (socket: Socket, text: string) =>
  new Promise<string>((resolve) => {
    socket.once('data', (data) => resolve(String(data)));
    socket.write(text);
  });
const closed = (socket: Socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

test('forwards both ways; cut() kills open connections and refuses new ones until restore()', async () => {
  const socket = await open();
  expect(await roundTrip(socket, 'hello')).toBe('hello');
  expect(proxy.connections).toBe(1);

  proxy.cut();
  await closed(socket);
  const refused = await open().catch(() => null);
  if (refused) await closed(refused); // accepted at TCP level, then dropped at once
  expect(proxy.connections).toBe(0);

  proxy.restore();
  const again = await open();
  expect(await roundTrip(again, 'back')).toBe('back');
  again.destroy();
});

test('delay(ms) holds the traffic for that long', async () => {
  const socket = await open();
  proxy.delay(150);
  const started = Date.now();
  expect(await roundTrip(socket, 'slow')).toBe('slow');
  expect(Date.now() - started).toBeGreaterThanOrEqual(280); // both directions
  proxy.delay(0);
  socket.destroy();
});

test('rewrite() points a URL at the proxy, keeping credentials and path', () => {
  expect(proxy.rewrite('amqp://guest:guest@rabbit.internal:5672/vhost')).toBe(`amqp://guest:guest@127.0.0.1:${proxy.port}/vhost`);
});
