import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler, Response } from 'express';
import { RateLimitedError, SoldOutError } from '../domain/errors';
import { normalizeEmail } from '../domain/user';
import { rateLimited, type RateLimiterName } from '../observability/metrics';
import type { AuditLog, RateLimiter, RateLimiterFactory, RateLimitPolicy, RateLimitVerdict } from '../ports';
import { actorOf } from './authentication';
import { LeasedRateLimiter } from './rate-limit-lease';
import { callContext } from './routes/context';
import type { HeaderList } from './security-headers';
import { LRUCache } from 'lru-cache';

export interface RateLimitPolicies {
  /** Failed logins per email + client IP; a successful login clears the count. */
  loginFailures: RateLimitPolicy;
  /** Registration attempts per client IP. */
  register: RateLimitPolicy;
  /** POST/PATCH/DELETE per signed-in user. */
  writes: RateLimitPolicy;
  /** Every request without a valid access token, per client IP (counted in leases, see LeasedRateLimiter). */
  anonymous: RateLimitPolicy;
  /** Every other request (a read: not POST/PUT/PATCH/DELETE) per signed-in user (counted in leases too). */
  reads: RateLimitPolicy;
}

export interface RateLimitDeps {
  limiters: RateLimiterFactory;
  policies: RateLimitPolicies;
  /** The client address (TRUST_PROXY applied): clientIpOf. */
  clientIp: (req: IncomingMessage) => string;
  audit: AuditLog;
}

export interface RateLimitMiddleware {
  /** Before body parsing: anonymous, per-user reads and writes, registrations. */
  requests: RequestHandler;
  /** After body parsing (needs the email): failed logins. */
  logins: RequestHandler;
  /** The anonymous limiter (null when off). */
  anonymous: LeasedRateLimiter | null;
  /** The signed-in readers' limiter (null when off). */
  reads: LeasedRateLimiter | null;
  /**
   * The leased limit of a request that is not a registration, as this process's lease answers
   * it without waiting: the anonymous limit (per client IP) without a valid token, the reads
   * limit (per user) for a signed-in read. 'none' when no leased limit applies (a signed-in
   * write, or the limit is off); null when the limiter has to be asked (nothing was taken). The
   * one function both the hot-request stage and the normal path (`requests`) charge reads with.
   */
  leasedVerdict(req: IncomingMessage): { policy: RateLimitPolicy; verdict: RateLimitVerdict } | 'none' | null;
  /**
   * The user's writes verdict as this process last saw it, for an answer that does not consult
   * the limiter (a sold-out refusal, which is free: FREE_REFUSAL): 'off' when the limit is off;
   * null when the limiter has to be asked (no verdict seen in the current window, or the last one
   * left no point: the next write may be refused).
   */
  knownWrites(userId: string): { policy: RateLimitPolicy; verdict: RateLimitVerdict } | 'off' | null;
  /**
   * Gives back the writes point this request took when its answer is a free refusal (see
   * `isFreeRefusal`), before the answer is sent, and shows the limit as it now stands.
   */
  giveBack(res: Response): Promise<void>;
  /**
   * The same limits for the GraphQL and gRPC edges, which answer in their own format: one call
   * without a valid access token (per client IP, REST's anonymous limit), one read by a
   * signed-in user (a GraphQL request, a reading RPC: REST's reads limit, the same budget as
   * REST's GETs) and one write by a signed-in user (a mutation field or a writing RPC costs what
   * its REST twin costs, from the same budget; `giveBack` when its answer is a free refusal, as
   * REST does). Each throws RateLimitedError when refused.
   */
  anonymousCall(ip: string): Promise<void>;
  readCall(userId: string): Promise<void>;
  writeCall(userId: string): Promise<WriteCharge>;
}

/** The writes point an edge call took. */
export interface WriteCharge {
  giveBack(): Promise<void>;
}

/**
 * The refusal-charge rule. A write costs a point of the user's writes limit when it is taken;
 * a refusal that did no work costs what it cost: nothing. Today that is the sold-out refusal
 * (409 …/sold-out), whichever path answers it: the hot-request stage answers it from this
 * process's seat marker without taking the point, the normal path takes the point first (so
 * parallel requests cannot slip past the limit) and gives it back before it answers. The limit
 * still applies: a user with no point left gets 429 before any 409 on both paths. Every other
 * refusal (400, 404, 409 event ended, 422 Idempotency-Key reused) keeps its point: it asked for
 * work (a parse, a lookup, a statement) that was done.
 */
export function isFreeRefusal(error: unknown): boolean {
  return error instanceof SoldOutError;
}

