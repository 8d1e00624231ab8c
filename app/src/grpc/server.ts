/**
 * The gRPC edge (api role, GRPC_PORT, default 9090), served with @grpc/grpc-js from the published
 * protos: goticket.v1.EventService and goticket.v1.BookingService as thin calls into the same
 * services as REST and GraphQL, plus the standard grpc.health.v1.Health (SERVING while the
 * process is ready, NOT_SERVING once it is not or shutdown began) and server reflection.
 *
 * Every RPC goes through one wrapper (`rpc`, this edge's interceptor): trace context from the
 * metadata and a server span; the caller's deadline and cancellation as the call signal
 * (call-scope.ts: an expired deadline stops the PostgreSQL statement); authentication from
 * `authorization` metadata with the parser REST uses, once per call; REST's rate limits (one
 * anonymous point per call without a valid token, one read point of the user's reads limit per
 * reading RPC of a signed-in caller, one write point per writing RPC); errors from
 * the error table (status.ts); `grpc_server_handled_total` and `grpc_server_handling_seconds`
 * (bounded labels: only the methods the protos declare) and one log line per call with its
 * request id and trace id.
 *
 * GetEvent, the hot read, answers a cached read as REST does: with bytes this process already
 * holds (the encoded GetEventResponse kept beside the event's fresh JSON copy, dropped with it),
 * through the same wrapper, so the charge, statuses, metrics, log line and span are the same.
 */
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context as otelContext, propagation, trace } from '@opentelemetry/api';
import { regexes, type z } from 'zod';
import { assertCallOpen, withCallSignal } from '../call-scope';
import { UnauthenticatedError, ValidationError } from '../domain/errors';
import type { Booking, BookingStatus } from '../domain/booking';
import type { Event } from '../domain/event';
import type { Actor } from '../domain/user';
import { bearerToken } from '../http/authentication';
import { requestIdOf } from '../http/middleware';
import { isFreeRefusal, type WriteCharge } from '../http/rate-limit';
import { parseInput } from '../http/route';
import { BookingCreateBody, BookingListQuery, BookingPayBody, EventListQuery, IdempotencyHeaders, IdParams } from '../http/schemas';
import { FailureReporter } from '../observability/failures';
import { logContext, type Logger } from '../observability/logger';
import { cacheLookups, grpcHandled, grpcHandlingSeconds } from '../observability/metrics';
import type { HealthCheck } from '../ports';
import type { AuthService } from '../services/auth';
import type { BookingService } from '../services/bookings';
import type { CallContext } from '../services/context';
import type { EventService } from '../services/events';
import { loadProtos } from './protos';
import { toServiceError } from './status';

export interface GrpcDeps {
  services: { auth: AuthService; events: EventService; bookings: BookingService };
  logger: Logger;
  /** The REST rate limits (absent: none). */
  limits?: {
    anonymousCall(ip: string): Promise<void>;
    readCall(userId: string): Promise<void>;
    writeCall(userId: string): Promise<WriteCharge>;
  };
  /** Readiness checks (the REST /healthz/ready set): SERVING while every critical one answers. */
  health: HealthCheck[];
  isShuttingDown: () => boolean;
  /** Largest request message (default 100 KiB, as BODY_LIMIT). */
  maxReceiveBytes?: number;
  /** How often readiness is re-checked for the health service (default 2 s). */
  healthIntervalMs?: number;
  /** Log line of every Nth call answered from memory (ACCESS_LOG_CACHED_READ_EVERY, as REST's cached reads; default 1: all). */
  accessLogCachedReadEvery?: number;
}

export const PACKAGE = 'goticket.v1';
/** Time an answered call's status gets to reach the client before the drain cuts the streams left. */
const FLUSH_MS = 250;
const tracer = trace.getTracer('goticket-grpc');

