/**
 * A small in-memory stand-in for the GoTicket HTTP contract (DESIGN.md), only for testing
 * scripts/smoke.ts itself. Faults can be switched on to prove the smoke test catches them.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';

export interface Faults {
  /** skip the seat check: bookings succeed past capacity */
  oversell?: boolean;
  /** skip the seat check only after this many booking requests (the burst, not the journey) */
  oversellAfter?: number;
  /** answer 500 to the Nth booking request */
  error500OnBooking?: number;
  /** ignore Idempotency-Key */
  ignoreIdempotency?: boolean;
  /** answer 429 to every Nth booking request */
  throttleEvery?: number;
}

interface User {
  id: string;
  email: string;
  password: string;
  role: string;
}
interface Event {
  id: string;
  organizerId: string;
  capacity: number;
  available: number;
  priceCents: number;
  [key: string]: unknown;
}
interface Booking {
  id: string;
  eventId: string;
  userId: string;
  quantity: number;
  amountCents: number;
  status: string;
  key?: string;
}

export const ADMIN = { email: 'admin@example.com', password: 'admin-password-123' };

export async function startFakeApi(faults: Faults = {}): Promise<{ url: string; server: Server; bookings: Map<string, Booking> }> {
  const users = new Map<string, User>([['admin', { id: 'admin', ...ADMIN, role: 'admin' }]]);
  const tokens = new Map<string, string>();
  const events = new Map<string, Event>();
  const bookings = new Map<string, Booking>();
  let bookingRequests = 0;

  const send = (res: ServerResponse, status: number, body?: unknown) => {
    const problem = status >= 400;
    res.writeHead(status, {
      'content-type': problem ? 'application/problem+json' : 'application/json',
      'x-request-id': String(res.req.headers['x-request-id'] ?? randomUUID()),
    });
    res.end(
      body === undefined
        ? ''
        : JSON.stringify(problem ? { type: 'about:blank', title: typeof body === 'string' ? body : JSON.stringify(body), status } : body),
    );
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    const user = users.get(tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, '')) ?? '');
    const route = `${req.method} ${path.replace(/\/[0-9a-f-]{36}(?=\/|$)/g, '/:id')}`;
    const id = path.match(/[0-9a-f-]{36}/)?.[0] ?? '';

    switch (route) {
      // What the Gateway's HTTPRoute exposes: /openapi.json yes, /healthz no (it stays in the cluster).
      case 'GET /openapi.json':
        return send(res, 200, { openapi: '3.1.0' });
      case 'POST /api/v1/auth/register': {
        if ([...users.values()].some((u) => u.email === body.email)) return send(res, 409, 'duplicate');
        const created: User = { id: randomUUID(), email: String(body.email), password: String(body.password), role: 'user' };
        users.set(created.id, created);
        return send(res, 201, { id: created.id, email: created.email, role: created.role });
      }
      case 'POST /api/v1/auth/login': {
        const found = [...users.values()].find((u) => u.email === body.email && u.password === body.password);
        if (!found) return send(res, 401, 'bad credentials');
        const token = randomUUID();
        tokens.set(token, found.id);
        return send(res, 200, { accessToken: token, refreshToken: randomUUID(), tokenType: 'Bearer', expiresIn: 900 });
      }
    }
    if (route === 'GET /api/v1/events/:id') {
      const event = events.get(id);
      return event ? send(res, 200, event) : send(res, 404, 'not found');
    }
    if (!user) return send(res, 401, 'unauthorized');
    switch (route) {
      case 'GET /api/v1/users/me':
        return send(res, 200, { id: user.id, email: user.email, role: user.role });
      case 'PATCH /api/v1/users/:id/role': {
        if (user.role !== 'admin') return send(res, 403, 'forbidden');
        const target = users.get(id);
        if (!target) return send(res, 404, 'not found');
        target.role = String(body.role);
        return send(res, 200, { id: target.id, email: target.email, role: target.role });
      }
      case 'POST /api/v1/events': {
        if (user.role !== 'organizer' && user.role !== 'admin') return send(res, 403, 'forbidden');
        const event: Event = {
          ...body,
          id: randomUUID(),
          organizerId: user.id,
          capacity: Number(body.capacity),
          available: Number(body.capacity),
          priceCents: Number(body.priceCents),
        };
        events.set(event.id, event);
        return send(res, 201, event);
      }
      case 'POST /api/v1/events/:id/bookings': {
        bookingRequests++;
        if (faults.error500OnBooking === bookingRequests) return send(res, 500, 'boom');
        if (faults.throttleEvery && bookingRequests % faults.throttleEvery === 0) return send(res, 429, 'slow down');
        const event = events.get(id);
        if (!event) return send(res, 404, 'not found');
        const key = req.headers['idempotency-key'];
        const existing = [...bookings.values()].find((b) => b.key !== undefined && b.key === key && b.userId === user.id);
        if (existing && !faults.ignoreIdempotency) return send(res, 200, existing);
        const quantity = Number(body.quantity);
        const oversell = faults.oversell || (faults.oversellAfter !== undefined && bookingRequests > faults.oversellAfter);
        if (!oversell && event.available < quantity) return send(res, 409, 'sold out');
        event.available = Math.max(0, event.available - quantity);
        const booking: Booking = {
          id: randomUUID(),
          eventId: id,
          userId: user.id,
          quantity,
          amountCents: quantity * event.priceCents,
          status: 'pending',
          key: typeof key === 'string' ? key : undefined,
        };
        bookings.set(booking.id, booking);
        return send(res, 201, booking);
      }
      case 'GET /api/v1/bookings': {
        const mine = [...bookings.values()].filter((b) => b.userId === user.id);
        const start = Number(url.searchParams.get('cursor') ?? 0);
        const page = mine.slice(start, start + 20);
        return send(res, 200, { items: page, nextCursor: start + 20 < mine.length ? String(start + 20) : null });
      }
      case 'GET /api/v1/bookings/:id': {
        const booking = bookings.get(id);
        // the payments saga's answer: a paid booking is confirmed by the time it is read again
        if (booking?.status === 'payment_pending') booking.status = 'confirmed';
        return booking && booking.userId === user.id ? send(res, 200, booking) : send(res, 404, 'not found');
      }
      case 'POST /api/v1/bookings/:id/pay': {
        const booking = bookings.get(id);
        if (!booking || booking.userId !== user.id) return send(res, 404, 'not found');
        if (booking.status !== 'pending') return send(res, 409, 'not pending');
        booking.status = 'payment_pending';
        return send(res, 202, booking);
      }
      case 'POST /api/v1/bookings/:id/confirm':
      case 'POST /api/v1/bookings/:id/cancel': {
        const booking = bookings.get(id);
        if (!booking || booking.userId !== user.id) return send(res, 404, 'not found');
        if (route.endsWith('cancel')) {
          if (booking.status !== 'cancelled') events.get(booking.eventId)!.available += booking.quantity;
          booking.status = 'cancelled';
        } else booking.status = 'confirmed';
        return send(res, 200, booking);
      }
    }
    return send(res, 404, `no route ${route}`);
  };

  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => handle(req, res, raw));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, bookings };
}
