import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { RateLimitedError } from '../domain/errors';
import { normalizeEmail } from '../domain/user';
import { rateLimited, type RateLimiterName } from '../observability/metrics';
import type { AuditLog, RateLimiter, RateLimiterFactory, RateLimitPolicy, RateLimitVerdict } from '../ports';
import { LeasedRateLimiter } from './rate-limit-lease';
import { callContext } from './routes/context';
import type { HeaderList } from './security-headers';
import { setBounded } from '../bounded-map';

export interface RateLimitPolicies {
  /** Failed logins per email + client IP; a successful login clears the count. */
  loginFailures: RateLimitPolicy;
  /** Registration attempts per client IP. */
  register: RateLimitPolicy;
  /** POST/PATCH/DELETE per signed-in user. */
  writes: RateLimitPolicy;
  /** Every request without a valid access token, per client IP (counted in leases, see LeasedRateLimiter). */
  anonymous: RateLimitPolicy;
}

export interface RateLimitDeps {
  limiters: RateLimiterFactory;
  policies: RateLimitPolicies;
  /** The user a request's bearer token names, when its signature is valid. */
  subjectOf(token: string): string | null;
  audit: AuditLog;
}

export interface RateLimitMiddleware {
  /** Before body parsing: anonymous, per-user writes, registrations. */
  requests: RequestHandler;
  /** After body parsing (needs the email): failed logins. */
  logins: RequestHandler;
  /** The anonymous limiter (null when off), shared with the read fast path. */
  anonymous: LeasedRateLimiter | null;
  /**
   * The RateLimit-* headers of the user's writes limit as this process last saw them, for an
   * answer that does not consult the limiter (a sold-out refusal, which takes no point): [] when
   * the limit is off; null when the limiter has to be asked (no verdict seen in the current
   * window, or the last one left no point: the next write may be refused).
   */
  knownWritesHeaders(userId: string): HeaderList | null;
  /**
   * The same limits for the GraphQL and gRPC edges, which answer in their own format: one call
   * without a valid access token (per client IP, REST's anonymous limit), and one write by a
   * signed-in user (a mutation field or a writing RPC costs what its REST twin costs, from the
   * same budget). Both throw RateLimitedError when refused.
   */
  anonymousCall(ip: string): Promise<void>;
  writeCall(userId: string): Promise<void>;
}

/** Users whose last writes verdict this process remembers at most (the oldest is forgotten first). */
const KNOWN_WRITERS_MAX = 10_000;

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/;

/**
 * rate-limiter-flexible behind the RateLimiter port (Redis, or in-process when Redis is down or
 * not configured). Every limited answer carries RateLimit-Limit/-Remaining/-Reset/-Policy of the
 * tightest limit that applied; a refusal is 429 problem+json with Retry-After. Client IPs come
 * from `req.ip`, which honours TRUST_PROXY (set it to the ingress hops, never blindly `true`).
 */
