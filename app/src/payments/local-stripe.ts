/**
 * A local Stripe-compatible HTTP server. It stands in for Stripe, which cannot be reached from
 * here: the tests and `make run` (no STRIPE_API_KEY outside production) point the official SDK at
 * it through STRIPE_API_BASE. It speaks the part of Stripe's wire format the payments service uses:
 *
 * - form-encoded requests (`metadata[booking_id]=…`), `Authorization: Bearer sk_test_…`, JSON
 *   answers and Stripe's error objects (`{error: {type, code, decline_code, payment_intent}}`);
 * - POST /v1/payment_intents (create + confirm), GET /v1/payment_intents/:id, POST /v1/refunds;
 * - Idempotency-Key: a repeated key with the same parameters replays the stored answer
 *   (`Idempotent-Replayed: true`), with other parameters is a 400 idempotency_error, while the first
 *   is still running a 409; answers of requests that never ran (5xx, outage) are not stored;
 * - Stripe's test payment methods: pm_card_visa (and any other pm_…) succeeds,
 *   pm_card_chargeDeclined, pm_card_chargeDeclinedInsufficientFunds, pm_card_chargeDeclinedExpiredCard
 *   are declined (402 card_error); pm_card_processing stays `processing` and settles later;
 * - faults to test against: a decline rate, random latency, a rate of 500s, bursts of 500s, an
 *   outage (503), and timeouts (the request runs, its answer never comes: the retry must replay it);
 * - signed webhooks it posts back (Stripe-Signature `t=…,v1=HMAC-SHA256(secret, "t.payload")`):
 *   payment_intent.succeeded, payment_intent.payment_failed, charge.refunded.
 *
 * It counts what a test must check at the provider: intents per booking, captured and refunded sums.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalStripeOptions {
  host?: string;
  port?: number;
  /** Fraction (0..1) of otherwise successful charges declined (generic_decline). */
  declineRate?: number;
  /** Random latency of every request, uniformly in [minLatencyMs, maxLatencyMs]. */
  minLatencyMs?: number;
  maxLatencyMs?: number;
  /** Fraction (0..1) of requests answered 500 without running. */
  errorRate?: number;
  /** Fraction (0..1) of requests that run but whose answer never comes (the client times out). */
  timeoutRate?: number;
  /** pm_card_processing intents settle (succeed) after this long. */
  settleAfterMs?: number;
  /** Where signed webhooks go (POST), and the secret that signs them. */
  webhookUrl?: string;
  webhookSecret?: string;
  /** Pseudo-random seed (faults are reproducible). */
  seed?: number;
  /** Keep a log of every request (`calls`: route, booking, received and answered times); off by default (it grows). */
  recordCalls?: boolean;
}

/** One request as the server saw it (with `recordCalls`). Times are Date.now() milliseconds. */
export interface ProviderCall {
  route: string;
  /** metadata[booking_id] of a create, the Idempotency-Key otherwise. */
  key: string | null;
  receivedAt: number;
  answeredAt: number | null;
  status: number | null;
  /** Requests in flight (received, not yet answered) when this one arrived, itself included. */
  inFlightAtArrival: number;
}

interface Intent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_received: number;
  currency: string;
  status: 'succeeded' | 'processing' | 'requires_payment_method' | 'canceled';
  payment_method: string;
  metadata: Record<string, string>;
  last_payment_error: null | { type: 'card_error'; code: string; decline_code: string; message: string };
  latest_charge: string;
  created: number;
  livemode: false;
}

interface Refund {
  id: string;
  object: 'refund';
  amount: number;
  currency: string;
  payment_intent: string;
  charge: string;
  status: 'succeeded';
  metadata: Record<string, string>;
  created: number;
}

interface Stored {
  fingerprint: string;
  status: number;
  body: string;
}

const DECLINES: Record<string, string> = {
  pm_card_chargeDeclined: 'generic_decline',
  pm_card_visa_chargeDeclined: 'generic_decline',
  pm_card_chargeDeclinedInsufficientFunds: 'insufficient_funds',
  pm_card_chargeDeclinedExpiredCard: 'expired_card',
  pm_card_chargeDeclinedFraudulent: 'fraudulent',
};

