/**
 * GetEvent answered from the encoded answer kept beside the event's in-process JSON copy, on real
 * PostgreSQL and Redis: the same bytes (and so the same Event) as an answer encoded from a fresh
 * load, dropped with the JSON copy when a booking or an update changes the event, and still
 * charged the caller's read.
 */
import * as grpc from '@grpc/grpc-js';
import { loadProtos } from '../../../src/grpc/protos';
import { createLogger } from '../../../src/observability/logger';
import { call, futureEvent, startTestApi, type TestApi } from '../../support/api';
import { grpcClients, unary, type GrpcClients } from '../../support/grpc';
import { deleteKeys, redisEnv, testKeyPrefix, waitForRedis } from './helpers';

const GET_EVENT = '/goticket.v1.EventService/GetEvent';

let api: TestApi;
let prefix: string;
let clients: GrpcClients;
/** A client that hands back the answer's bytes undecoded. */
let raw: grpc.Client;
let organizer: { id: string; token: string };

beforeAll(async () => {
  prefix = testKeyPrefix();
  // nothing expires while the file runs; a signed-in caller has 2 reads
  api = await startTestApi({ ...redisEnv(prefix), CACHE_TTL: '1h', CACHE_LOCAL_TTL: '60s', RATE_LIMIT_READS: '2' }, { grpc: true });
  await waitForRedis(api.url);
  clients = grpcClients(api.grpcAddress!);
  raw = new grpc.Client(api.grpcAddress!, grpc.credentials.createInsecure());
  organizer = await api.user('organizer');
});
afterAll(async () => {
  raw?.close();
  clients?.close();
  await api?.close();
  if (prefix) await deleteKeys(prefix);
});
afterEach(() => jest.restoreAllMocks());

const encodeRequest = (loadProtos()['goticket.v1.EventService'] as grpc.ServiceDefinition).GetEvent!.requestSerialize;

function rawGetEvent(id: string, token?: string): Promise<Buffer> {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) =>
    raw.makeUnaryRequest(
      GET_EVENT,
      encodeRequest,
      (bytes: Buffer) => bytes,
      { id },
      metadata,
      (error: grpc.ServiceError | null, bytes?: Buffer) => (error ? reject(error) : resolve(bytes!)),
    ),
  );
}

type EventAnswer = { event: { id: string; name: string; available: number; capacity: number; updated_at: { seconds: string } } };
async function getEvent(id: string): Promise<EventAnswer['event']> {
  const answer = await unary<EventAnswer>(clients.events, 'GetEvent', { id });
  if (!answer.ok) throw new Error(`GetEvent: ${answer.code} ${answer.details}`);
  return answer.value.event;
}

async function createEvent(capacity: number): Promise<string> {
  const response = await call<{ id: string }>(`${api.url}/events`, {
    token: organizer.token,
    body: futureEvent({ capacity, name: 'Cached gRPC read', description: 'Ünïcødé — 🎫 text' }),
  });
  expect(response.status).toBe(201);
  return response.body.id;
}

/**
 * Reads until this process holds the fresh copy: a load (stored in Redis), then Redis's text
 * (copied into the process). Returns the first answer, encoded from the load.
 */
async function warm(id: string): Promise<Buffer> {
  expect(api.api.services.events.peekJsonBytes(id)).toBeUndefined();
  const loaded = await rawGetEvent(id);
  await rawGetEvent(id);
  expect(api.api.services.events.peekJsonBytes(id)).toBeDefined();
  return loaded;
}

it('a cached GetEvent sends, without reading the cache or PostgreSQL, the bytes of an answer encoded from a fresh load', async () => {
  const id = await createEvent(10);
  const loaded = await warm(id);
  const getJson = jest.spyOn(api.api.services.events, 'getJson');
  const cached = await rawGetEvent(id);
  const again = await rawGetEvent(id.toUpperCase());
  const decoded = await getEvent(id);
  expect(getJson).not.toHaveBeenCalled();
  expect(cached.equals(loaded)).toBe(true);
  expect(again.equals(loaded)).toBe(true);
  expect(decoded).toMatchObject({ id, name: 'Cached gRPC read', description: 'Ünïcødé — 🎫 text', capacity: 10, available: 10 });
  // what the REST twin says about the same event
  const rest = (await call<{ name: string; available: number; updatedAt: string }>(`${api.url}/events/${id}`)).body;
  expect(decoded.updated_at.seconds).toBe(String(Math.floor(new Date(rest.updatedAt).getTime() / 1000)));
});