/** Users whose last writes verdict this process remembers at most (the oldest is forgotten first). */
const KNOWN_WRITERS_MAX = 10_000;

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * rate-limiter-flexible behind the RateLimiter port (Redis, or in-process when Redis is down or
 * not configured). Every limited answer carries RateLimit-Limit/-Remaining/-Reset/-Policy of the
 * tightest limit that applied; a refusal is 429 problem+json with Retry-After. The user is the
 * one the authentication stage found (a revoked, expired or garbage token is anonymous: the
 * client IP's limit); a signed-in user's reads take the reads limit, their writes the writes limit. Client IPs come from
 * `clientIp`, which honours TRUST_PROXY (set it to the proxy hops that append to X-Forwarded-For: the gateway's Envoy, 1; never blindly `true`).
 */
export function rateLimits(deps: RateLimitDeps): RateLimitMiddleware {
  const make = (name: RateLimiterName, policy: RateLimitPolicy) => (policy.points > 0 ? deps.limiters.create(name, policy) : null);
  const login = make('login', deps.policies.loginFailures);
  const register = make('register', deps.policies.register);
  // The busiest limiters (every read, every booking): points come from Redis in leases of 2 % of
  // the budget (leaseSize: below 100 points, as the default 60 writes a minute, every request still asks Redis).
  const leased = (name: 'anonymous' | 'reads' | 'writes', policy: RateLimitPolicy) => {
    const shared = make(name, policy);
    return shared && new LeasedRateLimiter(shared);
  };
  const writes = leased('writes', deps.policies.writes);
  const anonymous = leased('anonymous', deps.policies.anonymous);
  const reads = leased('reads', deps.policies.reads);
  /** userId → the last writes verdict this process got, with the end of its window. */
  const knownWriters = new LRUCache<string, { verdict: RateLimitVerdict; resetAt: number }>({ max: KNOWN_WRITERS_MAX });
  const clientIp = deps.clientIp;
  /** The writes point a request took (res → who and the verdict), until its answer is known. */
  const charges = new WeakMap<ServerResponse, { userId: string; verdict: RateLimitVerdict; resetAt: number }>();

  const knownWrites = (userId: string) => {
    if (!writes) return 'off' as const;
    const known = knownWriters.get(userId);
    const now = Date.now();
    if (!known || now >= known.resetAt || !known.verdict.allowed || known.verdict.remaining <= 0) return null;
    return { policy: writes.policy, verdict: { ...known.verdict, resetMs: known.resetAt - now } };
  };
  const rememberWrites = (userId: string, verdict: RateLimitVerdict, resetAt = Date.now() + verdict.resetMs) => {
    knownWriters.set(userId, { verdict, resetAt });
    return resetAt;
  };

  const giveBack = async (res: Response) => {
    const charge = charges.get(res);
    if (!charge || !writes) return;
    charges.delete(res);
    await writes.refund(charge.userId).catch(() => undefined);
    const { verdict } = charge;
    const now = Date.now();
    const back: RateLimitVerdict = {
      ...verdict,
      consumed: Math.max(0, verdict.consumed - 1),
      remaining: Math.min(verdict.limit, verdict.remaining + 1),
      resetMs: Math.max(0, charge.resetAt - now),
    };
    rememberWrites(charge.userId, back, charge.resetAt);
    // The writes limit is the one shown on a signed-in write (the only limit that applied).
    if (res.locals.rateLimit === verdict) applyRateLimitHeaders(res, writes.policy, back, true);
  };

  /** The reads-side leased limit a request is charged, with its key: a signed-in write has none (it takes its writes point). */
  const leasedLimit = (req: IncomingMessage): [RateLimiterName, LeasedRateLimiter, string] | null => {
    const userId = actorOf(req)?.userId;
    if (userId) return reads && !WRITE_METHODS.has(req.method ?? '') ? ['reads', reads, userId] : null;
    return anonymous && ['anonymous', anonymous, clientIp(req)];
  };
  const leasedVerdict = (req: IncomingMessage) => {
    const limit = leasedLimit(req);
    if (!limit) return 'none' as const;
    const [, limiter, key] = limit;
    const verdict = limiter.tryConsume(key);
    // The lease has to be renewed, or the answer is 429: the limiter does both.
    return verdict?.allowed ? { policy: limiter.policy, verdict } : null;
  };

  const requests: RequestHandler = async (req, res, next) => {
    const checks: Array<[RateLimiterName, RateLimiter, string]> = [];
    const userId = actorOf(req)?.userId ?? null;
    const ip = clientIp(req);
    const registering = register && req.method === 'POST' && req.path === '/auth/register';
    const limit = leasedLimit(req);
    if (limit && !registering) {
      // The common case (a read), answered from this process's lease without waiting.
      const quick = leasedVerdict(req);
      if (quick !== 'none' && quick) {
        applyRateLimitHeaders(res, quick.policy, quick.verdict);
        return next();
      }
    }
    if (limit) checks.push(limit);
    if (userId && writes && WRITE_METHODS.has(req.method)) checks.push(['writes', writes, userId]);
    if (registering && register) checks.push(['register', register, ip]);
    if (checks.length === 0) return next();
    try {
      const verdicts = await Promise.all(checks.map(async ([name, limiter, key]) => [name, limiter, await limiter.consume(key)] as const));
      for (const [name, , verdict] of verdicts) {
        if (name !== 'writes' || !userId) continue;
        const resetAt = rememberWrites(userId, verdict);
        if (verdict.allowed) charges.set(res, { userId, verdict, resetAt });
      }
      const refused = verdicts.find(([, , verdict]) => !verdict.allowed);
      if (refused) return next(refuse(res, refused[0], refused[1].policy, refused[2]));
      for (const [, limiter, verdict] of verdicts) applyRateLimitHeaders(res, limiter.policy, verdict);
      next();
    } catch (error) {
      next(error);
    }
  };

  const logins: RequestHandler = async (req, res, next) => {
    const email = (req.body as { email?: unknown } | undefined)?.email;
    if (!login || req.method !== 'POST' || req.path !== '/auth/login' || typeof email !== 'string') return next();
    // Email + IP: a guesser is stopped without letting anyone lock a victim out from elsewhere.
    const key = createHash('sha256')
      .update(`${normalizeEmail(email)}\u0000${clientIp(req)}`)
      .digest('base64url');
    try {
      // Taken before the password is checked, so parallel guesses cannot all slip through.
      const verdict = await login.consume(key);
      if (!verdict.allowed) {
        if (verdict.consumed === verdict.limit + 1) {
          await deps.audit.record({
            actorId: null,
            action: 'auth.login_locked',
            target: normalizeEmail(email).slice(0, 254),
            details: { failures: verdict.limit },
            ...callContext(req),
          });
        }
        return next(refuse(res, 'login', login.policy, verdict));
      }
      applyRateLimitHeaders(res, login.policy, verdict);
      res.once('finish', () => {
        // Only wrong passwords count: a success clears the slate, anything else gives the point back.
        if (res.statusCode === 200) void login.reset(key).catch(() => undefined);
        else if (res.statusCode !== 401) void login.refund(key).catch(() => undefined);
      });
      next();
    } catch (error) {
      next(error);
    }
  };

  const leasedCall = async (name: 'anonymous' | 'reads', limiter: LeasedRateLimiter | null, key: string) => {
    if (!limiter) return;
    const verdict = limiter.tryConsume(key) ?? (await limiter.consume(key));
    if (!verdict.allowed) {
      rateLimited.inc({ limiter: name });
      throw new RateLimitedError(seconds(verdict.resetMs));
    }
  };
  const anonymousCall = (ip: string) => leasedCall('anonymous', anonymous, ip);
  const readCall = (userId: string) => leasedCall('reads', reads, userId);
  const free: WriteCharge = { giveBack: async () => undefined };
  const writeCall = async (userId: string): Promise<WriteCharge> => {
    if (!writes) return free;
    const verdict = await writes.consume(userId);
    const resetAt = rememberWrites(userId, verdict);
    if (!verdict.allowed) {
      rateLimited.inc({ limiter: 'writes' });
      throw new RateLimitedError(seconds(verdict.resetMs));
    }
    return {
      giveBack: async () => {
        await writes.refund(userId).catch(() => undefined);
        const back: RateLimitVerdict = {
          ...verdict,
          consumed: Math.max(0, verdict.consumed - 1),
          remaining: Math.min(verdict.limit, verdict.remaining + 1),
          resetMs: Math.max(0, resetAt - Date.now()),
        };
        rememberWrites(userId, back, resetAt);
      },
    };
  };

  return { requests, logins, anonymous, reads, leasedVerdict, knownWrites, giveBack, anonymousCall, readCall, writeCall };
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** The RateLimit-* headers (IETF draft) of a verdict. */
export function rateLimitHeaders(policy: RateLimitPolicy, verdict: RateLimitVerdict): HeaderList {
  return [
    ['RateLimit-Limit', String(verdict.limit)],
    ['RateLimit-Remaining', String(verdict.remaining)],
    ['RateLimit-Reset', String(seconds(verdict.resetMs))],
    ['RateLimit-Policy', `${policy.points};w=${seconds(policy.windowMs)}`],
  ];
}

/**
 * The one place RateLimit-* headers are set (every path: the limiter, the hot-request stage, a
 * refund): unless a tighter limit already did, or `force`.
 */
export function applyRateLimitHeaders(res: Response, policy: RateLimitPolicy, verdict: RateLimitVerdict, force = false): void {
  const shown = res.locals.rateLimit as RateLimitVerdict | undefined;
  if (!force && shown && shown.remaining <= verdict.remaining) return;
  res.locals.rateLimit = verdict;
  for (const [name, value] of rateLimitHeaders(policy, verdict)) res.setHeader(name, value);
}

function refuse(res: Response, limiter: RateLimiterName, policy: RateLimitPolicy, verdict: RateLimitVerdict): RateLimitedError {
  rateLimited.inc({ limiter });
  applyRateLimitHeaders(res, policy, verdict, true);
  return new RateLimitedError(seconds(verdict.resetMs));
}