/** Stripe's form encoding: `a[b][c]=v` → {a: {b: {c: v}}}. */
export function parseForm(body: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.split('[').map((part) => part.replace(/\]$/, ''));
    let node = out;
    for (const [i, part] of path.entries()) {
      if (i === path.length - 1) node[part] = value;
      else node = (node[part] ??= {}) as Record<string, unknown>;
    }
  }
  return out;
}

/** mulberry32: small, seeded, good enough for fault injection. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

export class LocalStripe {
  readonly options: Required<Omit<LocalStripeOptions, 'webhookUrl' | 'webhookSecret' | 'recordCalls'>> &
    Pick<LocalStripeOptions, 'webhookUrl' | 'webhookSecret'>;
  private server: Server | null = null;
  private readonly random: () => number;
  private readonly intents = new Map<string, Intent>();
  private readonly refundsByIntent = new Map<string, Refund>();
  private readonly idempotency = new Map<string, Stored | 'running'>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly hanging = new Set<ServerResponse>();
  private failBurst = 0;
  private outageUntil = 0;
  private webhooksInFlight = new Set<Promise<void>>();
  /** Requests received, by `METHOD path` (tests and reports). */
  readonly requests = new Map<string, number>();
  /** Requests received and not yet answered, and the most there ever were at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** Every request with its times, when constructed with `recordCalls`. */
  readonly calls: ProviderCall[] = [];
  private readonly recordCalls: boolean;
  /** Webhook deliveries that did not get a 2xx after their retries. */
  webhookFailures = 0;
  webhooksDelivered = 0;
  /** Faults it served (tests and reports): 500s (rate and bursts), 503s of an outage, declined charges, answers withheld. */
  readonly faults = { errors: 0, outage: 0, declines: 0, timeouts: 0 };

  constructor(options: LocalStripeOptions = {}) {
    this.options = {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      declineRate: options.declineRate ?? 0,
      minLatencyMs: options.minLatencyMs ?? 0,
      maxLatencyMs: options.maxLatencyMs ?? options.minLatencyMs ?? 0,
      errorRate: options.errorRate ?? 0,
      timeoutRate: options.timeoutRate ?? 0,
      settleAfterMs: options.settleAfterMs ?? 1_000,
      seed: options.seed ?? 20,
      webhookUrl: options.webhookUrl,
      webhookSecret: options.webhookSecret,
    };
    this.random = prng(this.options.seed);
    this.recordCalls = options.recordCalls ?? false;
  }

  /** Listens; resolves to its base URL (for STRIPE_API_BASE). */
  async start(): Promise<string> {
    const server = createServer((req, res) => void this.serve(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    this.server = server;
    return this.url;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error('local Stripe server is not listening');
    return `http://${this.options.host}:${address.port}`;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    await Promise.allSettled([...this.webhooksInFlight]);
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next `n` requests are answered 500 without running. */
  failNext(n: number): void {
    this.failBurst += n;
  }

  /** Every request is answered 503 for `ms` (a provider outage). */
  outage(ms: number): void {
    this.outageUntil = Date.now() + ms;
  }

  endOutage(): void {
    this.outageUntil = 0;
  }

  /** Changes fault settings while running. */
  configure(
    patch: Partial<
      Pick<
        LocalStripeOptions,
        'declineRate' | 'minLatencyMs' | 'maxLatencyMs' | 'errorRate' | 'timeoutRate' | 'webhookUrl' | 'webhookSecret'
      >
    >,
  ): void {
    Object.assign(this.options, patch);
  }

  /** Intents created per booking (metadata[booking_id]): more than one is a double charge. */
  intentsPerBooking(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const intent of this.intents.values()) {
      const booking = intent.metadata.booking_id ?? '';
      counts.set(booking, (counts.get(booking) ?? 0) + 1);
    }
    return counts;
  }

  allIntents(): Intent[] {
    return [...this.intents.values()];
  }

  /** Captured minus refunded, in minor units (all currencies summed: tests use one). */
  totals(): { captured: number; refunded: number; intents: number; refunds: number } {
    let captured = 0;
    for (const intent of this.intents.values()) captured += intent.amount_received;
    let refunded = 0;
    for (const refund of this.refundsByIntent.values()) refunded += refund.amount;
    return { captured, refunded, intents: this.intents.size, refunds: this.refundsByIntent.size };
  }

  /** Settles a processing intent now (succeeded or failed), posting its webhook. */
  settle(intentId: string, outcome: 'succeeded' | 'failed' = 'succeeded'): void {
    const intent = this.intents.get(intentId);
    if (!intent || intent.status !== 'processing') return;
    if (outcome === 'succeeded') {
      intent.status = 'succeeded';
      intent.amount_received = intent.amount;
    } else {
      intent.status = 'requires_payment_method';
      intent.last_payment_error = {
        type: 'card_error',
        code: 'card_declined',
        decline_code: 'generic_decline',
        message: 'Your card was declined.',
      };
    }
    this.emit(outcome === 'succeeded' ? 'payment_intent.succeeded' : 'payment_intent.payment_failed', intent);
  }

  /** Signs a payload as Stripe does: `t=<unix>,v1=<hex HMAC-SHA256(secret, "t.payload")>`. */
  static sign(payload: string, secret: string, timestamp = now()): string {
    return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${payload}`).digest('hex')}`;
  }

  /** A Stripe event object as webhooks carry it. */
  static event(
    type: string,
    object: unknown,
    eventId = id('evt'),
  ): { id: string; object: 'event'; type: string; created: number; api_version: string; data: { object: unknown }; livemode: false } {
    return { id: eventId, object: 'event', type, created: now(), api_version: '2026-10-28.endive', data: { object }, livemode: false };
  }

  // ---------------------------------------------------------------- HTTP

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const call: ProviderCall = {
      route: '',
      key: null,
      receivedAt: Date.now(),
      answeredAt: null,
      status: null,
      inFlightAtArrival: this.inFlight,
    };
    let counted = true;
    const answered = () => {
      if (!counted) return;
      counted = false;
      this.inFlight -= 1;
      call.answeredAt = Date.now();
      call.status = res.statusCode;
    };
    res.once('finish', answered);
    res.once('close', answered);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://local');
    const route = `${req.method} ${url.pathname.replace(/\/(pi|re)_[a-f0-9]+$/, '/:id')}`;
    this.requests.set(route, (this.requests.get(route) ?? 0) + 1);
    if (this.recordCalls) {
      call.route = route;
      const bookingId = /(?:^|&)metadata%5Bbooking_id%5D=([^&]+)/.exec(body)?.[1];
      const key = req.headers['idempotency-key'];
      call.key = bookingId ? decodeURIComponent(bookingId) : typeof key === 'string' ? key : null;
      this.calls.push(call);
    }
    await this.latency();
    res.setHeader('Request-Id', id('req'));
    if (!/^Bearer (sk|rk)_test_\w+$/.test(req.headers.authorization ?? '')) {
      return this.send(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } });
    }
    if (Date.now() < this.outageUntil) {
      this.faults.outage += 1;
      return this.send(res, 503, { error: { type: 'api_error', message: 'Service unavailable (simulated outage).' } });
    }
    if (this.failBurst > 0 || (this.options.errorRate > 0 && this.random() < this.options.errorRate)) {
      if (this.failBurst > 0) this.failBurst -= 1;
      this.faults.errors += 1;
      return this.send(res, 500, { error: { type: 'api_error', message: 'An unknown error occurred (simulated).' } });
    }
    const params = parseForm(body);
    const key = req.headers['idempotency-key'];
    const scopedKey = typeof key === 'string' && req.method === 'POST' ? `${url.pathname}:${key}` : null;
    const fingerprint = createHash('sha256').update(`${req.method} ${url.pathname} ${body}`).digest('hex');
    if (scopedKey) {
      const stored = this.idempotency.get(scopedKey);
      if (stored === 'running') {
        return this.send(res, 409, {
          error: {
            type: 'idempotency_error',
            code: 'idempotency_key_in_use',
            message: 'There is currently another in-progress request using this Idempotency Key.',
          },
        });
      }
      if (stored) {
        if (stored.fingerprint !== fingerprint) {
          return this.send(res, 400, {
            error: {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key as string}'.`,
            },
          });
        }
        res.setHeader('Idempotent-Replayed', 'true');
        return this.sendRaw(res, stored.status, stored.body);
      }
      this.idempotency.set(scopedKey, 'running');
    }
    let status: number;
    let answer: unknown;
    try {
      [status, answer] = this.execute(req.method ?? 'GET', url.pathname, params);
    } catch (error) {
      [status, answer] = [500, { error: { type: 'api_error', message: (error as Error).message } }];
    }
    const text = JSON.stringify(answer);
    if (scopedKey) this.idempotency.set(scopedKey, { fingerprint, status, body: text });
    if (this.options.timeoutRate > 0 && this.random() < this.options.timeoutRate) {
      // It ran (and is stored for the key); the answer is lost: the client's retry must replay it.
      this.faults.timeouts += 1;
      this.hanging.add(res);
      res.once('close', () => this.hanging.delete(res));
      return;
    }
    this.sendRaw(res, status, text);
  }

  private execute(method: string, path: string, params: Record<string, unknown>): [number, unknown] {
    if (method === 'POST' && path === '/v1/payment_intents') return this.createIntent(params);
    const retrieve = /^\/v1\/payment_intents\/(pi_[a-f0-9]+)$/.exec(path);
    if (method === 'GET' && retrieve) {
      const intent = this.intents.get(retrieve[1]!);
      return intent
        ? [200, intent]
        : [
            404,
            { error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such payment_intent: '${retrieve[1]}'` } },
          ];
    }
    if (method === 'POST' && path === '/v1/refunds') return this.createRefund(params);
    return [404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path}).` } }];
  }

  private createIntent(params: Record<string, unknown>): [number, unknown] {
    const amount = Number(params.amount);
    const currency = typeof params.currency === 'string' ? params.currency : '';
    const method = typeof params.payment_method === 'string' ? params.payment_method : '';
    if (!Number.isInteger(amount) || amount < 1)
      return [400, { error: { type: 'invalid_request_error', param: 'amount', message: 'Invalid integer: amount' } }];
    if (!/^[a-z]{3}$/.test(currency))
      return [400, { error: { type: 'invalid_request_error', param: 'currency', message: 'Invalid currency' } }];
    if (!/^pm_\w+$/.test(method))
      return [400, { error: { type: 'invalid_request_error', param: 'payment_method', message: `No such PaymentMethod: '${method}'` } }];
    const metadata = (typeof params.metadata === 'object' && params.metadata !== null ? params.metadata : {}) as Record<string, string>;
    const intent: Intent = {
      id: id('pi'),
      object: 'payment_intent',
      amount,
      amount_received: 0,
      currency,
      status: 'processing',
      payment_method: method,
      metadata,
      last_payment_error: null,
      latest_charge: id('ch'),
      created: now(),
      livemode: false,
    };
    this.intents.set(intent.id, intent);
    if (params.confirm !== 'true') {
      intent.status = 'requires_payment_method';
      return [200, intent];
    }
    const decline =
      DECLINES[method] ?? (method !== 'pm_card_processing' && this.random() < this.options.declineRate ? 'generic_decline' : undefined);
    if (decline) {
      this.faults.declines += 1;
      intent.status = 'requires_payment_method';
      intent.last_payment_error = { type: 'card_error', code: 'card_declined', decline_code: decline, message: 'Your card was declined.' };
      this.emit('payment_intent.payment_failed', intent);
      return [402, { error: { ...intent.last_payment_error, payment_intent: intent, charge: intent.latest_charge } }];
    }
    if (method === 'pm_card_processing') {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.settle(intent.id, 'succeeded');
      }, this.options.settleAfterMs);
      this.timers.add(timer);
      return [200, intent];
    }
    intent.status = 'succeeded';
    intent.amount_received = amount;
    this.emit('payment_intent.succeeded', intent);
    return [200, intent];
  }

  private createRefund(params: Record<string, unknown>): [number, unknown] {
    const intent = typeof params.payment_intent === 'string' ? this.intents.get(params.payment_intent) : undefined;
    if (!intent)
      return [
        404,
        { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'payment_intent', message: 'No such payment_intent' } },
      ];
    if (intent.status !== 'succeeded')
      return [
        400,
        { error: { type: 'invalid_request_error', code: 'charge_not_captured', message: 'This PaymentIntent has nothing to refund.' } },
      ];
    if (this.refundsByIntent.has(intent.id)) {
      return [
        400,
        {
          error: {
            type: 'invalid_request_error',
            code: 'charge_already_refunded',
            message: `Charge ${intent.latest_charge} has already been refunded.`,
          },
        },
      ];
    }
    const metadata = (typeof params.metadata === 'object' && params.metadata !== null ? params.metadata : {}) as Record<string, string>;
    const refund: Refund = {
      id: id('re'),
      object: 'refund',
      amount: intent.amount_received,
      currency: intent.currency,
      payment_intent: intent.id,
      charge: intent.latest_charge,
      status: 'succeeded',
      metadata,
      created: now(),
    };
    this.refundsByIntent.set(intent.id, refund);
    this.emit('charge.refunded', {
      id: intent.latest_charge,
      object: 'charge',
      amount: intent.amount,
      amount_refunded: refund.amount,
      refunded: true,
      payment_intent: intent.id,
      metadata: intent.metadata,
      refunds: { object: 'list', data: [refund] },
    });
    return [200, refund];
  }

  private async latency(): Promise<void> {
    const { minLatencyMs: min, maxLatencyMs: max } = this.options;
    const ms = min + (max - min) * this.random();
    if (ms <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    this.sendRaw(res, status, JSON.stringify(body));
  }

  private sendRaw(res: ServerResponse, status: number, body: string): void {
    if (res.destroyed) return;
    res.writeHead(status, { 'Content-Type': 'application/json', 'Stripe-Version': '2026-10-28.endive' });
    res.end(body);
  }

  // ---------------------------------------------------------------- webhooks

  private emit(type: string, object: unknown): void {
    const { webhookUrl, webhookSecret } = this.options;
    if (!webhookUrl || !webhookSecret) return;
    const payload = JSON.stringify(LocalStripe.event(type, structuredClone(object)));
    const delivery = this.deliver(webhookUrl, webhookSecret, payload).finally(() => this.webhooksInFlight.delete(delivery));
    this.webhooksInFlight.add(delivery);
  }

  /** Posts a signed event; retried a few times (Stripe retries for days) until a 2xx. */
  private async deliver(url: string, secret: string, payload: string): Promise<void> {
    for (let attempt = 0; attempt < 5 && this.server; attempt++) {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Stripe-Signature': LocalStripe.sign(payload, secret) },
          body: payload,
          signal: AbortSignal.timeout(5_000),
        });
        if (res.ok) {
          this.webhooksDelivered += 1;
          return;
        }
      } catch {
        // receiver down: retry
      }
      await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
    }
    this.webhookFailures += 1;
  }
}

/** `node build/app/payments/local-stripe.js [port]`: the server on its own (stripe-mock's port by default). */
if (require.main === module) {
  const server = new LocalStripe({
    port: Number(process.argv[2] ?? 12111),
    webhookUrl: process.env.LOCAL_STRIPE_WEBHOOK_URL,
    webhookSecret: process.env.STRIPE_WEBHOOK_SECRET,
  });
  void server.start().then((url) => process.stdout.write(`local Stripe-compatible server (stands in for Stripe) on ${url}\n`));
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
  process.once('SIGINT', () => void server.close().then(() => process.exit(0)));
}