it('a booking drops the cached answer with the JSON copy: the next GetEvent reads the new seat count', async () => {
  const id = await createEvent(10);
  const before = await warm(id);
  // answered from the cached bytes once, so there is an encoded answer to drop
  expect((await rawGetEvent(id)).equals(before)).toBe(true);
  const buyer = await api.user();
  const booked = await unary(clients.bookings, 'CreateBooking', { event_id: id, quantity: 3 }, { token: buyer.token });
  expect(booked).toMatchObject({ ok: true });
  expect(api.api.services.events.peekJsonBytes(id)).toBeUndefined();
  const getJson = jest.spyOn(api.api.services.events, 'getJson');
  const fresh = await rawGetEvent(id);
  expect(getJson).toHaveBeenCalledTimes(1);
  expect(fresh.equals(before)).toBe(false);
  expect(await getEvent(id)).toMatchObject({ available: 7 });
  // cached again, from the new copy: still the answer a load gives
  getJson.mockClear();
  expect(api.api.services.events.peekJsonBytes(id)).toBeDefined();
  expect((await rawGetEvent(id)).equals(fresh)).toBe(true);
  expect(getJson).not.toHaveBeenCalled();
});

it('an update drops the cached answer with the JSON copy: the next GetEvent has the new name', async () => {
  const id = await createEvent(10);
  await warm(id);
  expect(await getEvent(id)).toMatchObject({ name: 'Cached gRPC read' });
  const patched = await call(`${api.url}/events/${id}`, { method: 'PATCH', token: organizer.token, body: { name: 'Renamed night' } });
  expect(patched.status).toBe(200);
  expect(await getEvent(id)).toMatchObject({ name: 'Renamed night', available: 10 });
  await getEvent(id);
  expect(api.api.services.events.peekJsonBytes(id)).toBeDefined();
  const getJson = jest.spyOn(api.api.services.events, 'getJson');
  expect(await getEvent(id)).toMatchObject({ name: 'Renamed night' });
  expect(getJson).not.toHaveBeenCalled();
});

it('a cached GetEvent still costs the signed-in caller one read: the third is RESOURCE_EXHAUSTED', async () => {
  const id = await createEvent(10);
  await warm(id);
  const reader = await api.user();
  const getJson = jest.spyOn(api.api.services.events, 'getJson');
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await unary(clients.events, 'GetEvent', { id }, { token: reader.token }));
  expect(getJson).not.toHaveBeenCalled();
  expect(answers.map((answer) => answer.ok)).toEqual([true, true, false]);
  expect(answers[2]).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
});

it('logs a cached GetEvent as REST logs a cached read: every ACCESS_LOG_CACHED_READ_EVERY-th, marked sampled; any other call always', async () => {
  const lines: Array<{ rpc?: string; code?: string; sampled?: number }> = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line) as never) } });
  const sampledPrefix = testKeyPrefix();
  const sampledApi = await startTestApi(
    { ...redisEnv(sampledPrefix), CACHE_TTL: '1h', CACHE_LOCAL_TTL: '60s', ACCESS_LOG_CACHED_READ_EVERY: '3' },
    { grpc: true, logger },
  );
  const sampledClients = grpcClients(sampledApi.grpcAddress!);
  try {
    await waitForRedis(sampledApi.url);
    const owner = await sampledApi.user('organizer');
    const created = await call<{ id: string }>(`${sampledApi.url}/events`, { token: owner.token, body: futureEvent({ capacity: 3 }) });
    const rpcLines = () => lines.filter((line) => line.rpc === 'goticket.v1.EventService/GetEvent');
    const get = (id: string) => unary(sampledClients.events, 'GetEvent', { id });
    // Which reads were answered from memory (no getJson call), and the lines REST's rule gives them.
    const getJson = jest.spyOn(sampledApi.api.services.events, 'getJson');
    const expected: Array<[string, number | undefined]> = [];
    let fromMemory = 0;
    for (let i = 0; i < 12; i++) {
      const loads = getJson.mock.calls.length;
      expect((await get(created.body.id)).ok).toBe(true);
      if (getJson.mock.calls.length > loads) expected.push(['OK', undefined]);
      else if (++fromMemory % 3 === 0) expected.push(['OK', 3]);
    }
    expect(fromMemory).toBeGreaterThanOrEqual(6);
    expect((await get('00000000-0000-4000-8000-000000000000')).ok).toBe(false);
    expected.push(['NOT_FOUND', undefined]);
    expect(rpcLines().map((line) => [line.code, line.sampled])).toEqual(expected);
  } finally {
    sampledClients.close();
    await sampledApi.close();
    await deleteKeys(sampledPrefix);
  }
});