export function rateLimits(deps: RateLimitDeps): RateLimitMiddleware {
  const make = (name: RateLimiterName, policy: RateLimitPolicy) => (policy.points > 0 ? deps.limiters.create(name, policy) : null);
  const login = make('login', deps.policies.loginFailures);
  const register = make('register', deps.policies.register);
  const writes = make('writes', deps.policies.writes);
  // The busiest limiter by far (every public read): points come from Redis in leases.
  const shared = make('anonymous', deps.policies.anonymous);
  const anonymous = shared && new LeasedRateLimiter(shared);
  /** userId → the last writes verdict this process got, with the end of its window. */
  const knownWriters = new Map<string, { verdict: RateLimitVerdict; resetAt: number }>();
  const noHeaders: HeaderList = [];

  const knownWritesHeaders = (userId: string): HeaderList | null => {
    if (!writes) return noHeaders;
    const known = knownWriters.get(userId);
    const now = Date.now();
    if (!known || now >= known.resetAt || !known.verdict.allowed || known.verdict.remaining <= 0) return null;
    return rateLimitHeaders(writes.policy, { ...known.verdict, resetMs: known.resetAt - now });
  };
  const rememberWrites = (userId: string, verdict: RateLimitVerdict) => {
    setBounded(knownWriters, userId, { verdict, resetAt: Date.now() + verdict.resetMs }, KNOWN_WRITERS_MAX);
  };

  const requests: RequestHandler = async (req, res, next) => {
    const checks: Array<[RateLimiterName, RateLimiter, string]> = [];
    const header = req.get('authorization');
    const token = header ? BEARER.exec(header)?.[1] : undefined;
    const userId = token ? deps.subjectOf(token) : null;
    const ip = clientIp(req);
    if (!userId && anonymous && !(register && req.method === 'POST' && req.path === '/auth/register')) {
      // The common case, answered from this process's lease without waiting.
      const verdict = anonymous.tryConsume(ip);
      if (verdict?.allowed) {
        advertise(res, anonymous.policy, verdict);
        return next();
      }
    }
    if (userId) {
      if (writes && WRITE_METHODS.has(req.method)) checks.push(['writes', writes, userId]);
    } else if (anonymous) {
      checks.push(['anonymous', anonymous, ip]);
    }
    if (register && req.method === 'POST' && req.path === '/auth/register') checks.push(['register', register, ip]);
    if (checks.length === 0) return next();
    try {
      const verdicts = await Promise.all(checks.map(async ([name, limiter, key]) => [name, limiter, await limiter.consume(key)] as const));
      for (const [name, , verdict] of verdicts) if (name === 'writes' && userId) rememberWrites(userId, verdict);
      const refused = verdicts.find(([, , verdict]) => !verdict.allowed);
      if (refused) return next(refuse(res, refused[0], refused[1].policy, refused[2]));
      for (const [, limiter, verdict] of verdicts) advertise(res, limiter.policy, verdict);
      next();
    } catch (error) {
      next(error);
    }
  };

  const logins: RequestHandler = async (req, res, next) => {
    const email = (req.body as { email?: unknown } | undefined)?.email;
    if (!login || req.method !== 'POST' || req.path !== '/auth/login' || typeof email !== 'string') return next();
    // Email + IP: a guesser is stopped without letting anyone lock a victim out from elsewhere.
    const key = createHash('sha256').update(`${normalizeEmail(email)}\u0000${clientIp(req)}`).digest('base64url');
    try {
      // Taken before the password is checked, so parallel guesses cannot all slip through.
      const verdict = await login.consume(key);
      if (!verdict.allowed) {
        if (verdict.consumed === verdict.limit + 1) {
          await deps.audit.record({ actorId: null, action: 'auth.login_locked', target: normalizeEmail(email).slice(0, 254), details: { failures: verdict.limit }, ...callContext(req) });
        }
        return next(refuse(res, 'login', login.policy, verdict));
      }
      advertise(res, login.policy, verdict);
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

  const anonymousCall = async (ip: string) => {
    if (!anonymous) return;
    const verdict = anonymous.tryConsume(ip) ?? (await anonymous.consume(ip));
    if (!verdict.allowed) {
      rateLimited.inc({ limiter: 'anonymous' });
      throw new RateLimitedError(seconds(verdict.resetMs));
    }
  };
  const writeCall = async (userId: string) => {
    if (!writes) return;
    const verdict = await writes.consume(userId);
    rememberWrites(userId, verdict);
    if (!verdict.allowed) {
      rateLimited.inc({ limiter: 'writes' });
      throw new RateLimitedError(seconds(verdict.resetMs));
    }
  };

  return { requests, logins, anonymous, knownWritesHeaders, anonymousCall, writeCall };
}

function clientIp(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
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

/** Sets the RateLimit-* headers unless a tighter limit already did. */
function advertise(res: Response, policy: RateLimitPolicy, verdict: RateLimitVerdict, force = false): void {
  const shown = res.locals.rateLimit as RateLimitVerdict | undefined;
  if (!force && shown && shown.remaining <= verdict.remaining) return;
  res.locals.rateLimit = verdict;
  for (const [name, value] of rateLimitHeaders(policy, verdict)) res.setHeader(name, value);
}

function refuse(res: Response, limiter: RateLimiterName, policy: RateLimitPolicy, verdict: RateLimitVerdict): RateLimitedError {
  rateLimited.inc({ limiter });
  advertise(res, policy, verdict, true);
  return new RateLimitedError(seconds(verdict.resetMs));
}
