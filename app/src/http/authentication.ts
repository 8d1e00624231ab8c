/**
 * Authentication, once per request, in one place: the API router's `authentication` stage reads
 * the Authorization header with the one Bearer parser and asks AuthService (signature, expiry,
 * token version) once; the outcome is carried on the request. The rate limiter keys on its user,
 * the hot-request stage decides with it, and a route that needs a user takes it with
 * `requireActor` (or the failure it recorded: 401). A public route ignores a bad token.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { UnauthenticatedError } from '../domain/errors';
import type { Actor } from '../domain/user';

/** `Authorization: Bearer <token>`: the token's characters (RFC 6750 b64token), at most 4,096. */
const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/;

const MISSING = 'sign in: send Authorization: Bearer <access token>';
const MALFORMED = 'malformed Authorization header';

/** The one Bearer parser: the token, or why there is none (the 401's detail). */
export function bearerToken(header: string | undefined): { token: string } | { missing: string } {
  if (header === undefined) return { missing: MISSING };
  const token = BEARER.exec(header)?.[1];
  return token ? { token } : { missing: MALFORMED };
}

/**
 * What the authentication stage found: the caller, or why there is none (raised on user routes:
 * the error authenticate threw, or the 401 made from `missing` only then, so an anonymous
 * request costs no Error).
 */
type RequestAuth = { actor: Actor } | { actor: null; error: unknown } | { actor: null; missing: string };

const outcomes = new WeakMap<IncomingMessage, RequestAuth>();

/**
 * Mounted once, at the top of the API router (and run by the pre-router stage, with the same
 * instance, on the requests it may decide): a request whose outcome is recorded goes on.
 */
export function authentication(authenticate: (token: string) => Promise<Actor>): RequestHandler {
  return (req, _res, next) => {
    if (outcomes.has(req)) return next();
    const parsed = bearerToken(req.headers.authorization);
    if ('missing' in parsed) {
      outcomes.set(req, { actor: null, missing: parsed.missing });
      return next();
    }
    authenticate(parsed.token).then(
      (actor) => {
        outcomes.set(req, { actor });
        next();
      },
      (error: unknown) => {
        outcomes.set(req, { actor: null, error });
        next();
      },
    );
  };
}

/** The caller the authentication stage found (null: anonymous, a bad token included). */
export function actorOf(req: IncomingMessage): Actor | null {
  return outcomes.get(req)?.actor ?? null;
}

/** The caller, or the failure the authentication stage met (401, or the token store's outage). */
export function requireActor(req: IncomingMessage): Actor {
  const outcome = outcomes.get(req);
  if (!outcome) throw new Error('authentication stage not mounted in front of this route');
  if (outcome.actor) return outcome.actor;
  if ('missing' in outcome) throw new UnauthenticatedError(outcome.missing);
  throw outcome.error;
}
