/**
 * 8. The three edges side by side in one run: a booking stampede and a cached read through REST,
 * GraphQL and gRPC, with the same client harness for each (a closed loop of `connections`
 * concurrent callers, each user with its own token), so the ratios compare the edges, not the
 * load generators. Bookings/s = bookings ÷ time to the last booking; p99 of the bookings; api
 * CPU per request from /proc/<pid>/stat. Invariant: exactly `seats` bookings per edge, available 0.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { loadProtos } from '../../app/src/grpc/protos';
import type { BenchContext } from '../lib/context';
import { seedEvent } from '../lib/database';
import { progress } from '../lib/progress';
import { rate, summarize, type LatencySummary } from '../lib/stats';

export type EdgeName = 'rest' | 'graphql' | 'grpc';
export const EDGES: readonly EdgeName[] = ['rest', 'graphql', 'grpc'];

export interface EdgeStampede {
  booked: number;
  refused: number;
  other: number;
  bookingsPerSecond: number;
  bookingLatency: LatencySummary;
  cpuMsPerRequest: number;
}
export interface EdgeReads {
  requests: number;
  perSecond: number;
  latency: LatencySummary;
  cpuMsPerRequest: number;
}
export interface EdgesResult {
  seats: number;
  attempts: number;
  connections: number;
  stampede: Record<EdgeName, EdgeStampede>;
  reads: Record<EdgeName, EdgeReads>;
  problems: string[];
}

type Outcome = 'booked' | 'refused' | 'other';
type Caller = (user: number) => Promise<Outcome>;

/** utime + stime of a process, ms (Linux /proc). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function closedLoop(connections: number, stop: (done: number) => boolean, call: Caller) {
  const latency: number[] = [];
  const counts: Record<Outcome, number> = { booked: 0, refused: 0, other: 0 };
  const started = performance.now();
  let lastBooked = 0;
  let issued = 0;
  await Promise.all(
    Array.from({ length: connections }, async (_, lane) => {
      while (!stop(issued)) {
        const i = issued++;
        const t0 = performance.now();
        const outcome = await call(lane + i).catch((): Outcome => 'other');
        const t1 = performance.now();
        counts[outcome]++;
        if (outcome === 'booked') {
          latency.push(t1 - t0);
          lastBooked = t1 - started;
        }
      }
    }),
  );
  return { counts, latency, lastBooked, elapsedMs: performance.now() - started, issued };
}

export async function edges(ctx: BenchContext): Promise<EdgesResult> {
  const seats = ctx.options.quick ? 500 : 3_000;
  const attempts = Math.round(seats * 1.5);
  const readMs = ctx.options.quick ? 2_000 : 8_000;
  const connections = ctx.options.connections;
  const graphqlUrl = `${ctx.api.url}/graphql`;
  const address = ctx.grpcAddress;
  if (!address) throw new Error('edges: the api was started without a known GRPC_PORT');
  const pkg = grpc.loadPackageDefinition(loadProtos()) as unknown as {
    goticket: { v1: Record<string, new (a: string, c: grpc.ChannelCredentials) => grpc.Client> };
  };
  const bookingsClient = new pkg.goticket.v1.BookingService!(address, grpc.credentials.createInsecure());
  const eventsClient = new pkg.goticket.v1.EventService!(address, grpc.credentials.createInsecure());
  const grpcCall = (client: grpc.Client, method: string, request: unknown, token?: string) =>
    new Promise<grpc.ServiceError | null>((resolve) => {
      const metadata = new grpc.Metadata();
      if (token) metadata.set('authorization', `Bearer ${token}`);
      (client as unknown as Record<string, (r: unknown, m: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void) => void>)[
        method
      ]!.call(client, request, metadata, (error) => resolve(error));
    });
  const token = (user: number) => ctx.users[user % ctx.users.length]!.token;
  const problems: string[] = [];

  const book: Record<EdgeName, (eventId: string) => Caller> = {
    rest: (eventId) => async (user) => {
      const response = await fetch(`${ctx.apiBase}/events/${eventId}/bookings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token(user)}` },
        body: '{"quantity":1}',
      });
      await response.arrayBuffer();
      return response.status === 201 ? 'booked' : response.status === 409 ? 'refused' : 'other';
    },
    graphql: (eventId) => async (user) => {
      const response = await fetch(graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token(user)}` },
        body: JSON.stringify({
          query: 'mutation Book($e: ID!) { bookSeats(eventId: $e, quantity: 1) { booking { id } } }',
          variables: { e: eventId },
        }),
      });
      const body = (await response.json()) as { data?: { bookSeats: unknown }; errors?: Array<{ extensions?: { code?: string } }> };
      return body.data?.bookSeats ? 'booked' : body.errors?.[0]?.extensions?.code === 'SOLD_OUT' ? 'refused' : 'other';
    },
    grpc: (eventId) => async (user) => {
      const error = await grpcCall(bookingsClient, 'CreateBooking', { event_id: eventId, quantity: 1 }, token(user));
      return error === null ? 'booked' : error.code === grpc.status.FAILED_PRECONDITION ? 'refused' : 'other';
    },
  };

  const stampede = {} as Record<EdgeName, EdgeStampede>;
  for (const edge of EDGES) {
    const event = await seedEvent(ctx.db.pool, ctx.organizerId, `Edge stampede (${edge})`, seats);
    const cpu0 = cpuMs(ctx.api.pid);
    const run = await closedLoop(connections, (issued) => issued >= attempts, book[edge](event.id));
    const cpu = cpuMs(ctx.api.pid) - cpu0;
    stampede[edge] = {
      booked: run.counts.booked,
      refused: run.counts.refused,
      other: run.counts.other,
      bookingsPerSecond: rate(run.counts.booked, run.lastBooked),
      bookingLatency: summarize(run.latency),
      cpuMsPerRequest: cpu / Math.max(1, run.issued),
    };
    const { rows } = await ctx.db.pool.query<{ available: number; n: number }>(
      'SELECT available, (SELECT count(*)::int FROM bookings WHERE event_id = $1) AS n FROM events WHERE id = $1',
      [event.id],
    );
    if (run.counts.booked !== seats || rows[0]!.available !== 0 || rows[0]!.n !== seats) {
      problems.push(
        `edges: ${edge} stampede booked ${run.counts.booked} (rows ${rows[0]!.n}, available ${rows[0]!.available}) for ${seats} seats, ${run.counts.other} unexpected answers`,
      );
    }
    progress.info(
      `edges: ${edge} stampede ${stampede[edge].bookingsPerSecond.toFixed(0)} bookings/s, p99 ${stampede[edge].bookingLatency.p99.toFixed(1)} ms, ${stampede[edge].cpuMsPerRequest.toFixed(2)} api CPU ms/request`,
    );
  }

  const readEvent = await seedEvent(ctx.db.pool, ctx.organizerId, 'Edge reads', 100);
  const read: Record<EdgeName, Caller> = {
    rest: async () => {
      const response = await fetch(`${ctx.apiBase}/events/${readEvent.id}`);
      await response.arrayBuffer();
      return response.status === 200 ? 'booked' : 'other';
    },
    graphql: async () => {
      const response = await fetch(graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token(0)}` },
        body: JSON.stringify({ query: `{ event(id: "${readEvent.id}") { id name available } }` }),
      });
      const body = (await response.json()) as { data?: { event?: unknown } };
      return body.data?.event ? 'booked' : 'other';
    },
    grpc: async () => ((await grpcCall(eventsClient, 'GetEvent', { id: readEvent.id })) === null ? 'booked' : 'other'),
  };
  const reads = {} as Record<EdgeName, EdgeReads>;
  for (const edge of EDGES) {
    await closedLoop(connections, (issued) => issued >= connections * 4, read[edge]); // warm the caches
    const cpu0 = cpuMs(ctx.api.pid);
    const started = performance.now();
    const run = await closedLoop(connections, () => performance.now() - started >= readMs, read[edge]);
    const cpu = cpuMs(ctx.api.pid) - cpu0;
    reads[edge] = {
      requests: run.counts.booked,
      perSecond: rate(run.counts.booked, run.elapsedMs),
      latency: summarize(run.latency),
      cpuMsPerRequest: cpu / Math.max(1, run.issued),
    };
    if (run.counts.other > 0) problems.push(`edges: ${edge} cached read had ${run.counts.other} failed answers`);
    progress.info(
      `edges: ${edge} cached read ${reads[edge].perSecond.toFixed(0)}/s, p99 ${reads[edge].latency.p99.toFixed(1)} ms, ${reads[edge].cpuMsPerRequest.toFixed(2)} api CPU ms/request`,
    );
  }
  bookingsClient.close();
  eventsClient.close();
  return { seats, attempts, connections, stampede, reads, problems };
}