/** Server options: message sizes, keepalive and connection limits (see docs/runbooks/GoTicketGrpcErrorRatio.md). */
export function serverOptions(maxReceiveBytes: number): grpc.ServerOptions {
  return {
    'grpc.max_receive_message_length': maxReceiveBytes,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
    // Pings an idle connection every 2 min and drops it when no answer comes in 20 s.
    'grpc.keepalive_time_ms': 120_000,
    'grpc.keepalive_timeout_ms': 20_000,
    // Connections are recycled so load spreads after a scale-up; in-flight calls get 30 s to finish.
    'grpc.max_connection_idle_ms': 300_000,
    'grpc.max_connection_age_ms': 1_800_000,
    'grpc.max_connection_age_grace_ms': 30_000,
    // One client cannot run more than this many calls at once on one connection (the rest wait in HTTP/2).
    'grpc.max_concurrent_streams': 100,
    // No channelz service is served: its per-call bookkeeping (counters, timestamps) would be read by no one.
    'grpc.enable_channelz': 0,
  };
}

interface RpcContext {
  /** The caller (authenticated once per call, from `authorization` metadata). */
  actor(): Promise<Actor>;
  /** Runs a writing use case for the caller, charged one write (what the REST twin costs; a free refusal gives it back). */
  write<T>(work: (actor: Actor) => Promise<T>): Promise<T>;
  /** Marks the call as answered from this process's memory: its log line is sampled as REST's cached reads are. */
  answeredFromMemory(): void;
  call: CallContext;
}

type Handler<Req, Res> = (request: Req, context: RpcContext) => Promise<Res>;

/** Timestamps as google.protobuf.Timestamp. */
function timestamp(value: Date | string): { seconds: string; nanos: number } {
  const ms = (value instanceof Date ? value : new Date(value)).getTime();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (((ms % 1000) + 1000) % 1000) * 1_000_000 };
}
function fromTimestamp(value: { seconds?: string | number; nanos?: number } | undefined): string | undefined {
  if (!value) return undefined;
  const ms = Number(value.seconds ?? 0) * 1000 + Math.floor((value.nanos ?? 0) / 1_000_000);
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? 'invalid' : date.toISOString();
}

type Dated<T> = { [K in keyof T]: T[K] extends Date ? Date | string : T[K] };
function eventMessage(event: Dated<Event>) {
  return {
    id: event.id,
    name: event.name,
    description: event.description,
    venue: event.venue,
    starts_at: timestamp(event.startsAt),
    ends_at: timestamp(event.endsAt),
    price_cents: event.priceCents,
    currency: event.currency,
    capacity: event.capacity,
    available: event.available,
    organizer_id: event.organizerId,
    created_at: timestamp(event.createdAt),
    updated_at: timestamp(event.updatedAt),
  };
}
const STATUS_NAME = (status: BookingStatus) => `BOOKING_STATUS_${status.toUpperCase()}`;
function bookingMessage(booking: Booking) {
  return {
    id: booking.id,
    event_id: booking.eventId,
    user_id: booking.userId,
    quantity: booking.quantity,
    amount_cents: booking.amountCents,
    status: STATUS_NAME(booking.status),
    expires_at: timestamp(booking.expiresAt),
    created_at: timestamp(booking.createdAt),
    updated_at: timestamp(booking.updatedAt),
  };
}

/** REST's names → the proto fields they come from, for field violations. */
const FIELD_OF: Record<string, string> = {
  limit: 'page_size',
  cursor: 'page_token',
  minPrice: 'min_price',
  maxPrice: 'max_price',
  'idempotency-key': 'idempotency_key',
  paymentMethod: 'payment_method',
};

/** Validates with the REST edge's schema; violations name the proto fields. */
function valid<T extends z.ZodType>(schema: T, value: Record<string, unknown>, names: Record<string, string> = {}): z.output<T> {
  const present = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== ''));
  try {
    return parseInput(schema, present, 'request')!;
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const field = (path: string) => {
      const name = path.replace(/^request\./, '');
      return names[name] ?? FIELD_OF[name] ?? name;
    };
    throw new ValidationError(
      error.message,
      error.fields.map((violation) => ({ ...violation, path: field(violation.path) })),
    );
  }
}
const pageSize = (size: number | undefined) => (size === undefined || size === 0 ? undefined : String(size));
/** The pattern of IdParams' z.uuid() (36 characters, as its max): an id it accepts, checked without a parse. */
const UUID = regexes.uuid();

interface Peer {
  getPeer(): string;
}
/** The client's IP from grpc-js's peer string (`ipv4:1.2.3.4:5678`, `[::1]:5678`, `1.2.3.4:5678`). */
function ipOfPeer(raw: string): string {
  const peer = raw.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]/.exec(peer);
  if (bracketed) return bracketed[1]!;
  const colon = peer.lastIndexOf(':');
  return colon > 0 && peer.indexOf(':') === colon ? peer.slice(0, colon) : peer;
}
/** The last peer seen and its IP: the calls of one connection come in runs, with one peer string. */
let lastPeer = { raw: '', ip: '' };
function peerIp(call: Peer): string {
  const raw = call.getPeer();
  if (raw !== lastPeer.raw) lastPeer = { raw, ip: ipOfPeer(raw) };
  return lastPeer.ip;
}

export function createGrpcServer(deps: GrpcDeps) {
  const failures = new FailureReporter(deps.logger);
  const { auth, events, bookings } = deps.services;
  const definition = loadProtos();
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    goticket: { v1: Record<string, { service: grpc.ServiceDefinition }> };
  };

  /** Unary calls being answered, and who waits for their count to reach 0 (drain). */
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const every = Math.max(1, Math.floor(deps.accessLogCachedReadEvery ?? 1));
  let fromMemory = 0;
  /** The log line of a call answered from memory: every Nth, marked with N so log-based counts can be scaled (the metrics count all). */
  const sampledLine = (): false | { sampled: number } | undefined => {
    if (every === 1) return undefined;
    if (++fromMemory < every) return false;
    fromMemory = 0;
    return { sampled: every };
  };

  /** `writes`: the RPC runs its use case through `context.write` (a write point); any other is a read. */
  function rpc<Req, Res>(
    service: string,
    method: string,
    handler: Handler<Req, Res>,
    kind: 'read' | 'writes' = 'read',
  ): grpc.handleUnaryCall<Req, Res> {
    const labels = { grpc_type: 'unary', grpc_service: `${PACKAGE}.${service}`, grpc_method: method };
    // Made once per method, not per call: the span's and the log's name, the span's options, the counter's labels per code.
    const rpcName = `${labels.grpc_service}/${method}`;
    const spanOptions = {
      kind: SpanKind.SERVER,
      attributes: { 'rpc.system': 'grpc', 'rpc.service': labels.grpc_service, 'rpc.method': method },
    };
    const handledLabels = new Map<string, typeof labels & { grpc_code: string }>();
    const handledLabelsOf = (name: string) => {
      let found = handledLabels.get(name);
      if (!found) handledLabels.set(name, (found = { ...labels, grpc_code: name }));
      return found;
    };
    return (call, callback) => {
      const started = process.hrtime.bigint();
      inFlight++;
      const requestId = requestIdOf(first(call.metadata, 'x-request-id'));
      const carrier = { traceparent: first(call.metadata, 'traceparent'), tracestate: first(call.metadata, 'tracestate') };
      const parent = carrier.traceparent ? propagation.extract(ROOT_CONTEXT, carrier) : otelContext.active();
      const controller = new AbortController();
      const deadline = call.getDeadline();
      const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
      const timer = Number.isFinite(deadlineMs) ? setTimeout(() => controller.abort(), Math.max(0, deadlineMs - Date.now())) : undefined;
      timer?.unref();
      if (Number.isFinite(deadlineMs) && deadlineMs <= Date.now()) controller.abort();
      // The client cancelling stops the work; grpc-js also says 'cancelled' once an answered call's
      // stream closes, which has nothing left to stop (the listener goes with the answer).
      const cancel = () => controller.abort();
      call.on('cancelled', cancel);
      const ip = peerIp(call);
      const header = first(call.metadata, 'authorization');
      // Authentication once per call, with the one Bearer parser: the outcome is reused by every step.
      // Without a token the UNAUTHENTICATED error is made only when a step asks for the caller (as REST).
      const parsed = bearerToken(header);
      const authenticated: Promise<Actor> | null = 'missing' in parsed ? null : auth.authenticate(parsed.token);
      authenticated?.catch(() => undefined);
      const actor = (): Promise<Actor> =>
        authenticated ?? Promise.reject(new UnauthenticatedError('missing' in parsed ? parsed.missing : ''));
      let inMemory = false;
      const context: RpcContext = {
        actor,
        answeredFromMemory: () => {
          inMemory = true;
        },
        write: async (work) => {
          const who = await actor();
          const charge = await deps.limits?.writeCall(who.userId);
          try {
            return await work(who);
          } catch (error) {
            if (charge && isFreeRefusal(error)) await charge.giveBack();
            throw error;
          }
        },
        call: { ip, requestId },
      };
      void otelContext.with(parent, () =>
        tracer.startActiveSpan(rpcName, spanOptions, (span) =>
          withCallSignal(controller.signal, () =>
            logContext.run({ request_id: requestId }, async () => {
              let code: grpc.status = grpc.status.OK;
              try {
                assertCallOpen(controller.signal);
                if (deps.limits) {
                  // REST's rules: without a valid token the client IP's limit; a signed-in read the user's reads limit.
                  const who = authenticated
                    ? await authenticated.then(
                        (found) => found,
                        () => null,
                      )
                    : null;
                  if (!who) await deps.limits.anonymousCall(ip);
                  else if (kind === 'read') await deps.limits.readCall(who.userId);
                }
                const response = await handler(call.request, context);
                assertCallOpen(controller.signal);
                callback(null, response);
              } catch (error) {
                const answer = toServiceError(error, (masked) =>
                  failures.report(masked, { source: 'http', requestId, method: 'POST', route: `/${rpcName}` }),
                );
                code = answer.code ?? grpc.status.INTERNAL;
                callback(answer);
              } finally {
                call.off('cancelled', cancel);
                if (--inFlight === 0) drained?.();
                if (timer) clearTimeout(timer);
                const seconds = Number(process.hrtime.bigint() - started) / 1e9;
                const name = grpc.status[code];
                grpcHandled.inc(handledLabelsOf(name));
                grpcHandlingSeconds.observe(labels, seconds);
                span.setAttribute('rpc.grpc.status_code', code);
                if (code !== grpc.status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: name });
                span.end();
                const sample = inMemory && code === grpc.status.OK ? sampledLine() : undefined;
                if (sample !== false)
                  deps.logger[code === grpc.status.INTERNAL ? 'error' : 'info'](
                    { rpc: rpcName, code: name, duration_ms: Math.round(seconds * 1000), ip, ...sample },
                    'rpc',
                  );
              }
            }),
          ),
        ),
      );
    };
  }

  type EventRequest = { id?: string };
  type ListEventsRequest = {
    page_size?: number;
    page_token?: string;
    from?: { seconds?: string; nanos?: number };
    to?: { seconds?: string; nanos?: number };
    min_price?: number;
    max_price?: number;
    q?: string;
  };
  type CreateBookingRequest = { event_id?: string; quantity?: number; idempotency_key?: string };
  type ListBookingsRequest = { page_size?: number; page_token?: string; status?: string };
  type PayBookingRequest = { id?: string; payment_method?: string; idempotency_key?: string };

  /**
   * GetEvent answers with the encoded GetEventResponse: its method's responseSerialize passes the
   * bytes through. A cached read sends the bytes kept beside the event's fresh JSON copy
   * (EventService.encodedPeek: invalidated with it); any other read encodes the JSON it gets, with
   * the same function, so both answers are the same bytes.
   */
  const eventDefinition = definition[`${PACKAGE}.EventService`] as grpc.ServiceDefinition;
  const getEventMethod = eventDefinition.GetEvent!;
  const encodeGetEvent = (json: string): Buffer =>
    getEventMethod.responseSerialize({ event: eventMessage(JSON.parse(json) as Dated<Event>) });
  const peekGetEvent = events.encodedPeek((json) => encodeGetEvent(json.toString()));
  // The hit the cache counts when it answers from its copy (peeking counts none).
  const eventHits = cacheLookups.labels('event', 'hit');
  const passThrough = (bytes: Buffer): Buffer => bytes;
  const eventServiceDefinition: grpc.ServiceDefinition = {
    ...eventDefinition,
    GetEvent: { ...getEventMethod, responseSerialize: passThrough },
  };

  const eventService: grpc.UntypedServiceImplementation = {
    GetEvent: rpc<EventRequest, Buffer>('EventService', 'GetEvent', async (request, context) => {
      const asked = request.id ?? '';
      const cached = UUID.test(asked) ? peekGetEvent(asked) : undefined;
      if (cached) {
        eventHits.inc();
        context.answeredFromMemory();
        return cached;
      }
      const { id } = valid(IdParams, { id: asked });
      return encodeGetEvent(await events.getJson(id));
    }),
    ListEvents: rpc<ListEventsRequest, unknown>('EventService', 'ListEvents', async (request) => {
      const query = valid(EventListQuery, {
        limit: pageSize(request.page_size),
        cursor: request.page_token,
        from: fromTimestamp(request.from),
        to: fromTimestamp(request.to),
        minPrice: request.min_price === undefined ? undefined : String(request.min_price),
        maxPrice: request.max_price === undefined ? undefined : String(request.max_price),
        q: request.q,
      });
      const page = JSON.parse(await events.listJson(query)) as { items: Array<Dated<Event>>; nextCursor: string | null };
      return { events: page.items.map(eventMessage), next_page_token: page.nextCursor ?? '' };
    }),
  };

  const idOf = (request: EventRequest) => valid(IdParams, { id: request.id ?? '' }).id;
  const bookingService: grpc.UntypedServiceImplementation = {
    CreateBooking: rpc<CreateBookingRequest, unknown>(
      'BookingService',
      'CreateBooking',
      (request, context) =>
        context.write(async (actor) => {
          const { id: eventId } = valid(IdParams, { id: request.event_id ?? '' }, { id: 'event_id' });
          const { quantity } = valid(BookingCreateBody, { quantity: request.quantity ?? 0 });
          const key = valid(IdempotencyHeaders, { 'idempotency-key': request.idempotency_key })['idempotency-key'];
          const { booking, replayed } = await bookings.book(actor, eventId, quantity, key);
          return { booking: bookingMessage(booking), replayed };
        }),
      'writes',
    ),
    GetBooking: rpc<EventRequest, unknown>('BookingService', 'GetBooking', async (request, context) => {
      const actor = await context.actor();
      return { booking: bookingMessage(await bookings.get(actor, idOf(request))) };
    }),
    ListBookings: rpc<ListBookingsRequest, unknown>('BookingService', 'ListBookings', async (request, context) => {
      const actor = await context.actor();
      const status =
        request.status && request.status !== 'BOOKING_STATUS_UNSPECIFIED'
          ? request.status.replace(/^BOOKING_STATUS_/, '').toLowerCase()
          : undefined;
      const query = valid(BookingListQuery, { limit: pageSize(request.page_size), cursor: request.page_token, status });
      const page = await bookings.list(actor, query);
      return { bookings: page.items.map(bookingMessage), next_page_token: page.nextCursor ?? '' };
    }),
    ConfirmBooking: rpc<EventRequest, unknown>(
      'BookingService',
      'ConfirmBooking',
      (request, context) =>
        context.write(async (actor) => ({ booking: bookingMessage(await bookings.confirm(actor, idOf(request), context.call)) })),
      'writes',
    ),
    PayBooking: rpc<PayBookingRequest, unknown>(
      'BookingService',
      'PayBooking',
      (request, context) =>
        context.write(async (actor) => {
          const id = idOf(request);
          const { paymentMethod } = valid(BookingPayBody, { paymentMethod: request.payment_method ?? '' });
          const key = valid(IdempotencyHeaders, { 'idempotency-key': request.idempotency_key })['idempotency-key'];
          const { booking, replayed } = await bookings.pay(actor, id, paymentMethod, key);
          return { booking: bookingMessage(booking), replayed };
        }),
      'writes',
    ),
    CancelBooking: rpc<EventRequest, unknown>(
      'BookingService',
      'CancelBooking',
      (request, context) =>
        context.write(async (actor) => ({ booking: bookingMessage(await bookings.cancel(actor, idOf(request), context.call)) })),
      'writes',
    ),
  };

  const server = new grpc.Server(serverOptions(deps.maxReceiveBytes ?? 100 * 1024));
  server.addService(eventServiceDefinition, eventService);
  server.addService(loaded.goticket.v1.BookingService!.service, bookingService);
  const SERVICES = ['', `${PACKAGE}.EventService`, `${PACKAGE}.BookingService`];
  const health = new HealthImplementation(Object.fromEntries(SERVICES.map((name) => [name, 'NOT_SERVING' as const])));
  health.addToServer(server);
  // Reflection describes the health service too (grpcurl list shows it).
  new ReflectionService({ ...definition, ...protoLoader.loadSync(healthProtoPath, { keepCase: true }) }).addToServer(server);

  let stopped = false;
  const setAll = (status: 'SERVING' | 'NOT_SERVING') => SERVICES.forEach((name) => health.setStatus(name, status));
  const refresh = async () => {
    if (stopped) return;
    if (deps.isShuttingDown()) return setAll('NOT_SERVING');
    const results = await Promise.all(
      deps.health.map(async (check) => ({ check, status: await check.check().catch(() => 'down' as const) })),
    );
    if (stopped) return;
    setAll(results.every(({ check, status }) => status !== 'down' || !check.critical) ? 'SERVING' : 'NOT_SERVING');
  };
  let poller: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;

  return {
    server,
    /** Binds and starts answering; resolves with the bound port (0 picks one). */
    async listen(host: string, port: number): Promise<number> {
      const bound = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, actual) =>
          error ? reject(error) : resolve(actual),
        ),
      );
      await refresh();
      poller = setInterval(() => void refresh(), deps.healthIntervalMs ?? 2_000);
      poller.unref();
      return bound;
    },
    /** Re-reads readiness now (tests; the poller does it every healthIntervalMs). */
    refreshHealth: refresh,
    /**
     * Graceful drain: NOT_SERVING at once (balancers and health-checking clients move away), no new
     * calls, in-flight unary calls finish; then open streams (health Watch, reflection) are ended.
     * After `graceMs` whatever is left is cancelled.
     */
    close(graceMs = 10_000): Promise<void> {
      closing ??= drain(graceMs);
      return closing;
    },
  };

  async function drain(graceMs: number): Promise<void> {
    setAll('NOT_SERVING');
    stopped = true;
    if (poller) clearInterval(poller);
    await new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(force);
        server.forceShutdown();
        resolve();
      };
      const force = setTimeout(finish, graceMs);
      force.unref();
      server.tryShutdown(finish);
      // Streams never end by themselves: once the last unary call is answered (and its status
      // has had time to reach the wire: forceShutdown resets streams still flushing), the rest are cut.
      const soon = () => setTimeout(finish, FLUSH_MS).unref();
      if (inFlight === 0) soon();
      else drained = soon;
    });
  }
}

export type GrpcEdge = ReturnType<typeof createGrpcServer>;

function first(metadata: grpc.Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}
